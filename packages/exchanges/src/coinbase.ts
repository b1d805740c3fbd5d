// Coinbase Exchange (formerly GDAX / Coinbase Pro) WebSocket feed:
// https://docs.cdp.coinbase.com/exchange/websocket-feed/channels (overview: .../websocket-feed/overview)
import { TICK_DEPTH, type Level, type Pair, type Tick } from '@arb/contracts'
import { isCrossed } from './book.js'
import { pairBook, type PairBook } from './pair-book.js'
import { CONTROL, decimalLevels, excerpt, failure, isoToEpochMs, isRecord, sideChanges } from './parse.js'
import type { AdapterSession, ExchangeAdapter, FrameResult } from './types.js'

/**
 * Coinbase Exchange. One connection carries every pair; product ids are our pairs (`BTC-EUR`).
 *
 * - `level2_batch`, not `level2`: level2 now needs authentication; level2_batch is the same schema
 *   in 50 ms batches without it (channels page, "Level2 Batch").
 * - Ticks: a snapshot always gives one; an l2update gives one when the top 10 changed or the last
 *   tick of that pair is TICK_REFRESH_MS old (`tick-gate.ts`).
 * - Liveness: only book frames count as data. `heartbeat`, `subscriptions` and `ticker` are control
 *   frames: a trade always moves the book, so tickers flowing while the book is silent mean the
 *   book channel is stuck, and the stale timeout should reconnect rather than be fed by tickers.
 *   The ticker is subscribed anyway (cheap, and it keeps the subscription the documented one).
 * - seq: level2 has no sequence number, so it is the chained frame hash of `seq.ts`, chained per
 *   product over book frames only, so heartbeats or tickers interleaved differently on two replicas'
 *   connections do not make their ids differ.
 * - A crossed book after an update means frames were lost: resync (reconnect, fresh snapshot).
 */
export const coinbase: ExchangeAdapter = {
  id: 'coinbase',
  url: 'wss://ws-feed.exchange.coinbase.com',
  docs: 'https://docs.cdp.coinbase.com/exchange/websocket-feed/channels',
  defaultPairs: ['BTC-EUR', 'BTC-USD'],
  takerFee: 0.006,
  takerFeeSource: 'https://help.coinbase.com/en/exchange/trading-and-funding/exchange-fees (tier $0–10K: taker 0.60%)',
  endpoints: (pairs, baseUrl) => [{ url: baseUrl, pairs }],
  // Must reach the server within 5 s of connecting or it disconnects (overview page).
  subscribe: (pairs) => [
    { type: 'subscribe', product_ids: [...pairs], channels: ['ticker', 'level2_batch', 'heartbeat'] },
  ],
  createSession: (pairs) => new CoinbaseSession(pairs),
}

class CoinbaseSession implements AdapterSession {
  readonly #products = new Map<string, PairBook>()

  constructor(pairs: readonly Pair[]) {
    for (const pair of pairs) this.#products.set(pair, pairBook(pair))
  }

  onFrame(frame: unknown, receivedTs: number, raw: string): FrameResult {
    if (!isRecord(frame)) return failure(`not a JSON object: ${excerpt(frame)}`)
    switch (frame['type']) {
      case 'l2update':
        return this.#update(frame as Partial<RawL2Update>, receivedTs, raw)
      case 'snapshot':
        return this.#snapshot(frame as Partial<RawSnapshot>, receivedTs, raw)
      case 'subscriptions':
      case 'heartbeat':
      case 'ticker':
        return CONTROL
      case 'error':
        return failure(exchangeError(frame as Partial<RawError>))
      default:
        return failure(`unknown message type ${excerpt(frame['type'])}`)
    }
  }

  #snapshot(frame: Partial<RawSnapshot>, receivedTs: number, raw: string): FrameResult {
    const state = this.#product(frame.product_id)
    if (typeof state === 'string') return failure(state)
    const bids = decimalLevels(frame.bids)
    const asks = decimalLevels(frame.asks)
    if (bids === undefined || asks === undefined) return failure(`bad snapshot levels for ${state.pair}`)
    state.book.snapshot(bids, asks)
    state.ready = true
    const seq = state.chain.next(raw)
    const top = state.book.top(TICK_DEPTH)
    if (isCrossed(top.bids, top.asks)) return { kind: 'resync', reason: `crossed snapshot for ${state.pair}` }
    state.gate.pass(top.bids, top.asks, receivedTs)
    // Current docs show no `time` on snapshots; use it should one appear.
    return { kind: 'ticks', ticks: [tick(state.pair, seq, isoToEpochMs(frame.time), receivedTs, top)] }
  }

  #update(frame: Partial<RawL2Update>, receivedTs: number, raw: string): FrameResult {
    const state = this.#product(frame.product_id)
    if (typeof state === 'string') return failure(state)
    if (!state.ready) return { kind: 'resync', reason: `l2update before snapshot for ${state.pair}` }
    const changes = sideChanges(frame.changes)
    // Half an update applied would corrupt the book for good; a fresh snapshot is the only repair.
    if (changes === undefined) return { kind: 'resync', reason: `bad l2update changes for ${state.pair}` }
    for (const [side, price, size] of changes) state.book.set(side, price, size)
    const seq = state.chain.next(raw)
    const top = state.book.top(TICK_DEPTH)
    if (isCrossed(top.bids, top.asks)) return { kind: 'resync', reason: `crossed book for ${state.pair}` }
    if (!state.gate.pass(top.bids, top.asks, receivedTs)) return { kind: 'ticks', ticks: [] }
    return { kind: 'ticks', ticks: [tick(state.pair, seq, isoToEpochMs(frame.time), receivedTs, top)] }
  }

  #product(productId: unknown): PairBook | string {
    if (typeof productId !== 'string') return 'book message without product_id'
    return this.#products.get(productId) ?? `message for unsubscribed product ${excerpt(productId)}`
  }
}

const tick = (
  pair: Pair,
  seq: string,
  exchangeTs: number | null,
  receivedTs: number,
  top: { bids: Level[]; asks: Level[] },
): Tick => ({ v: 1, exchange: 'coinbase', pair, seq, exchangeTs, receivedTs, bids: top.bids, asks: top.asks })

const exchangeError = (frame: Partial<RawError>): string => {
  const message = typeof frame.message === 'string' ? frame.message : 'error'
  const reason = typeof frame.reason === 'string' ? `: ${frame.reason}` : ''
  return `exchange error: ${excerpt(message + reason, 200)}`
}

/** `snapshot` on level2/level2_batch: the whole book, levels as [price, size] decimal strings. */
interface RawSnapshot {
  type: 'snapshot'
  product_id: string
  bids: [string, string][]
  asks: [string, string][]
  time?: string
}

/** `l2update`: `size` is the new total at that price; "0" removes the level. */
interface RawL2Update {
  type: 'l2update'
  product_id: string
  changes: ['buy' | 'sell', string, string][]
  time: string
}

/** `error`, e.g. `{"type":"error","message":"Failed to subscribe","reason":"X is not a valid product"}`. */
interface RawError {
  type: 'error'
  message: string
  reason?: string
}
