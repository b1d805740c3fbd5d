import { splitPair, type Level, type Signal, type SignalState, type Tick } from '@arb/contracts'
import { crossCurve, emptyCross, walkCross, type Cross, type CrossLimits } from './cross.js'

/**
 * Health of an exchange's feed as the caller knows it (from ingestor heartbeats in the detector):
 * anything but 'ok' makes its quotes unusable and drops the book held for it.
 */
export type FeedStatus = 'ok' | 'stale' | 'resyncing' | 'disconnected'

export interface EngineOptions {
  /** Net edge (netProfitBps) at which a signal opens. */
  readonly openBps: number
  /** Smallest netProfit, in quote currency, at which a signal opens (default 0). */
  readonly minProfit?: number
  /** An open signal closes when its net edge falls below this; below openBps, so it does not flap. */
  readonly closeBps: number
  /** A quote older than this (relative to the tick or sweep time) never opens or keeps a signal. */
  readonly maxQuoteAgeMs: number
  /** `updated` is published only when volume or netProfit moved by more than this fraction. */
  readonly updateFraction: number
  /** Taker fee fraction per exchange; an exchange without one is never compared. */
  readonly fees: Readonly<Record<string, number>>
  /** Funds per exchange per asset (`{ bl3p: { BTC: 2, EUR: 50000 } }`); a missing entry is unlimited. */
  readonly balances?: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** Status of an exchange never set with setFeedStatus. */
  readonly initialFeedStatus?: FeedStatus
}

/** A live opportunity, for inspection (the events are the contract). */
export interface OpenSignal {
  readonly id: string
  readonly pair: string
  readonly buy: string
  readonly sell: string
  readonly openedAt: number
  readonly volume: number
  readonly netProfit: number
  readonly netProfitBps: number
}

export interface Engine {
  /** Stores the tick's book and re-evaluates the exchange pairs that involve its exchange; time is `tick.receivedTs`. */
  onTick(tick: Tick): readonly Signal[]
  /** Closes every open signal that depends on `exchange` when the status is not 'ok'. */
  setFeedStatus(exchange: string, status: FeedStatus, now: number): readonly Signal[]
  feedStatus(exchange: string): FeedStatus
  /** Closes open signals whose quotes have aged past maxQuoteAgeMs at `now` (a feed that went silent). */
  sweep(now: number): readonly Signal[]
  /**
   * The earliest time at which a quote an open signal depends on is too old (Infinity when
   * nothing is open): a replay sweeps exactly then, instead of on a wall-clock timer.
   */
  nextExpiry(): number
  openSignals(): OpenSignal[]
  /** Monotonic counts: evaluations of a (buy, sell) pair, ticks dropped as duplicates or older than the book held. */
  readonly stats: Readonly<{ evaluations: number; ignoredTicks: number }>
}

interface Quote {
  readonly exchange: string
  readonly fee: number
  status: FeedStatus
  bids: readonly Level[]
  asks: readonly Level[]
  receivedTs: number
  seq: string | undefined
}

/** One ordered (buy exchange, sell exchange) comparison of one pair; created once, mutated in place. */
interface Route {
  readonly pair: string
  readonly buy: Quote
  readonly sell: Quote
  readonly limits: CrossLimits
  /** Both exchanges have a fee; precomputed with the fee multipliers, as fees never change. */
  readonly comparable: boolean
  readonly buyMul: number
  readonly sellMul: number
  readonly cross: Cross
  open: boolean
  id: string
  openedAt: number
  /** Last ts any event of this route carried; keeps ids and `Nats-Msg-Id`s unique within a millisecond. */
  lastEventTs: number
  publishedVolume: number
  publishedNetProfit: number
  /** Highest figures of any evaluation while open; carried by `closed`. */
  peakNetProfit: number
  peakNetProfitBps: number
}

interface PairBook {
  readonly quotes: Quote[]
  /** routes[i][j]: buy on quotes[i], sell on quotes[j]. */
  readonly routes: Route[][]
}

const EMPTY: readonly Signal[] = Object.freeze([])
const NO_LEVELS: readonly Level[] = Object.freeze([])

const STATUS_REASON: Record<Exclude<FeedStatus, 'ok'>, string> = {
  stale: 'feed stale',
  resyncing: 'resynchronising',
  disconnected: 'disconnected',
}

/**
 * Pure arbitrage engine: latest book per exchange per pair in, Signal v1 lifecycle events out.
 * No I/O and no clock: time is the tick's receivedTs, or the `now` the caller passes.
 */
