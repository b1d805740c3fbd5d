// OKX API v5 public WebSocket, order book channel `books`:
// https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
// REST snapshot: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-order-book
// 2026 changes: https://www.okx.com/docs-v5/log_en ("Delist initial snapshot and checksum field in order
// book channels", 2026-02-12) and OKX's notice "Order Book Channels Checksum Field Deprecation" (2026-05-21).
import { crc32 } from 'node:zlib'
import { TICK_DEPTH, type Pair, type Tick } from '@arb/contracts'
import { isCrossed, type L2Book, type Side } from './book.js'
import { pairBook, type PairBook } from './pair-book.js'
import { CONTROL, decimal, epochMs, excerpt, failure, isRecord } from './parse.js'
import { SnapshotSync } from './snapshot-sync.js'
import type { AdapterSession, ExchangeAdapter, FrameResult } from './types.js'

export { MAX_STALE_SNAPSHOTS } from './snapshot-sync.js'

/**
 * OKX. One connection carries every pair. Instrument ids are spelled like our pairs and the mapping
 * is the identity: OKX's `BTC-USDT` is our `BTC-USDT`, never `BTC-USD`.
 *
 * - Book start: the changelog delists the `books` initial snapshot (production, early August 2026)
 *   and prescribes the sync this session does: buffer the updates, GET /api/v5/market/books, fetch
 *   again while its `seqId` is below the first buffered `prevSeqId`, drop buffered updates with
 *   `seqId` <= the snapshot's; the first one kept must have `prevSeqId` <= snapshot `seqId` < `seqId`.
 *   A WS `snapshot` (still on the channel page, and in the 2022 recording) is a whole book with its
 *   own `seqId`, so it is used as it comes and no REST request is made.
 * - Integrity: an update's `prevSeqId` must be the `seqId` of the previous message of its instId.
 *   Both documented exceptions keep that link: the no-change keep-alive (about 60 s, empty sides,
 *   `seqId` == `prevSeqId`) and the reset after maintenance (`seqId` < `prevSeqId`). Anything else is
 *   a gap. The CRC32 checksum (top 25 bids and asks interleaved, `price:size` exactly as sent,
 *   signed) is verified whenever it is non-zero; production sends 0 since 2026-06-23. A gap, a
 *   checksum mismatch, an update with neither sequence numbers nor checksum, or a crossed book resync.
 * - seq: the `seqId`, which OKX keeps the same on every connection; frames without one (the 2022
 *   recording) get the chained frame hash of `seq.ts`.
 * - Keep-alive: OKX closes a connection that has received nothing for 30 s, so the client sends the
 *   text `ping` after KEEPALIVE_MS of silence and OKX answers the text `pong` (`keepalive`, run by
 *   the feed). `event: notice` 64008 announces a service upgrade in 30 s: resync now.
 * - Depth: no truncation at 400 levels; OKX deletes the levels that leave its 400-level window (the
 *   recording shows those deletes and the re-inserts at the window's edge).
 */
export const okx: ExchangeAdapter = {
  id: 'okx',
  url: 'wss://ws.okx.com:8443/ws/v5/public',
  docs: 'https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel',
  defaultPairs: ['BTC-EUR', 'BTC-USDT'],
  takerFee: 0.001,
  takerFeeSource: 'https://www.okx.com/fees (spot, regular user Lv1: maker 0.080%, taker 0.100%)',
  restUrl: 'https://www.okx.com',
  snapshotUrl: (pair, restBaseUrl) =>
    `${restBaseUrl.replace(/\/+$/, '')}/api/v5/market/books?instId=${encodeURIComponent(symbol(pair))}&sz=${REST_DEPTH}`,
  endpoints: (pairs, baseUrl) => [{ url: baseUrl, pairs }],
  subscribe: (pairs) => [{ op: 'subscribe', args: pairs.map((pair) => ({ channel: 'books', instId: symbol(pair) })) }],
  keepalive: { intervalMs: 20_000, frame: 'ping', isReply: (raw) => raw === 'pong' },
  createSession: (pairs) => new OkxSession(pairs),
}

/** Levels per side asked of the REST snapshot: the depth of the `books` channel. */
const REST_DEPTH = 400
const CHECKSUM_LEVELS = 25

/** `BTC-EUR` → `BTC-EUR`: OKX instIds are our pairs. */
export const symbol = (pair: Pair): string => pair
/** `BTC-USDT` → `BTC-USDT`. */
export const pairOf = (instId: string): Pair => instId

