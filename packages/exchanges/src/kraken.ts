// Kraken spot WebSocket v2, Book (Level 2): https://docs.kraken.com/api/docs/websocket-v2/book
// (checksum: https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2)
import { TICK_DEPTH, type Pair, type Tick } from '@arb/contracts'
import { isCrossed, type Side } from './book.js'
import { pairBook, type PairBook } from './pair-book.js'
import { CONTROL, excerpt, failure, isoToEpochMs, isRecord } from './parse.js'
import type { AdapterSession, ExchangeAdapter, FrameResult } from './types.js'

/**
 * Kraken WebSocket v2. One connection carries every pair; v2 symbols are `BTC/EUR` (v1's `XBT` is
 * gone). The `book` channel at depth 10 sends a snapshot, then updates; every message carries a
 * CRC32 `checksum` of the top 10 levels, and there is no sequence number.
 *
 * - Checksum (guide "Book checksum (WebSocket v2)"): apply all levels of a message, truncate the book
 *   to the subscribed depth (levels pushed out of scope get no delete), then CRC32 over the top 10
 *   asks (best first) followed by the top 10 bids, each level as price then qty with the `.` removed
 *   and leading zeros stripped. The numbers must be the full-precision decimal text, so the session
 *   reads each price and qty token from the raw frame text rather than formatting the parsed float.
 *   Trailing zeros are part of that text: a frame printed without them (the doc example prints
 *   `0.566` for `0.5660`) is padded to the most decimals seen for that pair and field, which is the
 *   pair's `price_precision`/`qty_precision` as soon as one level uses all of its digits.
 * - A checksum mismatch (a lost update, or a corrupted one) or an update before the snapshot is a
 *   `resync`: the feed reconnects and the new session starts from a fresh snapshot.
 * - seq: the chained frame hash of `seq.ts`, chained per symbol over book frames only.
 * - Liveness: `heartbeat` (about 1/s while subscribed), `status`, acks and `pong` are control. The
 *   application-level `ping` is optional (ping page); the feed's protocol pings and the stale timeout
 *   cover a dead link, so none is sent.
 */
export const kraken: ExchangeAdapter = {
  id: 'kraken',
  url: 'wss://ws.kraken.com/v2',
  docs: 'https://docs.kraken.com/api/docs/websocket-v2/book',
  defaultPairs: ['BTC-EUR', 'BTC-USD'],
  // UNVERIFIED: kraken.com/features/fee-schedule was not readable here. 0.40% taker at the entry
  // tier ($0–10K) is the Kraken Pro spot schedule as summarised by a third party citing that page
  // (api-evangelist/kraken plans, 2026-05-30); older third-party guides say 0.26%. FEES overrides.
  takerFee: 0.004,
  takerFeeSource:
    'unverified: third-party summary of https://www.kraken.com/features/fee-schedule#spot (entry tier taker 0.40%); override with the detector FEES env',
  endpoints: (pairs, baseUrl) => [{ url: baseUrl, pairs }],
  subscribe: (pairs) => [{ method: 'subscribe', params: { channel: 'book', symbol: pairs.map(symbol), depth: DEPTH } }],
  createSession: (pairs) => new KrakenSession(pairs),
}

/** Subscribed book depth; the checksum covers the top 10 whatever the depth. */
const DEPTH = 10
const CHECKSUM_LEVELS = 10

/** `BTC-EUR` → `BTC/EUR`. */
export const symbol = (pair: Pair): string => pair.replace('-', '/')
/** `BTC/EUR` → `BTC-EUR`. */
export const pairOf = (sym: string): Pair => sym.replace('/', '-')

/** A level's exact wire text, kept for the checksum. */
interface LevelText {
  readonly price: string
  readonly qty: string
}

interface SymbolBook extends PairBook {
  readonly text: { bid: Map<number, LevelText>; ask: Map<number, LevelText> }
  /** Most decimals seen in a price / qty of this symbol. */
  precision: { price: number; qty: number }
}

class KrakenSession implements AdapterSession {
  readonly #books = new Map<string, SymbolBook>()

