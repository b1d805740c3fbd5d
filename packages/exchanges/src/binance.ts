// Binance spot WebSocket market streams, "Diff. Depth Stream" and "How to manage a local order book
// correctly": https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
// (GitHub source: binance/binance-spot-api-docs web-socket-streams.md). REST snapshot: `GET /api/v3/depth`,
// https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#order-book
import { TICK_DEPTH, type Level, type Pair, type Tick } from '@arb/contracts'
import { isCrossed } from './book.js'
import { pairBook, type PairBook } from './pair-book.js'
import { CONTROL, decimalLevels, epochMs, excerpt, failure, isRecord } from './parse.js'
import { SnapshotSync } from './snapshot-sync.js'
import type { AdapterSession, ExchangeAdapter, FrameResult } from './types.js'

export { MAX_BUFFERED_DIFFS, MAX_STALE_SNAPSHOTS } from './snapshot-sync.js'

/**
 * Binance spot. One connection to the raw-stream endpoint `/ws` and one live `SUBSCRIBE` for every
 * pair's `<symbol>@depth@100ms`: the order-book page opens the raw endpoint, raw payloads name
 * their symbol (`s`), and the subscribe reply (`{"result":null,"id":1}`, or `{"code","msg"}`)
 * confirms or refuses it, where streams named in a combined-stream URL get no reply at all. The
 * combined wrapper `{"stream","data"}` is unwrapped too, so either endpoint works.
 *
 * - Sync (order-book page): buffer the diffs; once the first is buffered, ask the feed for the REST
 *   snapshot. A snapshot with `lastUpdateId + 1 < U` of the first buffered diff misses the changes in
 *   between: fetch again (the page says `lastUpdateId < U`; a snapshot at `U - 1` is exactly the book
 *   the first diff applies to, so it is kept). Then drop buffered diffs with `u <= lastUpdateId` and
 *   apply the rest with the update procedure below.
 * - Update procedure (same page): an event with `u <= ` the book's id is old and ignored; one with
 *   `U > id + 1` means events were missed: resync (the feed reconnects and a fresh session syncs
 *   again). Otherwise the quantities are absolute, `"0"` removes a level, and the book's id becomes
 *   `u`. So the first event after the snapshot satisfies `U <= lastUpdateId + 1 <= u`, and every later
 *   one `U = previous u + 1`. No checksum exists; a crossed book also resyncs.
 * - seq: the book's update id (`u`, or `lastUpdateId` for the tick that completes the sync): the
 *   exchange's own sequence, the same on every replica for the same book.
 * - Keepalive (General WSS information): the server pings every 20 s and closes after a minute
 *   without a pong; `ws` answers pings itself with the ping's payload. A connection lives at most
 *   24 h (the feed reconnects), and `serverShutdown` announces a planned disconnect: resync, to
 *   reconnect before it. No application-level ping exists.
 */
export const binance: ExchangeAdapter = {
  id: 'binance',
  url: 'wss://stream.binance.com:9443/ws',
  docs: 'https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams',
  // BTCEUR is listed; Binance has no BTCUSD spot market (USD-stablecoin pairs such as BTC-USDT work).
  defaultPairs: ['BTC-EUR'],
  // UNVERIFIED: binance.com/en/fee/schedule was not readable here. 0.10% taker for a regular (VIP 0)
  // spot account is what Binance Square posts state (binance-spot samples); FEES overrides it.
  takerFee: 0.001,
  takerFeeSource:
    'unverified: Binance Square posts on https://www.binance.com/en/fee/schedule (regular user spot taker 0.10%, 0.075% paying in BNB); override with the detector FEES env',
  restUrl: 'https://api.binance.com',
  snapshotUrl: (pair, restBaseUrl) =>
    `${restBaseUrl.replace(/\/+$/, '')}/api/v3/depth?symbol=${symbol(pair)}&limit=${SNAPSHOT_LIMIT}`,
  // A connection carries at most 1024 streams (Websocket Limits).
  endpoints: (pairs, baseUrl) => chunks(pairs, MAX_STREAMS).map((part) => ({ url: baseUrl, pairs: part })),
  // One message: connections may send at most 5 a second, pings and pongs included.
  subscribe: (pairs) => [{ method: 'SUBSCRIBE', params: pairs.map(streamOf), id: SUBSCRIBE_ID }],
  createSession: (pairs) => new BinanceSession(pairs),
}

