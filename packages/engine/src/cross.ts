import type { CappedBy, CurvePoint, Level } from '@arb/contracts'

const BPS = 10_000
/**
 * A balance left below this fraction of the configured one counts as used up: subtracting
 * slice costs leaves float residue (1e-13 of a euro) that would otherwise buy a dust slice.
 */
const BALANCE_RESIDUE = 1e-12

/** What limited the volume (see `CappedBy` in @arb/contracts). */
export type CapReason = CappedBy

/**
 * Result of crossing one exchange's asks (buy leg) with another's bids (sell leg). A mutable
 * record the caller owns and passes in again, so evaluating on every tick allocates nothing.
 */
export interface Cross {
  /** Base volume matched; every matched slice is profitable after both fees. */
  volume: number
  /** Volume-weighted prices of the matched slices (the best prices when nothing was matched). */
  buyPrice: number
  sellPrice: number
  /** Best bid minus best ask over best ask, before fees (top of book). */
  grossSpreadBps: number
  /** Σ q·(b·(1 − fSell) − a·(1 + fBuy)) over the matched slices, quote currency; never negative. */
  netProfit: number
  /** netProfit over the quote spent before fees, Σ q·a; 0 when nothing was matched. */
  netProfitBps: number
  cappedBy: CapReason
  /** Matched slices. */
  slices: number
  /** `[volume, netProfit]` cumulated at the end of slice k, at [2k] and [2k + 1]; grown on demand. */
  curve: Float64Array
}

export const emptyCross = (): Cross => ({
  volume: 0,
  buyPrice: 0,
  sellPrice: 0,
  grossSpreadBps: 0,
  netProfit: 0,
  netProfitBps: 0,
  cappedBy: 'edge',
  slices: 0,
  // 10 levels a side give at most 19 slices.
  curve: new Float64Array(40),
})

/** The cross's profit curve as the Signal carries it (allocates: call it only for an event). */
export const crossCurve = (c: Cross): CurvePoint[] => {
  const out: CurvePoint[] = new Array<CurvePoint>(c.slices)
  for (let k = 0; k < c.slices; k++) out[k] = [c.curve[2 * k] as number, c.curve[2 * k + 1] as number]
  return out
}

export interface CrossLimits {
  /** Base currency held on the sell exchange (Infinity when unconfigured). */
  readonly maxBase: number
  /** Quote currency held on the buy exchange, fee included (Infinity when unconfigured). */
  readonly maxQuote: number
}

export const UNLIMITED: CrossLimits = { maxBase: Infinity, maxQuote: Infinity }

/**
 * The depth walk (docs/engine.md, "The rule"): walks the buy exchange's asks up and the sell
 * exchange's bids down together. A slice is the overlap of the current ask level and bid level;
 * slice q at ask a and bid b is profitable when `b·(1 − fSell) > a·(1 + fBuy)`. The walk takes
 * slices while they are profitable and stops at the first that is not (`edge`), when either
 * side's levels run out (`depth`), or when a balance is used up (`balance`): the base sold may
 * not exceed `maxBase`, the quote spent with the fee, Σ q·a·(1 + fBuy), may not exceed
 * `maxQuote`; the slice that reaches a cap is taken partially.
 *
 * Returns false (and leaves `out` untouched) when a side has no levels.
 */
export const walkCross = (
  asks: readonly Level[],
  buyFee: number,
  bids: readonly Level[],
  sellFee: number,
  limits: CrossLimits,
  out: Cross,
): boolean => {
  const bestAsk = asks[0]
  const bestBid = bids[0]
  if (bestAsk === undefined || bestBid === undefined) return false
  const need = 2 * (asks.length + bids.length)
  if (out.curve.length < need) out.curve = new Float64Array(need)
  const curve = out.curve
  const buyMul = 1 + buyFee
  const sellMul = 1 - sellFee
  const maxBase = limits.maxBase
  const maxQuote = limits.maxQuote
  // -1 when unlimited: Infinity − x stays Infinity, which no residue test may mistake for "used up".
  const baseResidue = maxBase === Infinity ? -1 : maxBase * BALANCE_RESIDUE
  const quoteResidue = maxQuote === Infinity ? -1 : maxQuote * BALANCE_RESIDUE
  let i = 0
  let j = 0
  let askPx = bestAsk[0]
  let askLeft = bestAsk[1]
  let bidPx = bestBid[0]
  let bidLeft = bestBid[1]
  let baseLeft = maxBase
  let quoteLeft = maxQuote
  let volume = 0
  let cost = 0
  let proceeds = 0
  let profit = 0
  let slices = 0
  let cappedBy: CapReason = 'edge'
  for (;;) {
    if (baseLeft <= baseResidue || quoteLeft <= quoteResidue) {
      cappedBy = 'balance'
      break
    }
    const buyNet = askPx * buyMul
    const edge = bidPx * sellMul - buyNet
    if (!(edge > 0)) break
    let size = askLeft < bidLeft ? askLeft : bidLeft
    const byBalance = Math.min(baseLeft, quoteLeft / buyNet)
    const capped = byBalance <= size
    if (capped) {
      // A balance too small to buy anything representable at this price.
      if (!(byBalance > 0)) {
        cappedBy = 'balance'
        break
      }
      size = byBalance
    }
    volume += size
    cost += size * askPx
    proceeds += size * bidPx
    // Summed per slice: each term is positive because the slice is, so rounding cannot make the total negative.
    profit += size * edge
    curve[2 * slices] = volume
    curve[2 * slices + 1] = profit
    slices++
    if (capped) {
      cappedBy = 'balance'
      break
    }
    baseLeft -= size
    quoteLeft -= size * buyNet
    askLeft -= size
    bidLeft -= size
    if (askLeft <= 0) {
      const next = asks[++i]
      if (next === undefined) {
        cappedBy = 'depth'
        break
      }
      askPx = next[0]
      askLeft = next[1]
    }
    if (bidLeft <= 0) {
      const next = bids[++j]
      if (next === undefined) {
        cappedBy = 'depth'
        break
      }
      bidPx = next[0]
      bidLeft = next[1]
    }
  }
  out.volume = volume
  out.buyPrice = volume > 0 ? cost / volume : bestAsk[0]
  out.sellPrice = volume > 0 ? proceeds / volume : bestBid[0]
  out.grossSpreadBps = ((bestBid[0] - bestAsk[0]) / bestAsk[0]) * BPS
  out.netProfit = profit
  out.netProfitBps = cost > 0 ? (profit / cost) * BPS : 0
  out.cappedBy = cappedBy
  out.slices = slices
  return true
}
