// Bitfinex WebSocket API v2, public Books: https://docs.bitfinex.com/reference/ws-public-books
// (general, info codes, conf flags: https://docs.bitfinex.com/docs/ws-general;
// checksum: https://docs.bitfinex.com/docs/ws-websocket-checksum)
import { TICK_DEPTH, type Pair, type Tick } from '@arb/contracts'
import { isCrossed, type Side } from './book.js'
import { crc32 } from './kraken.js'
import { pairBook, type PairBook } from './pair-book.js'
import { CONTROL, excerpt, failure, isRecord } from './parse.js'
import { fnv1a64 } from './seq.js'
import type { AdapterSession, ExchangeAdapter, FrameResult, ResyncCause } from './types.js'

/**
 * Bitfinex v2. Symbols are `t` + BASE + QUOTE (`tBTCEUR`), with a `:` between them when a code is
 * not three letters long (`tTESTBTC:TESTUSD`). Channel messages are arrays keyed by the `chanId` of
 * the `subscribed` event; a P0 book is `[PRICE, COUNT, AMOUNT]` levels, AMOUNT > 0 a bid, < 0 an ask,
 * COUNT 0 a delete. The server keeps the subscribed `len` levels a side and sends the deletes itself.
 *
 * - Integrity: the `conf` event sent before subscribing turns on SEQ_ALL (65536: every channel
 *   message, heartbeats included, ends with a per-connection sequence number) and OB_CHECKSUM
 *   (131072: a `[chanId, "cs", CRC32, seq]` message after book changes). A sequence gap, a checksum
 *   mismatch, an update before its snapshot or an unreadable update is a `resync`.
 * - Checksum (checksum page): CRC32, signed, of the top 25 bids and asks interleaved (bid, ask, bid,
 *   …), each as `price:amount` with the ask amounts negative, joined by `:`. Numbers are the text the
 *   server sent: Bitfinex's own client keeps a lossless string copy of the book for this
 *   (bitfinex-api-node PR #516), and a price the server prints in e-notation (`1.7e-7`) is hashed in
 *   e-notation (bfx-api-node-models issue #70), whatever that library's numeric path does.
 * - Ticks are emitted as updates arrive; the `cs` that follows verifies the book they came from.
 * - Info events: 20051 (server restart) asks for a reconnect: `resync`. 20060 (maintenance start,
 *   or `platform.status` 0 on connect) pauses ticks, because nothing can be traded; 20061
 *   (maintenance end) is a `resync`, as the docs advise subscribing again.
 * - seq: the exchange's sequence is per connection, so two replicas number the same update
 *   differently; `seq` is the chained hash of `seq.ts` over the book payload (chanId and sequence
 *   number left out), chained per pair, hashed again with the top of the book it leaves: one-level
 *   updates repeat, and two ticks with one id would be stored once.
 * - Liveness: `hb` on a quiet channel, acks, `cs` and info are control. The feed's protocol
 *   pings and stale timeout cover a dead link; the application `ping` event is optional and not sent.
 */
export const bitfinex: ExchangeAdapter = {
  id: 'bitfinex',
  url: 'wss://api-pub.bitfinex.com/ws/2',
  docs: 'https://docs.bitfinex.com/reference/ws-public-books',
  defaultPairs: ['BTC-EUR', 'BTC-USD'],
  takerFee: 0.002,
  takerFeeSource:
    'https://www.bitfinex.com/fees (base tier "$0.00 or more traded" over 30 days: taker 0.200%; read from the stored securities variant https://www.bitfinex.com/securities/fees/)',
  endpoints: (pairs, baseUrl) => {
    const out = []
    for (let i = 0; i < pairs.length; i += MAX_CHANNELS)
      out.push({ url: baseUrl, pairs: pairs.slice(i, i + MAX_CHANNELS) })
    return out
  },
  subscribe: (pairs) => [
    { event: 'conf', flags: SEQ_ALL + OB_CHECKSUM },
    ...pairs.map((pair) => ({
      event: 'subscribe',
      channel: 'book',
      symbol: symbol(pair),
      prec: 'P0',
      freq: 'F0',
      len: String(DEPTH),
    })),
  ],
  createSession: (pairs) => new BitfinexSession(pairs),
}

const SEQ_ALL = 65_536
const OB_CHECKSUM = 131_072
/** Subscribed book length; also the levels a side the checksum covers. */
const DEPTH = 25
// At most 25 channels a connection (https://docs.bitfinex.com/docs/ws-public); more pairs get more sockets.
const MAX_CHANNELS = 25
const INFO_RECONNECT = 20_051
const INFO_MAINTENANCE_START = 20_060
const INFO_MAINTENANCE_END = 20_061

/** `BTC-EUR` → `tBTCEUR`; `TESTBTC-TESTUSD` → `tTESTBTC:TESTUSD`. */
export const symbol = (pair: Pair): string => {
  const [base = '', quote = ''] = pair.split('-')
  return base.length === 3 && quote.length === 3 ? `t${base}${quote}` : `t${base}:${quote}`
}