/** A level as parsed, and its entry as sent: the checksum is over the entry's first two strings. */
interface WireLevel {
  readonly price: number
  readonly size: number
  readonly entry: readonly string[]
}

interface BookMessage {
  readonly seqId: number | undefined
  readonly prevSeqId: number | undefined
  /** 0 when absent or not computed (production since 2026-06-23). */
  readonly checksum: number
  readonly ts: number | null
  readonly bids: readonly WireLevel[]
  readonly asks: readonly WireLevel[]
}

type Sequenced = BookMessage & { readonly seqId: number; readonly prevSeqId: number }

/** Each side's levels as sent, by price, for the checksum. */
export interface LevelEntries {
  readonly bid: Map<number, readonly string[]>
  readonly ask: Map<number, readonly string[]>
}

interface InstState extends PairBook {
  readonly entries: LevelEntries
  /** Updates received before the book had a snapshot. */
  readonly sync: SnapshotSync<Sequenced>
  /** `seqId` of the last message in the book; undefined on a feed without sequence numbers. */
  seqId: number | undefined
  /** The book is a REST snapshot no update has followed yet: the next one may straddle it. */
  straddling: boolean
  exchangeTs: number | null
}

const staleReason = (pair: Pair, count: number): string => `${count} REST snapshots of ${pair} older than the stream`

const NOTHING: FrameResult = Object.freeze({ kind: 'ticks', ticks: Object.freeze([]) })

class OkxSession implements AdapterSession {
  readonly #insts = new Map<string, InstState>()

  constructor(pairs: readonly Pair[]) {
    for (const pair of pairs) {
      this.#insts.set(symbol(pair), {
        ...pairBook(pair),
        entries: { bid: new Map(), ask: new Map() },
        sync: new SnapshotSync(pair, staleReason),
        seqId: undefined,
        straddling: false,
        exchangeTs: null,
      })
    }
  }

  onFrame(frame: unknown, receivedTs: number, raw: string): FrameResult {
    if (!isRecord(frame)) return failure(`not a JSON object: ${excerpt(frame)}`)
    if (typeof frame['event'] === 'string') return event(frame as Partial<RawEvent>)
    const arg = isRecord(frame['arg']) ? frame['arg'] : {}
    if (arg['channel'] !== 'books') return failure(`push on a channel not subscribed to: ${excerpt(arg['channel'])}`)
    const state = typeof arg['instId'] === 'string' ? this.#insts.get(arg['instId']) : undefined
    if (state === undefined) return failure(`book of an instrument not subscribed to: ${excerpt(arg['instId'])}`)
    const action = frame['action']
    if (action !== 'snapshot' && action !== 'update') return failure(`unknown book action ${excerpt(action)}`)
    if (!Array.isArray(frame['data'])) return failure('book message without data')
    const ticks: Tick[] = []
    let fetch: Pair[] | undefined
    for (const data of frame['data'] as unknown[]) {
      const msg = parseBookMessage(data)
      // Half a book would be wrong for good; only a fresh snapshot repairs a lost update.
      if (msg === undefined && action === 'update')
        return { kind: 'resync', reason: `bad book update for ${state.pair}` }
      if (msg === undefined) return failure(`bad book snapshot for ${state.pair}`)
      const result =
        action === 'snapshot' ? snapshot(state, msg, receivedTs, raw) : this.#update(state, msg, receivedTs, raw)
      if (result.kind !== 'ticks') return result
      ticks.push(...result.ticks)
      if (result.fetch !== undefined) fetch = [...(fetch ?? []), ...result.fetch]
    }
    return fetch === undefined ? { kind: 'ticks', ticks } : { kind: 'ticks', ticks, fetch }
  }

  onSnapshot(pair: Pair, body: unknown, receivedTs: number): FrameResult {
    const state = this.#insts.get(symbol(pair))
    if (state === undefined) return failure(`snapshot of a pair not subscribed to: ${excerpt(pair)}`)
    state.sync.arrived()
    if (state.ready) return CONTROL
    const snap = parseRestBody(body)
    // The next buffered update asks for another one (`arrived`).
    if (typeof snap === 'string') return failure(`bad order book snapshot for ${pair}: ${snap}`)
    const first = state.sync.first
    if (first !== undefined && snap.seqId < first.prevSeqId) return state.sync.stale()
    load(state, snap)
    state.straddling = true
    for (const msg of state.sync.drain()) {
      const result = advance(state, msg)
      if (result !== undefined && result.kind !== 'ticks') return result
    }
    return emit(state, String(state.seqId), receivedTs, true)
  }

  #update(state: InstState, msg: BookMessage, receivedTs: number, raw: string): FrameResult {
    if (state.ready) {
      const result = advance(state, msg)
      return result ?? emit(state, seqOf(state, msg, raw), receivedTs, false)
    }
    if (msg.seqId === undefined || msg.prevSeqId === undefined) {
      return { kind: 'resync', reason: `book update before the snapshot for ${state.pair}` }
    }
    const last = state.sync.last
    if (last !== undefined && msg.prevSeqId !== last.seqId) {
      return gap(state, `prevSeqId ${msg.prevSeqId} after seqId ${last.seqId} while buffering`)
    }
    return state.sync.buffer(msg as Sequenced)
  }
}