  constructor(pairs: readonly Pair[]) {
    for (const pair of pairs) {
      this.#books.set(symbol(pair), {
        ...pairBook(pair),
        text: { bid: new Map(), ask: new Map() },
        precision: { price: 0, qty: 0 },
      })
    }
  }

  onFrame(frame: unknown, receivedTs: number, raw: string): FrameResult {
    if (!isRecord(frame)) return failure(`not a JSON object: ${excerpt(frame)}`)
    if (typeof frame['method'] === 'string') return methodReply(frame as Partial<RawMethodReply>)
    switch (frame['channel']) {
      case 'book':
        return this.#book(frame as Partial<RawBook>, receivedTs, raw)
      case 'heartbeat':
      case 'status':
        return CONTROL
      default:
        return failure(`unknown channel ${excerpt(frame['channel'])}`)
    }
  }

  #book(frame: Partial<RawBook>, receivedTs: number, raw: string): FrameResult {
    const snapshot = frame.type === 'snapshot'
    if (!snapshot && frame.type !== 'update') return failure(`unknown book message type ${excerpt(frame.type)}`)
    if (!Array.isArray(frame.data)) return failure('book message without data')
    const texts = numberTexts(raw)
    const ticks: Tick[] = []
    for (const entry of frame.data as unknown[]) {
      if (!isRecord(entry)) return failure('book data entry is not an object')
      const data = entry as Partial<RawBookData>
      const state = typeof data.symbol === 'string' ? this.#books.get(data.symbol) : undefined
      if (state === undefined) return failure(`book message for unsubscribed symbol ${excerpt(data.symbol)}`)
      if (!snapshot && !state.ready) return { kind: 'resync', reason: `book update before snapshot for ${state.pair}` }
      const bids = parseLevels(data.bids, texts)
      const asks = parseLevels(data.asks, texts)
      if (bids === undefined || asks === undefined || typeof data.checksum !== 'number') {
        // Half an update applied would corrupt the book for good; a fresh snapshot is the only repair.
        if (!snapshot) return { kind: 'resync', reason: `bad book update for ${state.pair}` }
        return failure(`bad book snapshot for ${state.pair}`)
      }
      if (snapshot) {
        state.book.clear()
        state.text.bid.clear()
        state.text.ask.clear()
      }
      apply(state, 'bid', bids)
      apply(state, 'ask', asks)
      state.ready = true
      const expected = data.checksum >>> 0
      const actual = checksum(state)
      if (actual !== expected) {
        state.ready = false
        return {
          kind: 'resync',
          reason: `checksum mismatch for ${state.pair}: got ${actual}, expected ${expected}`,
          cause: 'checksum',
        }
      }
      const seq = state.chain.next(raw)
      const top = state.book.top(TICK_DEPTH)
      if (isCrossed(top.bids, top.asks)) return { kind: 'resync', reason: `crossed book for ${state.pair}` }
      if (!state.gate.pass(top.bids, top.asks, receivedTs) && !snapshot) continue
      const exchangeTs = isoToEpochMs(data.timestamp)
      ticks.push({ v: 1, exchange: 'kraken', pair: state.pair, seq, exchangeTs, receivedTs, ...top })
    }
    return { kind: 'ticks', ticks }
  }
}

/** Acks (`subscribe`, `unsubscribe`) and `pong` are control; a refused request is an error. */
const methodReply = (frame: Partial<RawMethodReply>): FrameResult => {
  if (frame.success === false) {
    const error = typeof frame.error === 'string' ? frame.error : 'request failed'
    return failure(`exchange error: ${excerpt(`${String(frame.method)}: ${error}`, 200)}`)
  }
  return CONTROL
}

interface ParsedLevel {
  readonly price: number
  readonly qty: number
  readonly text: LevelText
}