/** `tBTCEUR` → `BTC-EUR`, `tTESTBTC:TESTUSD` → `TESTBTC-TESTUSD`; undefined for anything else (funding `fUSD`). */
export const pairOf = (sym: string): Pair | undefined => {
  const m = /^t([A-Z0-9]+):([A-Z0-9]+)$/.exec(sym) ?? /^t([A-Z0-9]{3})([A-Z0-9]{3})$/.exec(sym)
  return m ? `${m[1]}-${m[2]}` : undefined
}

/** A level's price and signed amount as the server printed them. */
export interface LevelText {
  readonly price: string
  readonly amount: string
}

/** The checksum page's string: top 25 bids and asks interleaved, `price:amount` each, joined by `:`. */
export const checksumText = (bids: readonly LevelText[], asks: readonly LevelText[]): string => {
  const parts: string[] = []
  for (let i = 0; i < DEPTH; i++) {
    const bid = bids[i]
    const ask = asks[i]
    if (bid) parts.push(bid.price, bid.amount)
    if (ask) parts.push(ask.price, ask.amount)
  }
  return parts.join(':')
}

/** Signed CRC32 of `checksumText`, as the `cs` message carries it. */
export const checksum = (bids: readonly LevelText[], asks: readonly LevelText[]): number =>
  crc32(checksumText(bids, asks)) | 0

interface SymbolBook extends PairBook {
  readonly text: Record<Side, Map<number, LevelText>>
}

const resync = (reason: string, cause?: ResyncCause): FrameResult =>
  cause === undefined ? { kind: 'resync', reason } : { kind: 'resync', reason, cause }

class BitfinexSession implements AdapterSession {
  readonly #bySymbol = new Map<string, SymbolBook>()
  readonly #byChannel = new Map<number, SymbolBook>()
  #lastSeq: number | undefined
  #paused = false

  constructor(pairs: readonly Pair[]) {
    for (const pair of pairs) {
      this.#bySymbol.set(symbol(pair), { ...pairBook(pair), text: { bid: new Map(), ask: new Map() } })
    }
  }

  onFrame(frame: unknown, receivedTs: number, raw: string): FrameResult {
    if (Array.isArray(frame)) return this.#channelMessage(frame as unknown[], receivedTs, raw)
    if (!isRecord(frame)) return failure(`not a JSON array or object: ${excerpt(frame)}`)
    switch (frame['event']) {
      case 'info':
        return this.#info(frame as Partial<RawInfo>)
      case 'conf':
        return frame['status'] === 'OK' ? CONTROL : failure(`exchange error: conf refused: ${excerpt(frame)}`)
      case 'subscribed':
        return this.#subscribed(frame as Partial<RawSubscribed>)
      case 'error':
        return failure(`exchange error: ${excerpt(`${String(frame['code'])} ${String(frame['msg'])}`, 200)}`)
      case 'pong':
      case 'unsubscribed':
        return CONTROL
      default:
        return failure(`unknown event ${excerpt(frame['event'])}`)
    }
  }