/** A WS `snapshot` replaces the book and starts the sequence afresh (its `prevSeqId` is -1). */
const snapshot = (state: InstState, msg: BookMessage, receivedTs: number, raw: string): FrameResult => {
  state.sync.drain()
  load(state, msg)
  return verify(state, msg) ?? emit(state, seqOf(state, msg, raw), receivedTs, true)
}

const load = (state: InstState, msg: BookMessage): void => {
  state.book.clear()
  state.entries.bid.clear()
  state.entries.ask.clear()
  apply(state, 'bid', msg.bids)
  apply(state, 'ask', msg.asks)
  state.seqId = msg.seqId
  state.exchangeTs = msg.ts
  state.straddling = false
  state.ready = true
}

/**
 * Checks an update against the sequence, applies it and verifies its checksum. Undefined when it
 * was applied; NOTHING when it was already in a REST snapshot; otherwise the resync.
 */
const advance = (state: InstState, msg: BookMessage): FrameResult | undefined => {
  const { seqId, prevSeqId } = msg
  if (seqId === undefined && msg.checksum === 0) {
    return { kind: 'resync', reason: `book update for ${state.pair} with neither seqId nor checksum` }
  }
  if (state.straddling && prevSeqId !== state.seqId) {
    if (seqId === undefined || prevSeqId === undefined || state.seqId === undefined) {
      return gap(state, 'update without seqId after a REST snapshot')
    }
    if (seqId < prevSeqId) return gap(state, `sequence reset to ${seqId} before the book caught up`)
    if (seqId <= state.seqId) return NOTHING
    if (prevSeqId > state.seqId) return gap(state, `prevSeqId ${prevSeqId} after REST snapshot seqId ${state.seqId}`)
  } else if (!state.straddling && prevSeqId !== state.seqId) {
    return gap(state, `prevSeqId ${prevSeqId} after seqId ${state.seqId}`)
  }
  state.straddling = false
  apply(state, 'bid', msg.bids)
  apply(state, 'ask', msg.asks)
  state.seqId = seqId
  if (msg.ts !== null) state.exchangeTs = msg.ts
  return verify(state, msg)
}

const apply = (state: InstState, side: Side, levels: readonly WireLevel[]): void => {
  const entries = state.entries[side]
  for (const l of levels) {
    state.book.set(side, l.price, l.size)
    if (l.size === 0) entries.delete(l.price)
    else entries.set(l.price, l.entry)
  }
}

const verify = (state: InstState, msg: BookMessage): FrameResult | undefined => {
  if (msg.checksum === 0) return undefined
  const actual = checksum(state.book, state.entries)
  if (actual === msg.checksum) return undefined
  state.ready = false
  const reason = `checksum mismatch for ${state.pair}: got ${actual}, expected ${msg.checksum}`
  return { kind: 'resync', reason, cause: 'checksum' }
}

const gap = (state: InstState, detail: string): FrameResult => {
  state.ready = false
  return { kind: 'resync', reason: `sequence gap for ${state.pair}: ${detail}`, cause: 'gap' }
}

const seqOf = (state: InstState, msg: BookMessage, raw: string): string =>
  msg.seqId === undefined ? state.chain.next(raw) : String(msg.seqId)

/** A tick when the top changed, is due a refresh, or `force` (a fresh book); resync on a crossed book. */
const emit = (state: InstState, seq: string, receivedTs: number, force: boolean): FrameResult => {
  const top = state.book.top(TICK_DEPTH)
  if (isCrossed(top.bids, top.asks)) {
    state.ready = false
    return { kind: 'resync', reason: `crossed book for ${state.pair}` }
  }
  if (!state.gate.pass(top.bids, top.asks, receivedTs) && !force) return NOTHING
  const tick: Tick = { v: 1, exchange: 'okx', pair: state.pair, seq, exchangeTs: state.exchangeTs, receivedTs, ...top }
  return { kind: 'ticks', ticks: [tick] }
}