// Applies a message's levels to one side (qty 0 deletes), then truncates the side to DEPTH.
const apply = (state: SymbolBook, side: Side, levels: readonly ParsedLevel[]): void => {
  const text = state.text[side]
  for (const l of levels) {
    state.book.set(side, l.price, l.qty)
    if (l.qty === 0) text.delete(l.price)
    else text.set(l.price, l.text)
    state.precision.price = Math.max(state.precision.price, decimals(l.text.price))
    state.precision.qty = Math.max(state.precision.qty, decimals(l.text.qty))
  }
  const bookSide = side === 'bid' ? state.book.bids : state.book.asks
  if (bookSide.depth > DEPTH) {
    for (const [price] of bookSide.top(bookSide.depth).slice(DEPTH)) {
      bookSide.set(price, 0)
      text.delete(price)
    }
  }
}

/** CRC32 of the top 10 asks then bids, as the v2 checksum guide builds it. */
export const checksum = (state: Pick<SymbolBook, 'book' | 'text' | 'precision'>): number => {
  let input = ''
  for (const side of ['ask', 'bid'] as const) {
    const levels = (side === 'ask' ? state.book.asks : state.book.bids).top(CHECKSUM_LEVELS)
    for (const [price, qty] of levels) {
      const t = state.text[side].get(price)
      input += checksumDigits(t?.price ?? String(price), state.precision.price)
      input += checksumDigits(t?.qty ?? String(qty), state.precision.qty)
    }
  }
  return crc32(input)
}

const decimals = (text: string): number => {
  const dot = text.indexOf('.')
  return dot < 0 ? 0 : text.length - dot - 1
}

/** `"0.566"`, 4 → `"5660"`: padded to `precision` decimals, `.` removed, leading zeros stripped. */
export const checksumDigits = (text: string, precision: number): string => {
  const padded = text + (decimals(text) === 0 && precision > 0 ? '.' : '') + '0'.repeat(precision - decimals(text))
  return padded.replace('.', '').replace(/^0+/, '')
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC-32 (IEEE 802.3, as zlib) of an ASCII string, unsigned. */
export const crc32 = (text: string): number => {
  let crc = 0xffffffff
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

// `"price": 0.5660` or `"qty": "1.5"`: the number text exactly as sent, by field.
const NUMBER_TOKEN = /"(price|qty)"\s*:\s*"?(\d+(?:\.\d+)?)"?/g

/** The wire text of every price and qty in a frame, keyed by field and parsed value. */
const numberTexts = (raw: string): { price: Map<number, string>; qty: Map<number, string> } => {
  const out = { price: new Map<number, string>(), qty: new Map<number, string>() }
  for (const m of raw.matchAll(NUMBER_TOKEN)) {
    const map = out[m[1] as 'price' | 'qty']
    const text = m[2]!
    const value = Number(text)
    // The same value printed twice in one frame: keep the longer (more precise) text.
    if ((map.get(value)?.length ?? -1) < text.length) map.set(value, text)
  }
  return out
}

const number = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : Number.NaN
  return Number.isFinite(n) && n >= 0 ? n : undefined
}

const parseLevels = (
  raw: unknown,
  texts: { price: Map<number, string>; qty: Map<number, string> },
): ParsedLevel[] | undefined => {
  if (!Array.isArray(raw)) return undefined
  const out: ParsedLevel[] = []
  for (const entry of raw as unknown[]) {
    if (!isRecord(entry)) return undefined
    const price = number(entry['price'])
    const qty = number(entry['qty'])
    if (price === undefined || price === 0 || qty === undefined) return undefined
    out.push({
      price,
      qty,
      text: { price: texts.price.get(price) ?? String(price), qty: texts.qty.get(qty) ?? String(qty) },
    })
  }
  return out
}

/** `book` snapshot or update; levels are `{price, qty}` JSON numbers, qty 0 deletes. */
interface RawBook {
  channel: 'book'
  type: 'snapshot' | 'update'
  data: RawBookData[]
}

interface RawBookData {
  symbol: string
  bids: { price: number; qty: number }[]
  asks: { price: number; qty: number }[]
  /** CRC32 of the top 10 levels, unsigned. */
  checksum: number
  /** ISO 8601; on updates, and on snapshots in current messages. */
  timestamp?: string
}

/** Subscribe/unsubscribe acks and `pong`: `{ method, success?, error?, result?, req_id?, time_in, time_out }`. */
interface RawMethodReply {
  method: string
  success: boolean
  error: string
}