  #info(frame: Partial<RawInfo>): FrameResult {
    switch (frame.code) {
      case INFO_RECONNECT:
        return resync('exchange asked for a reconnect (info 20051)')
      case INFO_MAINTENANCE_START:
        this.#paused = true
        return CONTROL
      case INFO_MAINTENANCE_END:
        return resync('maintenance ended (info 20061): subscribing again')
    }
    if (isRecord(frame.platform) && frame.platform['status'] === 0) this.#paused = true
    return CONTROL
  }

  #subscribed(frame: Partial<RawSubscribed>): FrameResult {
    const state = typeof frame.symbol === 'string' ? this.#bySymbol.get(frame.symbol) : undefined
    if (frame.channel !== 'book' || state === undefined || typeof frame.chanId !== 'number') {
      return failure(`subscribed to a channel this session did not ask for: ${excerpt(frame)}`)
    }
    this.#byChannel.set(frame.chanId, state)
    return CONTROL
  }

  #channelMessage(frame: unknown[], receivedTs: number, raw: string): FrameResult {
    const seq = frame[frame.length - 1]
    if (frame.length < 3 || typeof frame[0] !== 'number' || !Number.isSafeInteger(seq)) {
      return failure(`channel message without a sequence number: ${excerpt(raw)}`)
    }
    const expected = this.#lastSeq === undefined ? (seq as number) : this.#lastSeq + 1
    if (seq !== expected) return resync(`sequence gap: expected ${expected}, got ${String(seq)}`, 'gap')
    this.#lastSeq = expected
    const state = this.#byChannel.get(frame[0])
    if (state === undefined) return failure(`message on a channel not subscribed to: ${excerpt(raw)}`)
    const body = frame[1]
    if (body === 'hb') return CONTROL
    if (body === 'cs') return this.#verify(state, frame[2])
    if (Array.isArray(body)) return this.#book(state, body as unknown[], receivedTs, raw)
    return failure(`unknown book message type ${excerpt(body)}`)
  }

  #verify(state: SymbolBook, expected: unknown): FrameResult {
    if (!Number.isSafeInteger(expected)) return failure(`checksum message without a checksum for ${state.pair}`)
    if (!state.ready) return resync(`checksum before snapshot for ${state.pair}`)
    const side = (s: Side) =>
      (s === 'bid' ? state.book.bids : state.book.asks)
        .top(DEPTH)
        .map(
          ([price, size]) =>
            state.text[s].get(price) ?? { price: String(price), amount: String(s === 'bid' ? size : -size) },
        )
    const actual = checksum(side('bid'), side('ask'))
    if (actual !== expected) {
      state.ready = false
      return resync(`checksum mismatch for ${state.pair}: got ${actual}, expected ${String(expected)}`, 'checksum')
    }
    return CONTROL
  }

  #book(state: SymbolBook, body: unknown[], receivedTs: number, raw: string): FrameResult {
    const snapshot = body.length === 0 || Array.isArray(body[0])
    if (!snapshot && !state.ready) return resync(`book update before snapshot for ${state.pair}`)
    const levels = parseLevels(snapshot ? body : [body], raw)
    if (levels === undefined) {
      // The sequence number says this update happened; without it the book is wrong for good.
      if (!snapshot) return resync(`bad book update for ${state.pair}`)
      return failure(`bad book snapshot for ${state.pair}`)
    }
    if (snapshot) {
      state.book.clear()
      state.text.bid.clear()
      state.text.ask.clear()
    }
    for (const level of levels) apply(state, level)
    state.ready = true
    const top = state.book.top(TICK_DEPTH)
    if (isCrossed(top.bids, top.asks)) return resync(`crossed book for ${state.pair}`)
    const link = state.chain.next(JSON.stringify(body))
    if (this.#paused) return CONTROL
    if (!state.gate.pass(top.bids, top.asks, receivedTs) && !snapshot) return { kind: 'ticks', ticks: [] }
    // One-level updates repeat: the same two in a row recur within JetStream's duplicate window
    // (5% of simulator ticks in 15 s), and the second tick would be dropped as a duplicate. The book
    // they leave is what differs, and every replica computes the same one.
    const seq = fnv1a64(link + JSON.stringify(top))
    const tick: Tick = { v: 1, exchange: 'bitfinex', pair: state.pair, seq, exchangeTs: null, receivedTs, ...top }
    return { kind: 'ticks', ticks: [tick] }
  }
}

interface ParsedLevel {
  readonly price: number
  readonly count: number
  readonly amount: number
  readonly text: LevelText
}

// COUNT 0 deletes the price on the side AMOUNT's sign names (1 bids, -1 asks).
const apply = (state: SymbolBook, level: ParsedLevel): void => {
  const side: Side = level.amount > 0 ? 'bid' : 'ask'
  if (level.count === 0) {
    state.book.set(side, level.price, 0)
    state.text[side].delete(level.price)
  } else {
    state.book.set(side, level.price, Math.abs(level.amount))
    state.text[side].set(level.price, level.text)
  }
}

// `-0.5`, `60400`, `9.1e-7`: a JSON number's text.
const NUMBER_TOKEN = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g

/**
 * `[PRICE, COUNT, AMOUNT]` entries with the text each price and amount had in `raw`. The frame is
 * `[chanId, levels…, seq]` with nothing but numbers before the levels end, so the n-th number token
 * of the text is the n-th number of the parsed frame; a token that does not parse to the value it
 * should be falls back to the value's own text.
 */
const parseLevels = (entries: readonly unknown[], raw: string): ParsedLevel[] | undefined => {
  const tokens = raw.match(NUMBER_TOKEN) ?? []
  const textOf = (i: number, value: number) => {
    const t = tokens[i]
    return t !== undefined && Number(t) === value ? t : String(value)
  }
  const out: ParsedLevel[] = []
  let at = 1 // token 0 is the chanId
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length < 3) return undefined
    const [price, count, amount] = entry as unknown[]
    if (typeof price !== 'number' || !(price > 0) || !Number.isFinite(price)) return undefined
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) return undefined
    if (typeof amount !== 'number' || amount === 0 || !Number.isFinite(amount)) return undefined
    out.push({ price, count, amount, text: { price: textOf(at, price), amount: textOf(at + 2, amount) } })
    at += entry.length
  }
  return out
}

/** `{event:'info', version, serverId, platform:{status}}` on connect; `{event:'info', code, msg}` later. */
interface RawInfo {
  event: 'info'
  code: number
  msg: string
  version: number
  platform: { status: number }
}

/** `{event:'subscribed', channel:'book', chanId, symbol, prec, freq, len, pair}`. */
interface RawSubscribed {
  event: 'subscribed'
  channel: string
  chanId: number
  symbol: string
}
