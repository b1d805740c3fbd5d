// Gemini Market Data v2, `l2`: https://docs.gemini.com/websocket/market-data/v2/level-2-data
// (about: https://docs.gemini.com/websocket/market-data/v2/about; archived copy:
// https://developer.gemini.com/websocket/archived/v2.md)
import { TICK_DEPTH, type Level, type Pair, type Tick } from '@arb/contracts'
import { isCrossed } from './book.js'
import { pairBook, type PairBook } from './pair-book.js'
import { CONTROL, excerpt, failure, isRecord, sideChanges } from './parse.js'
import type { AdapterSession, ExchangeAdapter, FrameResult } from './types.js'

/**
 * Gemini, Market Data v2. One connection carries every pair; symbols are `BTCUSD` (`BTC-USD`).
 *
 * - Why v2, though Gemini's docs mark it archived in favour of the Binance-like `wss://ws.gemini.com`
 *   (`@depth` with `U`/`u`): v2 is the one protocol we have verbatim documentation examples AND real
 *   wire captures of (cryptofeed, 2021); the new API's samples are doc examples only and its
 *   subscribe request is not in the stored docs, so an adapter for it could not be verified.
 *   Migration risk: Gemini may retire v2. Should it start sending the new API's messages
 *   (`depthUpdate`, bookTicker), every one is an 'error' here, never a book change.
 * - Book: the first `l2_updates` of a symbol is its whole book and carries `trades` (the last 50)
 *   and `auction_events`; later ones carry only `changes`, each `[side, price, quantity]` with the
 *   quantity the level's new total ("0" removes it). A frame with `trades` is taken as a snapshot;
 *   a change before it is a resync.
 * - Integrity: v2 has no sequence number and no checksum (heartbeats carry only a `timestamp`), so a
 *   lost frame can only show as a crossed book: that is a resync. A removal of a price we do not
 *   hold is not evidence of a loss: a real capture deletes absent levels in the first update after
 *   the snapshot. Quantities are absolute, so a lost change heals when that level changes again.
 * - No timestamp on book frames (exchangeTs null). seq is the chained frame hash of `seq.ts`,
 *   chained per symbol over book frames only.
 * - Keepalive: the server sends `{"type":"heartbeat","timestamp":…}` every 5 s (capture); no client
 *   message is documented. Heartbeats and `trade` are control: a trade moves the book, so trades
 *   flowing while the book is silent mean the stream is stuck. No ack or error message is
 *   documented; an unknown message type is an error (counted, logged, skipped).
 * - Public WebSocket requests are limited to 12 a minute (docs.gemini.com/websocket-api "Rate
 *   Limits"): one subscribe per connection, so only a reconnect storm could reach it.
 */
export const gemini: ExchangeAdapter = {
  id: 'gemini',
  url: 'wss://api.gemini.com/v2/marketdata',
  docs: 'https://docs.gemini.com/websocket/market-data/v2/level-2-data',
  defaultPairs: ['BTC-EUR', 'BTC-USD'],
  takerFee: 0.004,
  takerFeeSource:
    'https://www.gemini.com/fees/api-fee-schedule (API fee schedule, 30-day volume $0: taker 0.40%; last updated 2022-06-30)',
  endpoints: (pairs, baseUrl) => [{ url: baseUrl, pairs }],
  subscribe: (pairs) => [{ type: 'subscribe', subscriptions: [{ name: 'l2', symbols: pairs.map(symbol) }] }],
  createSession: (pairs) => new GeminiSession(pairs),
}

/** `BTC-USD` → `BTCUSD`. */
export const symbol = (pair: Pair): string => pair.replace('-', '')

// Gemini's quote currencies, longest first so BTCUSDT is BTC-USDT and ETHGUSD is ETH-GUSD. A base
// ending in G over USD (xxxGUSD) would read as a GUSD quote; sessions never guess, they look their
// configured symbols up.
const QUOTES = ['GUSD', 'USDT', 'USDC', 'USD', 'EUR', 'GBP', 'SGD', 'BTC', 'ETH', 'LTC', 'BCH', 'DAI']

/** `BTCUSD` (or the new API's `btcusd`) → `BTC-USD`; undefined when no known quote ends it. */
export const pairOf = (sym: string): Pair | undefined => {
  const upper = sym.toUpperCase()
  const quote = QUOTES.find((q) => upper.endsWith(q) && upper.length - q.length >= 2)
  return quote === undefined ? undefined : `${upper.slice(0, -quote.length)}-${quote}`
}

class GeminiSession implements AdapterSession {
  readonly #books = new Map<string, PairBook>()

  constructor(pairs: readonly Pair[]) {
    for (const pair of pairs) this.#books.set(symbol(pair), pairBook(pair))
  }

  onFrame(frame: unknown, receivedTs: number, raw: string): FrameResult {
    if (!isRecord(frame)) return failure(`not a JSON object: ${excerpt(frame)}`)
    switch (frame['type']) {
      case 'l2_updates':
        return this.#book(frame as Partial<RawL2Updates>, receivedTs, raw)
      case 'heartbeat':
      case 'trade':
        return CONTROL
      default:
        return failure(`unknown message type ${excerpt(frame['type'] ?? frame['e'])}`)
    }
  }

  #book(frame: Partial<RawL2Updates>, receivedTs: number, raw: string): FrameResult {
    const state = typeof frame.symbol === 'string' ? this.#books.get(frame.symbol) : undefined
    if (state === undefined) return failure(`l2_updates for unsubscribed symbol ${excerpt(frame.symbol)}`)
    const snapshot = Array.isArray(frame.trades)
    if (!snapshot && !state.ready) {
      return { kind: 'resync', reason: `l2_updates before the initial book for ${state.pair}` }
    }
    const changes = sideChanges(frame.changes)
    // Half a book or a lost change would leave it wrong for good; only a fresh initial book repairs it.
    if (changes === undefined) return { kind: 'resync', reason: `bad l2_updates changes for ${state.pair}` }
    if (snapshot) {
      const bids: Level[] = []
      const asks: Level[] = []
      for (const [side, price, size] of changes) (side === 'bid' ? bids : asks).push([price, size])
      state.book.snapshot(bids, asks)
      state.ready = true
    } else {
      for (const [side, price, size] of changes) state.book.set(side, price, size)
    }
    const seq = state.chain.next(raw)
    const top = state.book.top(TICK_DEPTH)
    if (isCrossed(top.bids, top.asks)) {
      state.ready = false
      return { kind: 'resync', reason: `crossed book for ${state.pair}` }
    }
    if (!state.gate.pass(top.bids, top.asks, receivedTs) && !snapshot) return { kind: 'ticks', ticks: [] }
    const tick: Tick = { v: 1, exchange: 'gemini', pair: state.pair, seq, exchangeTs: null, receivedTs, ...top }
    return { kind: 'ticks', ticks: [tick] }
  }
}

/**
 * `l2_updates`: the initial one holds the whole book plus `trades` and `auction_events`; later
 * ones only `changes`. Side is the resting side ("buy" = bid); quantity is the level's new total.
 */
interface RawL2Updates {
  type: 'l2_updates'
  symbol: string
  changes: ['buy' | 'sell', string, string][]
  trades?: RawTrade[]
  auction_events?: unknown[]
}

/** `trade` (also inside the initial `trades`); `side` is the taker's. */
interface RawTrade {
  type: 'trade'
  symbol: string
  event_id: number
  timestamp: number
  price: string
  quantity: string
  side: 'buy' | 'sell'
  tid?: number
}