/** Levels a side in the REST snapshot: request weight 50 (up to 5000 costs 250), deep enough for TICK_DEPTH. */
export const SNAPSHOT_LIMIT = 1000
const MAX_STREAMS = 1024
const SUBSCRIBE_ID = 1

/** `BTC-EUR` → `BTCEUR` (stream names use it lower-cased). */
export const symbol = (pair: Pair): string => pair.replace('-', '')

// Binance's quote assets that matter here; longest first, so `BTCUSDT` is not read as `BTCUS-DT`.
const QUOTES = ['FDUSD', 'USDT', 'USDC', 'TUSD', 'EUR', 'GBP', 'TRY', 'BRL', 'JPY', 'BTC', 'ETH', 'BNB']

/** `BTCEUR` → `BTC-EUR`; undefined when the symbol does not end in a known quote asset. */
export const pairOf = (sym: string): Pair | undefined => {
  const quote = QUOTES.find((q) => sym.length > q.length && sym.endsWith(q))
  return quote === undefined ? undefined : `${sym.slice(0, -quote.length)}-${quote}`
}

/** `BTC-EUR` → `btceur@depth@100ms`. */
export const streamOf = (pair: Pair): string => `${symbol(pair).toLowerCase()}@depth@100ms`

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** One parsed `depthUpdate`. */
interface DepthEvent {
  readonly first: number
  readonly last: number
  readonly exchangeTs: number | null
  readonly bids: Level[]
  readonly asks: Level[]
}

interface SymbolBook extends PairBook {
  readonly sync: SnapshotSync<DepthEvent>
  /** The book's update id once synced. */
  id: number
}

const staleReason = (pair: Pair, count: number): string =>
  `${count} snapshots in a row older than the stream for ${pair}`

class BinanceSession implements AdapterSession {
  readonly #books = new Map<string, SymbolBook>()

  constructor(pairs: readonly Pair[]) {
    for (const pair of pairs) {
      this.#books.set(symbol(pair), { ...pairBook(pair), sync: new SnapshotSync(pair, staleReason), id: 0 })
    }
  }

  onFrame(frame: unknown, receivedTs: number): FrameResult {
    if (!isRecord(frame)) return failure(`not a JSON object: ${excerpt(frame)}`)
    // Combined streams wrap every payload as {"stream": <name>, "data": <payload>}.
    const payload = typeof frame['stream'] === 'string' && isRecord(frame['data']) ? frame['data'] : frame
    if ('result' in payload && 'id' in payload) return CONTROL
    if (typeof payload['code'] === 'number' && typeof payload['msg'] === 'string') {
      return failure(`exchange error ${payload['code']}: ${excerpt(payload['msg'], 200)}`)
    }
    switch (payload['e']) {
      case 'depthUpdate':
        return this.#depth(payload as Partial<RawDepthUpdate>, receivedTs)
      case 'serverShutdown':
        return { kind: 'resync', reason: 'serverShutdown: the server is about to close this connection' }
      default:
        return failure(`unknown message ${excerpt(payload)}`)
    }
  }

