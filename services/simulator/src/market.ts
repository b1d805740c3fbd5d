import { gaussian, mulberry32, randomInt, uniform, type Rng } from './random.js'

/**
 * The simulated market, pure and synchronous: one mean-reverting random walk per pair ("fair"
 * price) and one order book per exchange and pair quoting around it. `step()` advances one
 * TICK_MS and returns exactly what changed, so the protocols can stream real diffs. No clock,
 * no I/O: the same seed and options give the same books, step after step.
 */

export type Side = 'bid' | 'ask'
/** Taker side of a trade, as the exchanges report it. */
export type TakerSide = 'buy' | 'sell'

/** Sizes are integers in 1e-8 base units, so both Coinbase strings and BL3P `amount_int` are exact. */
export const SIZE_DECIMALS = 8
const SIZE_SCALE = 10 ** SIZE_DECIMALS

/** `price` counts ticks of 10^-priceDecimals quote units; `size` counts 1e-8 base units. */
export interface Level {
  readonly price: number
  readonly size: number
  /** Resting orders at the level (BL3P's `count`). */
  readonly orders: number
}

/** A level's new total size; 0 removes it (Coinbase l2update semantics). */
export interface LevelChange {
  readonly side: Side
  readonly price: number
  readonly size: number
}

/** How one exchange quotes; lives in that exchange's protocol file. */
export interface VenueProfile {
  readonly id: string
  /** Base-tier taker fee as a fraction; windows are sized to beat both legs' fees. */
  readonly takerFee: number
  /** The exchange's own symbol for a pair, or undefined when it does not list it. */
  symbol(pair: string): string | undefined
  /** Pairs listed whether or not they are configured. */
  readonly alwaysLists: readonly string[]
  /** Decimals of the price grid (tick = 10^-decimals) for a pair trading around `refPrice`. */
  priceDecimals(refPrice: number): number
  /** Levels kept per side. */
  readonly depth: number
  readonly halfSpreadBps: number
  /** Where this exchange's mid sits relative to the shared fair price. */
  readonly offsetBps: number
  /** Distance between neighbouring levels, drawn uniformly from this range. */
  readonly levelGapBps: readonly [number, number]
  /** Typical value of the best level in USD; deeper levels grow from it. */
  readonly topSizeUsd: number
}

export interface BookView {
  readonly venue: string
  readonly pair: string
  readonly symbol: string
  readonly priceDecimals: number
  /** Best first: bids descending, asks ascending. */
  readonly bids: readonly Level[]
  readonly asks: readonly Level[]
  /** Coinbase-style full-feed counter: grows by one per book change and per trade. */
  readonly sequence: number
  readonly lastTradeId: number
}

export interface BookUpdate {
  readonly venue: string
  readonly pair: string
  readonly changes: readonly LevelChange[]
}

export interface Trade {
  readonly venue: string
  readonly pair: string
  readonly side: TakerSide
  readonly price: number
  readonly size: number
  readonly tradeId: number
  readonly sequence: number
}

export interface ArbWindow {
  readonly pair: string
  /** Exchange where the arbitrageur buys (low ask) and where it sells (high bid). */
  readonly buy: string
  readonly sell: string
  readonly targetNetBps: number
  readonly openedAtMs: number
  readonly closesAtMs: number
}

export interface Edge {
  readonly grossBps: number
  readonly netBps: number
  /** Base units available at both top levels. */
  readonly topSize: number
}

export interface WindowEvent extends Edge {
  readonly kind: 'opened' | 'closed'
  readonly window: ArbWindow
}

export interface StepResult {
  readonly step: number
  readonly simTimeMs: number
  readonly updates: readonly BookUpdate[]
  readonly trades: readonly Trade[]
  readonly events: readonly WindowEvent[]
}

export interface MarketOptions {
  readonly seed: number
  readonly tickMs: number
  readonly pairs: readonly string[]
  readonly venues: readonly VenueProfile[]
  readonly volatilityBps: number
  readonly opportunityEveryMs: number
  readonly opportunityMs: number
  readonly netBps: readonly [number, number]
}

export interface MarketState {
  readonly step: number
  readonly simTimeMs: number
  readonly pairs: readonly {
    readonly pair: string
    readonly fair: number
    readonly venues: Readonly<Record<string, { bid: number; ask: number; mid: number }>>
  }[]
  readonly window: (ArbWindow & Edge) | null
}

