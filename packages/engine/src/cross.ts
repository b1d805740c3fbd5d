import type { Level } from '@arb/contracts'

const BPS = 10_000

/** What stopped the walk: the next slice lost money, the tick's levels ran out, or a balance ran out. */
export type CapReason = 'edge' | 'depth' | 'balance'

/**
 * Result of crossing one exchange's asks (buy leg) with another's bids (sell leg). A mutable
 * record the caller owns and passes in again, so evaluating on every tick allocates nothing.
 */
export interface Cross {
  /** Base volume matched; every slice of it is profitable after fees, except a lone unprofitable first slice. */
  volume: number
  /** Volume-weighted prices of the matched slices (the best prices when nothing could be matched). */
  buyPrice: number
  sellPrice: number
  /** Best bid minus best ask over best ask, before fees. */
  grossSpreadBps: number
  /** Quote currency after both taker fees. */
  netProfit: number
  /** netProfit over the quote spent before fees (volume · buyPrice). */
  netProfitBps: number
  cappedBy: CapReason
}

export const emptyCross = (): Cross => ({
  volume: 0,
  buyPrice: 0,
  sellPrice: 0,
  grossSpreadBps: 0,
  netProfit: 0,
  netProfitBps: 0,
  cappedBy: 'edge',
})

export interface CrossLimits {
  /** Base currency held on the sell exchange (Infinity when unconfigured). */
  readonly maxBase: number
  /** Quote currency held on the buy exchange, fee included (Infinity when unconfigured). */
  readonly maxQuote: number
}

export const UNLIMITED: CrossLimits = { maxBase: Infinity, maxQuote: Infinity }

/**
 * Depth-aware cross: walks the buy exchange's asks up and the sell exchange's bids down, slice
 * by slice (a slice is the overlap of the current ask level and bid level), while the slice
 * earns money after both taker fees: `bid·(1−fSell) > ask·(1+fBuy)`. Stops at the first
 * unprofitable slice, when either side's levels run out, or when a balance is used up.
 *
 * The first slice is always taken, even when it loses money, so the result also describes a
 * closed market (negative netProfit) and equals the plain top-of-book rule:
 * `volume = min(askSize, bidSize)`, `netProfit = volume·(bid·(1−fSell) − ask·(1+fBuy))`.
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
  const buyMul = 1 + buyFee
  const sellMul = 1 - sellFee
  let i = 0
  let j = 0
  let askPx = bestAsk[0]
  let askLeft = bestAsk[1]
  let bidPx = bestBid[0]
  let bidLeft = bestBid[1]
  let baseLeft = limits.maxBase
  let quoteLeft = limits.maxQuote
  let volume = 0
  let cost = 0
  let proceeds = 0
  let cappedBy: CapReason = 'edge'
  for (;;) {
    const profitable = bidPx * sellMul > askPx * buyMul
    if (!profitable && volume > 0) break
    const byQuote = quoteLeft / (askPx * buyMul)
    const balanceCap = Math.min(baseLeft, byQuote)
    const size = Math.min(askLeft, bidLeft, balanceCap)
    volume += size
    cost += size * askPx
    proceeds += size * bidPx
    if (!profitable) break
    // Compared with the cap itself, not with a remainder, so float residue cannot spin out tiny slices.
    if (size >= balanceCap) {
      cappedBy = 'balance'
      break
    }
    baseLeft -= size
    quoteLeft -= size * askPx * buyMul
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
  out.netProfit = proceeds * sellMul - cost * buyMul
  out.netProfitBps = cost > 0 ? (out.netProfit / cost) * BPS : 0
  out.cappedBy = cappedBy
  return true
}
