import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { Level } from '@arb/contracts'
import { crossCurve, emptyCross, walkCross, type Cross, type CrossLimits } from './cross.js'

// Prices in cents around 100 and sizes in 1e-4 units: realistic floats, with the rounding that
// comes with them, and books that cross often enough for the walk to go deep.
const levels = (side: 'asks' | 'bids') =>
  fc
    .tuple(
      fc.integer({ min: 9_800, max: 10_200 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50_000 })), {
        minLength: 1,
        maxLength: 10,
      }),
    )
    .map(([start, steps]): Level[] => {
      let cents = start
      return steps.map(([step, size]) => {
        const level: Level = [cents / 100, size / 10_000]
        cents += side === 'asks' ? step : -step
        return level
      })
    })

const fee = fc.constantFrom(0, 0.001, 0.0025, 0.0026, 0.006)
const limit = (max: number) => fc.oneof(fc.constant(Infinity), fc.double({ min: 0, max, noNaN: true }))
const limits: fc.Arbitrary<CrossLimits> = fc.record({ maxBase: limit(10), maxQuote: limit(1_000) })
const crossing = fc.record({ asks: levels('asks'), buyFee: fee, bids: levels('bids'), sellFee: fee, limits })

type Input = { asks: Level[]; buyFee: number; bids: Level[]; sellFee: number; limits: CrossLimits }

const walk = (x: Input): Cross => {
  const out = emptyCross()
  walkCross(x.asks, x.buyFee, x.bids, x.sellFee, x.limits, out)
  return out
}

/** Float slack: the same sums taken in another order may differ in the last bits. */
const slack = (x: number) => 1e-9 * Math.max(1, Math.abs(x))
const sizes = (book: Level[]) => book.reduce((s, [, q]) => s + q, 0)

const RUNS = 500

describe('walkCross properties', () => {
  it('netProfit is never negative, and every slice of the curve adds volume (and never loses profit)', () => {
    fc.assert(
      fc.property(crossing, (x) => {
        const c = walk(x)
        expect(c.netProfit).toBeGreaterThanOrEqual(0)
        expect(c.netProfitBps).toBeGreaterThanOrEqual(0)
        const curve = crossCurve(c)
        let [v0, p0] = [0, 0]
        for (const [v, p] of curve) {
          expect(v).toBeGreaterThan(v0)
          expect(p).toBeGreaterThanOrEqual(p0)
          ;[v0, p0] = [v, p]
        }
        expect(curve.at(-1) ?? [0, 0]).toEqual([c.volume, c.netProfit])
      }),
      { numRuns: RUNS },
    )
  })

  it('volume never exceeds either book’s depth or either balance', () => {
    fc.assert(
      fc.property(crossing, (x) => {
        const c = walk(x)
        expect(c.volume).toBeLessThanOrEqual(sizes(x.asks) + slack(c.volume))
        expect(c.volume).toBeLessThanOrEqual(sizes(x.bids) + slack(c.volume))
        expect(c.volume).toBeLessThanOrEqual(x.limits.maxBase + slack(c.volume))
        // The quote spent on the buy exchange, fee included.
        const spent = c.volume * c.buyPrice * (1 + x.buyFee)
        expect(spent).toBeLessThanOrEqual(x.limits.maxQuote + slack(spent))
      }),
      { numRuns: RUNS },
    )
  })

  it('removing a level from either book can only reduce volume and profit', () => {
    const withRemoval = crossing.chain((x) =>
      fc.record({
        x: fc.constant(x),
        side: fc.constantFrom<'asks' | 'bids'>('asks', 'bids'),
        index: fc.nat({ max: 9 }),
      }),
    )
    fc.assert(
      fc.property(withRemoval, ({ x, side, index }) => {
        const before = walk(x)
        const book = x[side]
        const thinner = { ...x, [side]: book.filter((_, k) => k !== index % book.length) }
        const after = thinner[side].length === 0 ? emptyCross() : walk(thinner)
        expect(after.volume).toBeLessThanOrEqual(before.volume + slack(before.volume))
        expect(after.netProfit).toBeLessThanOrEqual(before.netProfit + slack(before.netProfit))
      }),
      { numRuns: RUNS },
    )
  })

  it('more balance can only add volume and profit', () => {
    const pair = fc.record({ x: crossing, factor: fc.double({ min: 1, max: 4, noNaN: true }) })
    fc.assert(
      fc.property(pair, ({ x, factor }) => {
        const before = walk(x)
        const richer = walk({
          ...x,
          limits: { maxBase: x.limits.maxBase * factor, maxQuote: x.limits.maxQuote * factor },
        })
        expect(richer.volume).toBeGreaterThanOrEqual(before.volume - slack(before.volume))
        expect(richer.netProfit).toBeGreaterThanOrEqual(before.netProfit - slack(before.netProfit))
      }),
      { numRuns: RUNS },
    )
  })
})
