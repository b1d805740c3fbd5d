// BL3P (Bitonic) public WebSocket API v1:
// https://github.com/BitonicNL/bl3p-api/blob/master/docs/public_api/websocket.md
import { TICK_DEPTH, type Level, type Pair } from '@arb/contracts'
import { isCrossed, L2Book } from './book.js'
import { excerpt, failure, isRecord } from './parse.js'
import { FrameChain } from './seq.js'
import { TickGate } from './tick-gate.js'
import type { AdapterSession, ExchangeAdapter, FrameResult } from './types.js'

/**
 * BL3P. The URL selects market and channel (`/1/BTCEUR/orderbook`) and there is no subscribe
 * message, so there is one connection per pair. No official message samples exist; the format
 * follows a 2017 capture plus ExchangeSharp's model (see exchange-samples/bl3p.md).
 *
 * - Every `orderbook` message is the FULL book, sent "every time a change occurs": each one replaces
 *   the book. Ticks follow the same rule as Coinbase (top 10 changed, or TICK_REFRESH_MS elapsed).
 * - Integers: price_int = EUR × 1e5, amount_int = BTC × 1e8. `count` and `marketplace` are optional
 *   (present in the docs and newer messages, absent from the 2017 capture).
 * - No timestamp is sent (exchangeTs null) and no sequence: seq is the chained frame hash of seq.ts.
 *   Two identical consecutive books after an identical predecessor share a seq and are stored once,
 *   which loses nothing but a receive time.
 * - No heartbeat, ack or error message is documented; liveness rests on the feed's ping and stale timeout.
 * - A crossed full book is the exchange's own state: skipped as an error (the next book replaces it),
 *   not a resync, since reconnecting would fetch the same book.
 */
export const bl3p: ExchangeAdapter = {
  id: 'bl3p',
  url: 'wss://api.bl3p.eu',
  docs: 'https://github.com/BitonicNL/bl3p-api/blob/master/docs/public_api/websocket.md',
  defaultPairs: ['BTC-EUR'],
  // UNVERIFIED: no official fee page was reachable; 0.25% is what third-party bot configurations use.
  // The detector's FEES env (e.g. FEES=bl3p=0.0025) overrides it.
  takerFee: 0.0025,
  takerFeeSource: 'unverified: third-party bot configurations (FEE = 0.0025); override with the detector FEES env',
  endpoints: (pairs, baseUrl) =>
    pairs.map((pair) => ({ url: `${baseUrl.replace(/\/+$/, '')}/1/${market(pair)}/orderbook`, pairs: [pair] })),
  subscribe: () => [],
  createSession: (pairs) => {
    const [pair] = pairs
    if (pair === undefined || pairs.length !== 1) throw new RangeError('a BL3P session serves exactly one pair')
    return new Bl3pSession(pair)
  },
}

/** `BTC-EUR` → `BTCEUR`. */
export const market = (pair: Pair): string => pair.replace('-', '')

const PRICE_SCALE = 1e5
const AMOUNT_SCALE = 1e8

class Bl3pSession implements AdapterSession {
  readonly #pair: Pair
  readonly #market: string
  readonly #book = new L2Book()
  readonly #chain = new FrameChain()
  readonly #gate = new TickGate()

  constructor(pair: Pair) {
    this.#pair = pair
    this.#market = market(pair)
  }

  onFrame(frame: unknown, receivedTs: number, raw: string): FrameResult {
    if (!isRecord(frame)) return failure(`not a JSON object: ${excerpt(frame)}`)
    const { asks, bids, marketplace } = frame as Partial<RawOrderbook>
    if (!Array.isArray(asks) || !Array.isArray(bids)) return failure(`not an orderbook message: ${excerpt(frame)}`)
    if (marketplace !== undefined && marketplace !== this.#market) {
      return failure(`orderbook for ${excerpt(marketplace)} on the ${this.#market} connection`)
    }
    const bidLevels = parseLevels(bids)
    const askLevels = parseLevels(asks)
    if (bidLevels === undefined || askLevels === undefined) return failure(`bad orderbook levels for ${this.#pair}`)
    const seq = this.#chain.next(raw)
    this.#book.snapshot(bidLevels, askLevels)
    const top = this.#book.top(TICK_DEPTH)
    if (isCrossed(top.bids, top.asks)) return failure(`crossed orderbook for ${this.#pair}`)
    if (!this.#gate.pass(top.bids, top.asks, receivedTs)) return { kind: 'ticks', ticks: [] }
    const tick = { v: 1, exchange: 'bl3p', pair: this.#pair, seq, exchangeTs: null, receivedTs, ...top } as const
    return { kind: 'ticks', ticks: [tick] }
  }
}

const parseLevels = (raw: readonly unknown[]): Level[] | undefined => {
  const out: Level[] = []
  for (const entry of raw) {
    if (!isRecord(entry)) return undefined
    const { price_int: price, amount_int: amount } = entry as Partial<RawLevel>
    if (!Number.isSafeInteger(price) || !Number.isSafeInteger(amount)) return undefined
    if ((price as number) <= 0 || (amount as number) < 0) return undefined
    out.push([(price as number) / PRICE_SCALE, (amount as number) / AMOUNT_SCALE])
  }
  return out
}

/** One `orderbook` message: the whole book. */
interface RawOrderbook {
  asks: RawLevel[]
  bids: RawLevel[]
  marketplace?: string
}

interface RawLevel {
  price_int: number
  amount_int: number
  /** Orders at this price (docs); missing in the 2017 capture. */
  count?: number
}