export interface Market {
  readonly tickMs: number
  readonly venues: readonly VenueProfile[]
  /** Every simulated pair: the configured ones plus what a venue always lists. */
  readonly pairs: readonly string[]
  step(): StepResult
  book(venue: string, pair: string): BookView | undefined
  /** The books a venue lists, in pair order. */
  listings(venue: string): readonly BookView[]
  window(): ArbWindow | undefined
  edge(buy: BookView, sell: BookView): Edge
  state(): MarketState
}

// Rough USD prices so books start where the real ones trade; unknown assets start at 1 USD.
const USD_PRICE: Readonly<Record<string, number>> = {
  BTC: 100_000,
  ETH: 3500,
  SOL: 180,
  LTC: 100,
  XRP: 2.5,
  ADA: 0.8,
  DOGE: 0.3,
  EUR: 1.08,
  GBP: 1.27,
  USD: 1,
  USDT: 1,
  USDC: 1,
}
const usdPrice = (asset: string): number => USD_PRICE[asset] ?? 1
const assets = (pair: string): [string, string] => {
  const [base = '', quote = ''] = pair.split('-')
  return [base, quote]
}
export const referencePrice = (pair: string): number => {
  const [base, quote] = assets(pair)
  return usdPrice(base) / usdPrice(quote)
}

// Pull towards the reference price with a one-hour half-life, so a demo left running for a day
// still shows believable prices; over a 10 s window it is invisible next to the noise.
const MEAN_REVERSION_PER_S = Math.LN2 / 3600
const TRADES_PER_S = 2
const TRADE_SIZE_USD = 2000
const CHURN_MAX = 3
// Enough depth at the top of both legs that a window is worth trading, not a dust artefact.
const WINDOW_TOP_LEVELS = 3
const WINDOW_TOP_SIZE_USD = 30_000