/**
 * CRC32 (signed) of the top 25 bids and asks, interleaved bid, ask, bid, …, each `price:size` as sent.
 * zlib's CRC32 rather than kraken.ts's table loop: about 5× faster on this ~600-character string
 * (bench/checksum-okx.bench.ts), and the strings are ASCII, so its UTF-8 encoding changes nothing.
 */
export const checksum = (book: L2Book, entries: LevelEntries): number => {
  const bids = book.bids.top(CHECKSUM_LEVELS)
  const asks = book.asks.top(CHECKSUM_LEVELS)
  const parts: string[] = []
  for (let i = 0; i < CHECKSUM_LEVELS; i++) {
    const bid = bids[i]
    const ask = asks[i]
    if (bid !== undefined) parts.push(levelText(entries.bid, bid[0]))
    if (ask !== undefined) parts.push(levelText(entries.ask, ask[0]))
  }
  return crc32(parts.join(':')) | 0
}

const levelText = (entries: Map<number, readonly string[]>, price: number): string => {
  const entry = entries.get(price)
  return `${entry?.[0] ?? price}:${entry?.[1] ?? ''}`
}

/** Subscribe/unsubscribe acks and events added later are control; errors count; a notice means reconnect. */
const event = (frame: Partial<RawEvent>): FrameResult => {
  const detail = `${String(frame.code ?? '')}: ${excerpt(frame.msg ?? 'unspecified', 200)}`
  if (frame.event === 'error') return failure(`exchange error ${detail}`)
  if (frame.event === 'notice') return { kind: 'resync', reason: `exchange notice ${detail}` }
  return CONTROL
}

const integer = (v: unknown): number | undefined | null =>
  v === undefined ? undefined : Number.isSafeInteger(v) ? (v as number) : null

const parseLevels = (raw: unknown): WireLevel[] | undefined => {
  if (!Array.isArray(raw)) return undefined
  const out: WireLevel[] = []
  for (const entry of raw as unknown[]) {
    if (!Array.isArray(entry)) return undefined
    const price = decimal(entry[0])
    const size = decimal(entry[1])
    if (price === undefined || price === 0 || size === undefined) return undefined
    out.push({ price, size, entry: entry as string[] })
  }
  return out
}

/** One `books` push `data` entry (the REST body's `data[0]` has the same shape, without checksum). */
const parseBookMessage = (raw: unknown): BookMessage | undefined => {
  if (!isRecord(raw)) return undefined
  const data = raw as Partial<RawBookData>
  const bids = parseLevels(data.bids)
  const asks = parseLevels(data.asks)
  const seqId = integer(data.seqId)
  const prevSeqId = integer(data.prevSeqId)
  const checksum = integer(data.checksum) ?? 0
  if (bids === undefined || asks === undefined || seqId === null || prevSeqId === null || checksum === null) {
    return undefined
  }
  const ts = typeof data.ts === 'string' ? epochMs(Number(data.ts)) : null
  return { seqId, prevSeqId, checksum, ts, bids, asks }
}

const parseRestBody = (body: unknown): (BookMessage & { readonly seqId: number }) | string => {
  if (!isRecord(body)) return 'not a JSON object'
  if (body['code'] !== '0') return `code ${excerpt(body['code'])}: ${excerpt(body['msg'] ?? '', 200)}`
  const msg = parseBookMessage(Array.isArray(body['data']) ? (body['data'] as unknown[])[0] : undefined)
  if (msg === undefined) return 'unreadable book'
  if (msg.seqId === undefined) return 'no seqId'
  return { ...msg, seqId: msg.seqId, prevSeqId: undefined, checksum: 0 }
}

/**
 * A `books` push entry, or the REST body's `data[0]`. Levels are `[price, size, "0" (deprecated),
 * orders]` in decimal text; size "0" deletes. `prevSeqId` is -1 on a snapshot.
 */
interface RawBookData {
  asks: string[][]
  bids: string[][]
  /** Epoch ms as a string. */
  ts: string
  /** Signed CRC32 of the top 25 levels; always 0 in production since 2026-06-23; absent on REST. */
  checksum: number
  prevSeqId: number
  seqId: number
}

/** `{ id?, event: subscribe | unsubscribe | error | notice | …, arg?, code?, msg?, connId }`. */
interface RawEvent {
  event: string
  code: string
  msg: string
}