  onSnapshot(pair: Pair, body: unknown, receivedTs: number): FrameResult {
    const state = this.#books.get(symbol(pair))
    if (state === undefined) return failure(`snapshot for unsubscribed pair ${pair}`)
    state.sync.arrived()
    if (state.ready) return CONTROL
    const snapshot = isRecord(body) ? (body as Partial<RawSnapshot>) : {}
    const lastUpdateId = snapshot.lastUpdateId
    const bids = decimalLevels(snapshot.bids)
    const asks = decimalLevels(snapshot.asks)
    if (!Number.isSafeInteger(lastUpdateId) || bids === undefined || asks === undefined) {
      return { kind: 'resync', reason: `bad snapshot for ${pair}: ${excerpt(body)}` }
    }
    const id = lastUpdateId as number
    const firstBuffered = state.sync.first
    if (firstBuffered !== undefined && id + 1 < firstBuffered.first) return state.sync.stale()
    state.book.snapshot(bids, asks)
    state.id = id
    state.ready = true
    let exchangeTs: number | null = null
    for (const event of state.sync.drain()) {
      const outcome = apply(state, event)
      if (outcome === 'gap') return gap(state, event)
      if (outcome === 'applied') exchangeTs = event.exchangeTs
    }
    const top = state.book.top(TICK_DEPTH)
    if (isCrossed(top.bids, top.asks)) return { kind: 'resync', reason: `crossed book for ${pair} after the snapshot` }
    state.gate.pass(top.bids, top.asks, receivedTs)
    return { kind: 'ticks', ticks: [tick(state, exchangeTs, receivedTs, top)] }
  }

  #depth(raw: Partial<RawDepthUpdate>, receivedTs: number): FrameResult {
    const state = typeof raw.s === 'string' ? this.#books.get(raw.s) : undefined
    if (state === undefined) return failure(`depthUpdate for unsubscribed symbol ${excerpt(raw.s)}`)
    const event = parseDepth(raw)
    // An unreadable diff is a lost diff: the book would silently miss its changes.
    if (event === undefined) return { kind: 'resync', reason: `bad depthUpdate for ${state.pair}` }
    if (!state.ready) return state.sync.buffer(event)
    const outcome = apply(state, event)
    if (outcome === 'gap') return gap(state, event)
    if (outcome === 'old') return { kind: 'ticks', ticks: [] }
    const top = state.book.top(TICK_DEPTH)
    if (isCrossed(top.bids, top.asks)) return { kind: 'resync', reason: `crossed book for ${state.pair}` }
    if (!state.gate.pass(top.bids, top.asks, receivedTs)) return { kind: 'ticks', ticks: [] }
    return { kind: 'ticks', ticks: [tick(state, event.exchangeTs, receivedTs, top)] }
  }
}

/** The update procedure of the order-book page, on a synced book. */
const apply = (state: SymbolBook, event: DepthEvent): 'applied' | 'old' | 'gap' => {
  if (event.last <= state.id) return 'old'
  if (event.first > state.id + 1) return 'gap'
  for (const [price, size] of event.bids) state.book.set('bid', price, size)
  for (const [price, size] of event.asks) state.book.set('ask', price, size)
  state.id = event.last
  return 'applied'
}

const gap = (state: SymbolBook, event: DepthEvent): FrameResult => ({
  kind: 'resync',
  reason: `update ids skipped for ${state.pair}: book at ${state.id}, next event starts at ${event.first}`,
  cause: 'gap',
})

const tick = (
  state: SymbolBook,
  exchangeTs: number | null,
  receivedTs: number,
  top: { bids: Level[]; asks: Level[] },
): Tick => ({
  v: 1,
  exchange: 'binance',
  pair: state.pair,
  seq: String(state.id),
  exchangeTs,
  receivedTs,
  bids: top.bids,
  asks: top.asks,
})

const parseDepth = (raw: Partial<RawDepthUpdate>): DepthEvent | undefined => {
  const { U: first, u: last } = raw
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || (first as number) > (last as number)) {
    return undefined
  }
  const bids = decimalLevels(raw.b)
  const asks = decimalLevels(raw.a)
  if (bids === undefined || asks === undefined) return undefined
  const exchangeTs = typeof raw.E === 'number' ? epochMs(raw.E) : null
  return { first: first as number, last: last as number, exchangeTs, bids, asks }
}

/** `depthUpdate` (Diff. Depth Stream): levels are `[price, quantity]` decimal strings, quantity absolute. */
interface RawDepthUpdate {
  e: 'depthUpdate'
  /** Event time, epoch ms. */
  E: number
  s: string
  /** First and final update id in the event. */
  U: number
  u: number
  b: [string, string][]
  a: [string, string][]
}

/** `GET /api/v3/depth` body. */
interface RawSnapshot {
  lastUpdateId: number
  bids: [string, string][]
  asks: [string, string][]
}