/** `12345, 2` → `"123.45"`: exact decimal text from integer units, no float formatting. */
export const toDecimalString = (units: number, decimals: number): string => {
  if (decimals === 0) return String(units)
  const digits = String(units).padStart(decimals + 1, '0')
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`
}

export const sizeToNumber = (size: number): number => size / SIZE_SCALE

interface MutableLevel {
  price: number
  size: number
  orders: number
}

interface Touch {
  readonly side: Side
  readonly price: number
  readonly before: number
  after: number
}

interface SimBook {
  readonly venue: string
  readonly profile: VenueProfile
  readonly pair: string
  readonly symbol: string
  readonly priceDecimals: number
  readonly scale: number
  readonly baseUsd: number
  readonly bids: MutableLevel[]
  readonly asks: MutableLevel[]
  sequence: number
  lastTradeId: number
  /** Fair price in ticks, for sizing gaps. */
  refTicks: number
  /** Pre-step size of every level touched this step, so only net changes are reported. */
  readonly touched: Map<number, Touch>
}

interface PairState {
  readonly pair: string
  readonly logRef: number
  logFair: number
  readonly books: SimBook[]
}

const better = (side: Side, a: number, b: number): boolean => (side === 'bid' ? a > b : a < b)
const away = (side: Side, price: number, ticks: number): number => (side === 'bid' ? price - ticks : price + ticks)
const touchKey = (side: Side, price: number): number => price * 2 + (side === 'bid' ? 0 : 1)

export const createMarket = (options: MarketOptions): Market => {
  const rng: Rng = mulberry32(options.seed)
  const { tickMs, venues } = options
  const dtS = tickMs / 1000
  const sigmaStep = (options.volatilityBps / 1e4) * Math.sqrt(dtS)
  const tradeProbability = Math.min(1, TRADES_PER_S * dtS)

  const pairs = [...options.pairs]
  for (const v of venues) for (const p of v.alwaysLists) if (!pairs.includes(p)) pairs.push(p)

  const touch = (book: SimBook, side: Side, price: number, before: number, after: number) => {
    const key = touchKey(side, price)
    const t = book.touched.get(key)
    if (t) t.after = after
    else book.touched.set(key, { side, price, before, after })
  }
  const levels = (book: SimBook, side: Side) => (side === 'bid' ? book.bids : book.asks)
  const insertAt = (book: SimBook, side: Side, index: number, price: number) => {
    const size = levelSize(book, index)
    levels(book, side).splice(index, 0, { price, size, orders: randomInt(rng, 1, 2 + Math.floor(index / 4)) })
    touch(book, side, price, 0, size)
  }
  const removeAt = (book: SimBook, side: Side, index: number) => {
    const [gone] = levels(book, side).splice(index, 1)
    if (gone) touch(book, side, gone.price, gone.size, 0)
  }
  const setSize = (book: SimBook, side: Side, level: MutableLevel, size: number) => {
    touch(book, side, level.price, level.size, size)
    level.size = size
  }
  // Sizes grow away from the top, with log-normal noise so no two levels look alike.
  const levelSize = (book: SimBook, index: number): number => {
    const base = (book.profile.topSizeUsd / book.baseUsd) * SIZE_SCALE
    return Math.max(1, Math.round(base * (1 + 0.35 * index) * Math.exp(0.5 * gaussian(rng) - 0.125)))
  }
  const gapTicks = (book: SimBook): number => {
    const [lo, hi] = book.profile.levelGapBps
    return Math.max(1, Math.round((uniform(rng, lo, hi) / 1e4) * book.refTicks))
  }

  const setTop = (book: SimBook, side: Side, target: number) => {
    const lv = levels(book, side)
    while (lv[0] && better(side, lv[0].price, target)) removeAt(book, side, 0)
    if (lv[0]?.price !== target) insertAt(book, side, 0, target)
  }

  // Closes gaps left by a moved top or a removed level, then keeps exactly `depth` levels.
  const fill = (book: SimBook, side: Side) => {
    const lv = levels(book, side)
    const { depth } = book.profile
    const maxGap = Math.max(1, Math.round(((book.profile.levelGapBps[1] * 1.5) / 1e4) * book.refTicks))
    for (let i = 0; i < lv.length - 1 && i < depth - 1; i++) {
      const a = lv[i]!.price
      const distance = Math.abs(lv[i + 1]!.price - a)
      if (distance > maxGap) insertAt(book, side, i + 1, away(side, a, Math.min(gapTicks(book), distance - 1)))
    }
    while (lv.length < depth) {
      const next = away(side, lv[lv.length - 1]!.price, gapTicks(book))
      if (next < 1) break
      insertAt(book, side, lv.length, next)
    }
    while (lv.length > depth) removeAt(book, side, lv.length - 1)
  }

  // A few random levels resize, vanish or appear each step, as resting orders come and go.
  const churn = (book: SimBook) => {
    const n = randomInt(rng, 1, CHURN_MAX)
    for (let k = 0; k < n; k++) {
      const side: Side = rng() < 0.5 ? 'bid' : 'ask'
      const lv = levels(book, side)
      const r = rng()
      if (r < 0.7) {
        const index = Math.floor(rng() ** 2 * lv.length)
        const level = lv[index]
        if (level) setSize(book, side, level, levelSize(book, index))
      } else if (r < 0.85) {
        if (lv.length > 2) removeAt(book, side, randomInt(rng, 1, lv.length - 1))
      } else if (lv.length > 1) {
        const index = randomInt(rng, 0, lv.length - 2)
        const a = lv[index]!.price
        const distance = Math.abs(lv[index + 1]!.price - a)
        if (distance >= 2) {
          const price = away(side, a, randomInt(rng, 1, distance - 1))
          lv.splice(index + 1, 0, { price, size: 0, orders: randomInt(rng, 1, 3) })
          setSize(book, side, lv[index + 1]!, levelSize(book, index + 1))
        }
      }
    }
  }

  const maybeTrade = (book: SimBook, trades: Trade[]) => {
    if (rng() >= tradeProbability) return
    const side: TakerSide = rng() < 0.5 ? 'buy' : 'sell'
    const resting: Side = side === 'buy' ? 'ask' : 'bid'
    const top = levels(book, resting)[0]
    if (!top) return
    const wanted = Math.round((TRADE_SIZE_USD / book.baseUsd) * SIZE_SCALE * -Math.log(1 - rng()))
    // Never empties the level: the top stays where the quote process put it.
    const size = Math.min(Math.floor(top.size * 0.8), Math.max(1, wanted))
    if (size < 1) return
    setSize(book, resting, top, top.size - size)
    book.sequence += 1
    book.lastTradeId += 1
    trades.push({
      venue: book.profile.id,
      pair: book.pair,
      side,
      price: top.price,
      size,
      tradeId: book.lastTradeId,
      sequence: book.sequence,
    })
  }

  const boost = (book: SimBook, side: Side) => {
    const min = Math.round((WINDOW_TOP_SIZE_USD / book.baseUsd) * SIZE_SCALE)
    const lv = levels(book, side)
    for (let i = 0; i < WINDOW_TOP_LEVELS && i < lv.length; i++) {
      const level = lv[i]!
      if (level.size < min) setSize(book, side, level, min + Math.round(min * 0.5 * rng()))
    }
  }

  const quote = (book: SimBook, centre: number, halfSpread: number) => {
    const bid = Math.floor(centre * (1 - halfSpread) * book.scale)
    const ask = Math.max(bid + 1, Math.ceil(centre * (1 + halfSpread) * book.scale))
    setTop(book, 'bid', bid)
    setTop(book, 'ask', ask)
  }

  const pairStates: PairState[] = []
  const booksByVenue = new Map<string, SimBook[]>()
  for (const v of venues) booksByVenue.set(v.id, [])
  for (const pair of pairs) {
    const ref = referencePrice(pair)
    const state: PairState = { pair, logRef: Math.log(ref), logFair: Math.log(ref), books: [] }
    for (const venue of venues) {
      const symbol = venue.symbol(pair)
      const listed = options.pairs.includes(pair) || venue.alwaysLists.includes(pair)
      if (symbol === undefined || !listed) continue
      const priceDecimals = venue.priceDecimals(ref)
      const book: SimBook = {
        venue: venue.id,
        profile: venue,
        pair,
        symbol,
        priceDecimals,
        scale: 10 ** priceDecimals,
        baseUsd: usdPrice(assets(pair)[0]),
        bids: [],
        asks: [],
        sequence: randomInt(rng, 10_000_000_000, 20_000_000_000),
        lastTradeId: randomInt(rng, 10_000_000, 90_000_000),
        refTicks: ref * 10 ** priceDecimals,
        touched: new Map(),
      }
      const halfSpread = (venue.halfSpreadBps / 1e4) * uniform(rng, 0.8, 1.2)
      quote(book, ref * (1 + venue.offsetBps / 1e4), halfSpread)
      fill(book, 'bid')
      fill(book, 'ask')
      book.touched.clear()
      state.books.push(book)
      booksByVenue.get(venue.id)!.push(book)
    }
    pairStates.push(state)
  }
  // A window needs the pair on at least two exchanges.
  const candidates = pairStates.filter((p) => p.books.length >= 2)

  let stepCount = 0
  let active: ArbWindow | undefined
  let nextWindowAtMs = options.opportunityEveryMs

  const findBook = (venue: string, pair: string) => booksByVenue.get(venue)?.find((b) => b.pair === pair)
  const feeOf = (venue: string) => venues.find((v) => v.id === venue)?.takerFee ?? 0

  const edge = (buy: BookView, sell: BookView): Edge => {
    const ask = buy.asks[0]
    const bid = sell.bids[0]
    if (!ask || !bid) return { grossBps: Number.NaN, netBps: Number.NaN, topSize: 0 }
    const a = ask.price / 10 ** buy.priceDecimals
    const b = bid.price / 10 ** sell.priceDecimals
    return {
      grossBps: (b / a - 1) * 1e4,
      netBps: ((b * (1 - feeOf(sell.venue)) - a * (1 + feeOf(buy.venue))) / a) * 1e4,
      topSize: sizeToNumber(Math.min(ask.size, bid.size)),
    }
  }
  const windowEdge = (w: ArbWindow): Edge => {
    const buy = findBook(w.buy, w.pair)
    const sell = findBook(w.sell, w.pair)
    return buy && sell ? edge(buy, sell) : { grossBps: Number.NaN, netBps: Number.NaN, topSize: 0 }
  }

  const openWindow = (simTimeMs: number): ArbWindow | undefined => {
    const p = candidates[randomInt(rng, 0, candidates.length - 1)]
    if (!p) return undefined
    const buyIndex = randomInt(rng, 0, p.books.length - 1)
    const sellIndex = (buyIndex + randomInt(rng, 1, p.books.length - 1)) % p.books.length
    return {
      pair: p.pair,
      buy: p.books[buyIndex]!.profile.id,
      sell: p.books[sellIndex]!.profile.id,
      targetNetBps: uniform(rng, options.netBps[0], options.netBps[1]),
      openedAtMs: simTimeMs,
      closesAtMs: simTimeMs + options.opportunityMs,
    }
  }

  const stepPair = (p: PairState, trades: Trade[]) => {
    p.logFair += -MEAN_REVERSION_PER_S * dtS * (p.logFair - p.logRef) + sigmaStep * gaussian(rng)
    const fair = Math.exp(p.logFair)
    const halfSpreads = p.books.map((b) => (b.profile.halfSpreadBps / 1e4) * uniform(rng, 0.8, 1.2))
    const centres = p.books.map((b) => fair * (1 + b.profile.offsetBps / 1e4))
    const w = active?.pair === p.pair ? active : undefined
    const buyIndex = w ? p.books.findIndex((b) => b.profile.id === w.buy) : -1
    const sellIndex = w ? p.books.findIndex((b) => b.profile.id === w.sell) : -1
    if (w && buyIndex >= 0 && sellIndex >= 0) {
      // Sell bid / buy ask must equal (1 + buy fee + net) / (1 - sell fee); split the move evenly
      // (geometrically) between the two exchanges around their usual centres.
      const hb = halfSpreads[buyIndex]!
      const hs = halfSpreads[sellIndex]!
      const ratio =
        (1 + p.books[buyIndex]!.profile.takerFee + w.targetNetBps / 1e4) / (1 - p.books[sellIndex]!.profile.takerFee)
      const k = (ratio * (1 + hb)) / (1 - hs)
      const mid = Math.sqrt(centres[buyIndex]! * centres[sellIndex]!)
      centres[buyIndex] = mid / Math.sqrt(k)
      centres[sellIndex] = mid * Math.sqrt(k)
    }
    p.books.forEach((book, i) => {
      book.refTicks = fair * book.scale
      quote(book, centres[i]!, halfSpreads[i]!)
      churn(book)
      maybeTrade(book, trades)
      if (i === sellIndex) boost(book, 'bid')
      if (i === buyIndex) boost(book, 'ask')
      fill(book, 'bid')
      fill(book, 'ask')
    })
  }

  const step = (): StepResult => {
    stepCount += 1
    const simTimeMs = stepCount * tickMs
    let closed: ArbWindow | undefined
    let opened: ArbWindow | undefined
    if (active && simTimeMs >= active.closesAtMs) {
      closed = active
      active = undefined
    }
    if (!active && simTimeMs >= nextWindowAtMs) {
      while (nextWindowAtMs <= simTimeMs) nextWindowAtMs += options.opportunityEveryMs
      active = opened = openWindow(simTimeMs)
    }
    const trades: Trade[] = []
    for (const p of pairStates) stepPair(p, trades)
    const updates: BookUpdate[] = []
    for (const p of pairStates) {
      for (const book of p.books) {
        const changes: LevelChange[] = []
        for (const t of book.touched.values()) {
          if (t.before !== t.after) changes.push({ side: t.side, price: t.price, size: t.after })
        }
        book.touched.clear()
        book.sequence += changes.length
        if (changes.length > 0) updates.push({ venue: book.profile.id, pair: book.pair, changes })
      }
    }
    const events: WindowEvent[] = []
    if (closed) events.push({ kind: 'closed', window: closed, ...windowEdge(closed) })
    if (opened) events.push({ kind: 'opened', window: opened, ...windowEdge(opened) })
    return { step: stepCount, simTimeMs, updates, trades, events }
  }

  const state = (): MarketState => ({
    step: stepCount,
    simTimeMs: stepCount * tickMs,
    pairs: pairStates.map((p) => ({
      pair: p.pair,
      fair: Math.exp(p.logFair),
      venues: Object.fromEntries(
        p.books.map((b) => {
          const bid = (b.bids[0]?.price ?? Number.NaN) / b.scale
          const ask = (b.asks[0]?.price ?? Number.NaN) / b.scale
          return [b.profile.id, { bid, ask, mid: (bid + ask) / 2 }]
        }),
      ),
    })),
    window: active ? { ...active, ...windowEdge(active) } : null,
  })

  return {
    tickMs,
    venues,
    pairs,
    step,
    book: findBook,
    listings: (venue) => booksByVenue.get(venue) ?? [],
    window: () => active,
    edge,
    state,
  }
}