export const createEngine = (opts: EngineOptions): Engine => {
  const books = new Map<string, PairBook>()
  /** Every quote of an exchange, across pairs, so a feed status change reaches all of them. */
  const quotesByExchange = new Map<string, Quote[]>()
  const statuses = new Map<string, FeedStatus>()
  const open = new Set<Route>()
  const stats = { evaluations: 0, ignoredTicks: 0 }
  const initialStatus = opts.initialFeedStatus ?? 'ok'
  const minProfit = opts.minProfit ?? 0

  const limitsFor = (pair: string, buy: string, sell: string): CrossLimits => {
    const { base, quote } = splitPair(pair)
    const maxQuote = opts.balances?.[buy]?.[quote]
    const maxBase = opts.balances?.[sell]?.[base]
    return { maxBase: Math.max(0, maxBase ?? Infinity), maxQuote: Math.max(0, maxQuote ?? Infinity) }
  }

  const newRoute = (pair: string, buy: Quote, sell: Quote): Route => ({
    pair,
    buy,
    sell,
    limits: limitsFor(pair, buy.exchange, sell.exchange),
    comparable: !Number.isNaN(buy.fee) && !Number.isNaN(sell.fee),
    buyMul: 1 + buy.fee,
    sellMul: 1 - sell.fee,
    cross: emptyCross(),
    open: false,
    id: '',
    openedAt: 0,
    lastEventTs: 0,
    publishedVolume: 0,
    publishedNetProfit: 0,
    peakNetProfit: 0,
    peakNetProfitBps: 0,
  })

  const addQuote = (pair: string, book: PairBook, exchange: string): Quote => {
    const q: Quote = {
      exchange,
      fee: opts.fees[exchange] ?? NaN,
      status: statuses.get(exchange) ?? initialStatus,
      bids: [],
      asks: [],
      // A double from the start, so V8 keeps the field unboxed and a tick's time is stored in place.
      receivedTs: -Infinity,
      seq: undefined,
    }
    const row: Route[] = []
    book.quotes.forEach((other, k) => {
      row.push(newRoute(pair, q, other))
      book.routes[k]?.push(newRoute(pair, other, q))
    })
    book.quotes.push(q)
    row.push(newRoute(pair, q, q)) // the diagonal keeps indices aligned; it is never evaluated
    book.routes.push(row)
    let list = quotesByExchange.get(exchange)
    if (list === undefined) quotesByExchange.set(exchange, (list = []))
    list.push(q)
    return q
  }

  const event = (r: Route, state: SignalState, now: number, reason?: string): Signal => {
    const ts = Math.max(now, r.lastEventTs + 1)
    r.lastEventTs = ts
    if (state === 'opened') {
      r.openedAt = ts
      r.id = `${r.pair}:${r.buy.exchange}:${r.sell.exchange}:${ts}`
    }
    const c = r.cross
    const s: Signal = {
      v: 1,
      id: r.id,
      state,
      pair: r.pair,
      buy: { exchange: r.buy.exchange, price: c.buyPrice, fee: r.buy.fee },
      sell: { exchange: r.sell.exchange, price: c.sellPrice, fee: r.sell.fee },
      volume: c.volume,
      grossSpreadBps: c.grossSpreadBps,
      netProfit: c.netProfit,
      netProfitBps: c.netProfitBps,
      openedAt: r.openedAt,
      ts,
      cappedBy: c.cappedBy,
    }
    if (state === 'closed') {
      if (reason !== undefined) s.reason = reason
      s.durationMs = ts - r.openedAt
      s.peakNetProfit = r.peakNetProfit
      s.peakNetProfitBps = r.peakNetProfitBps
    } else {
      s.curve = crossCurve(c)
    }
    return s
  }

  const quoteProblem = (q: Quote, now: number): string | undefined => {
    if (q.status !== 'ok') return `${q.exchange} ${STATUS_REASON[q.status]}`
    if (now - q.receivedTs > opts.maxQuoteAgeMs) return `stale quote from ${q.exchange}`
    return undefined
  }

  /** Why a route cannot be trusted at `now`, or undefined when both quotes are usable. */
  const distrust = (r: Route, now: number): string | undefined => quoteProblem(r.buy, now) ?? quoteProblem(r.sell, now)

  const close = (r: Route, now: number, reason: string): Signal => {
    r.open = false
    open.delete(r)
    return event(r, 'closed', now, reason)
  }

  const moved = (now: number, before: number): boolean =>
    Math.abs(now - before) > opts.updateFraction * Math.abs(before)

  const maxAge = opts.maxQuoteAgeMs
  /**
   * The time of the tick being evaluated. Epoch milliseconds are beyond V8's small integers, so
   * passing one as an argument to a call that is not inlined boxes it (16 bytes per route per
   * tick); a double field is updated in place.
   */
  const clock = { now: -Infinity }

  const evaluate = (r: Route): Signal | undefined => {
    const now = clock.now
    const buy = r.buy
    const sell = r.sell
    // Inline checks first: this runs 2·(n − 1) times per tick; distrust() says why, only when needed.
    if (
      buy.status !== 'ok' ||
      sell.status !== 'ok' ||
      now - buy.receivedTs > maxAge ||
      now - sell.receivedTs > maxAge
    ) {
      return r.open ? close(r, now, distrust(r, now) as string) : undefined
    }
    // NaN fee: the exchange has no configured fee, so its profit cannot be known.
    if (!r.comparable) return undefined
    stats.evaluations++
    if (!r.open) {
      // The common case by far: a closed route whose top of book does not cross after fees. The
      // walk would stop at its first slice, and a closed route needs no figures.
      const ask = buy.asks[0]
      const bid = sell.bids[0]
      if (ask === undefined || bid === undefined || !(bid[0] * r.sellMul - ask[0] * r.buyMul > 0)) return undefined
    }
    const c = r.cross
    if (!walkCross(buy.asks, buy.fee, sell.bids, sell.fee, r.limits, c)) {
      return r.open
        ? close(r, now, `empty book on ${r.buy.asks.length === 0 ? r.buy.exchange : r.sell.exchange}`)
        : undefined
    }
    // A walk that matched nothing has no edge, whatever the thresholds say.
    if (!r.open) {
      if (c.volume <= 0 || c.netProfitBps < opts.openBps || c.netProfit < minProfit) return undefined
      r.open = true
      open.add(r)
      r.publishedVolume = c.volume
      r.publishedNetProfit = c.netProfit
      r.peakNetProfit = c.netProfit
      r.peakNetProfitBps = c.netProfitBps
      return event(r, 'opened', now)
    }
    if (c.volume <= 0 || c.netProfitBps < opts.closeBps) return close(r, now, 'spread closed')
    if (c.netProfit > r.peakNetProfit) r.peakNetProfit = c.netProfit
    if (c.netProfitBps > r.peakNetProfitBps) r.peakNetProfitBps = c.netProfitBps
    if (!moved(c.volume, r.publishedVolume) && !moved(c.netProfit, r.publishedNetProfit)) return undefined
    r.publishedVolume = c.volume
    r.publishedNetProfit = c.netProfit
    return event(r, 'updated', now)
  }

  return {
    stats,
    onTick(tick) {
      let book = books.get(tick.pair)
      if (book === undefined) books.set(tick.pair, (book = { quotes: [], routes: [] }))
      const quotes = book.quotes
      // A linear scan: a pair is listed on a handful of exchanges, and it allocates nothing.
      let x = 0
      while (x < quotes.length && quotes[x]?.exchange !== tick.exchange) x++
      const q = quotes[x] ?? addQuote(tick.pair, book, tick.exchange)
      // Core NATS delivers both ingestor replicas' copies of a tick (JetStream de-dup only guards
      // the stream). A later copy still proves the book was current then, so it refreshes the age.
      if (tick.receivedTs < q.receivedTs || (tick.seq !== undefined && tick.seq === q.seq)) {
        if (tick.seq === q.seq && tick.receivedTs > q.receivedTs) q.receivedTs = tick.receivedTs
        stats.ignoredTicks++
        return EMPTY
      }
      q.bids = tick.bids
      q.asks = tick.asks
      q.receivedTs = tick.receivedTs
      q.seq = tick.seq
      const now = tick.receivedTs
      clock.now = now
      let out: Signal[] | undefined
      const rowX = book.routes[x]
      for (let k = 0; k < quotes.length; k++) {
        if (k === x) continue
        const a = rowX?.[k]
        const b = book.routes[k]?.[x]
        const ea = a && evaluate(a)
        if (ea) (out ??= []).push(ea)
        const eb = b && evaluate(b)
        if (eb) (out ??= []).push(eb)
      }
      return out ?? EMPTY
    },
    setFeedStatus(exchange, status, now) {
      if ((statuses.get(exchange) ?? initialStatus) === status) return EMPTY
      statuses.set(exchange, status)
      for (const q of quotesByExchange.get(exchange) ?? []) {
        q.status = status
        // A book from before a disconnect or resync may be wrong (that is why it resynced): when the
        // feed is back, only ticks received after this count.
        if (status !== 'ok') {
          q.bids = NO_LEVELS
          q.asks = NO_LEVELS
        }
      }
      if (status === 'ok') return EMPTY
      let out: Signal[] | undefined
      for (const r of open) {
        if (r.buy.exchange !== exchange && r.sell.exchange !== exchange) continue
        const reason = distrust(r, now)
        if (reason !== undefined) (out ??= []).push(close(r, now, reason))
      }
      return out ?? EMPTY
    },
    feedStatus: (exchange) => statuses.get(exchange) ?? initialStatus,
    sweep(now) {
      let out: Signal[] | undefined
      for (const r of open) {
        const reason = distrust(r, now)
        if (reason !== undefined) (out ??= []).push(close(r, now, reason))
      }
      return out ?? EMPTY
    },
    nextExpiry() {
      let oldest = Infinity
      for (const r of open) {
        const t = r.buy.receivedTs < r.sell.receivedTs ? r.buy.receivedTs : r.sell.receivedTs
        if (t < oldest) oldest = t
      }
      return oldest + opts.maxQuoteAgeMs + 1
    },
    openSignals: () =>
      [...open].map((r) => ({
        id: r.id,
        pair: r.pair,
        buy: r.buy.exchange,
        sell: r.sell.exchange,
        openedAt: r.openedAt,
        volume: r.cross.volume,
        netProfit: r.cross.netProfit,
        netProfitBps: r.cross.netProfitBps,
      })),
  }
}
