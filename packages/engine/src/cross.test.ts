import { describe, expect, it } from 'vitest'
import type { Level } from '@arb/contracts'
import { crossCurve, emptyCross, UNLIMITED, walkCross, type CrossLimits } from './cross.js'

interface Case {
  name: string
  asks: Level[]
  buyFee: number
  bids: Level[]
  sellFee: number
  limits?: CrossLimits
  expected: {
    volume: number
    buyPrice: number
    sellPrice: number
    grossSpreadBps: number
    netProfit: number
    netProfitBps: number
    cappedBy: string
    curve: [number, number][]
  }
}

const cases: Case[] = [
  {
    name: 'top of book: volume is the smaller best size, fees on both legs',
    asks: [[100, 1]],
    buyFee: 0.001,
    bids: [[101, 2]],
    sellFee: 0.001,
    // 1 · (101·0.999 − 100·1.001) = 0.799; over 100 quote spent = 79.9 bps
    expected: {
      volume: 1,
      buyPrice: 100,
      sellPrice: 101,
      grossSpreadBps: 100,
      netProfit: 0.799,
      netProfitBps: 79.9,
      cappedBy: 'depth',
      curve: [[1, 0.799]],
    },
  },
  {
    name: 'fees larger than the gap: the first slice is unprofitable, so nothing is matched (best prices kept)',
    asks: [
      [100, 1],
      [100.1, 5],
    ],
    buyFee: 0.006,
    bids: [
      [100.5, 3],
      [100.4, 1],
    ],
    sellFee: 0.0025,
    // 100.5·0.9975 = 100.249 < 100·1.006 = 100.6
    expected: {
      volume: 0,
      buyPrice: 100,
      sellPrice: 100.5,
      grossSpreadBps: 50,
      netProfit: 0,
      netProfitBps: 0,
      cappedBy: 'edge',
      curve: [],
    },
  },
  {
    name: 'depth walk stops at the first unprofitable slice and reports VWAPs',
    asks: [
      [100, 1],
      [100.5, 1],
      [102, 5],
    ],
    buyFee: 0,
    bids: [
      [103, 1.5],
      [101, 2],
    ],
    sellFee: 0,
    // slices: 1 @ 100/103, 0.5 @ 100.5/103, 0.5 @ 100.5/101; then 102 > 101 stops
    expected: {
      volume: 2,
      buyPrice: 200.5 / 2,
      sellPrice: 205 / 2,
      grossSpreadBps: 300,
      netProfit: 4.5,
      netProfitBps: (4.5 / 200.5) * 10_000,
      cappedBy: 'edge',
      curve: [
        [1, 3],
        [1.5, 4.25],
        [2, 4.5],
      ],
    },
  },
  {
    name: 'depth walk that runs out of levels says so',
    asks: [
      [100, 1],
      [100.5, 1],
    ],
    buyFee: 0,
    bids: [[103, 5]],
    sellFee: 0,
    expected: {
      volume: 2,
      buyPrice: 100.25,
      sellPrice: 103,
      grossSpreadBps: 300,
      netProfit: 5.5,
      netProfitBps: (5.5 / 200.5) * 10_000,
      cappedBy: 'depth',
      curve: [
        [1, 3],
        [2, 5.5],
      ],
    },
  },
  {
    name: 'base balance on the sell exchange caps the volume',
    asks: [[100, 3]],
    buyFee: 0,
    bids: [[101, 3]],
    sellFee: 0,
    limits: { maxBase: 0.5, maxQuote: Infinity },
    expected: {
      volume: 0.5,
      buyPrice: 100,
      sellPrice: 101,
      grossSpreadBps: 100,
      netProfit: 0.5,
      netProfitBps: 100,
      cappedBy: 'balance',
      curve: [[0.5, 0.5]],
    },
  },
  {
    name: 'quote balance on the buy exchange caps the volume, fee included',
    asks: [
      [100, 1],
      [101, 3],
    ],
    buyFee: 0.01,
    bids: [[110, 5]],
    sellFee: 0,
    // 1 BTC costs 101 with the fee; the remaining 100 buys 100 / (101·1.01) more
    limits: { maxBase: Infinity, maxQuote: 201 },
    expected: {
      volume: 1 + 100 / (101 * 1.01),
      buyPrice: (100 + (100 / (101 * 1.01)) * 101) / (1 + 100 / (101 * 1.01)),
      sellPrice: 110,
      grossSpreadBps: 1000,
      netProfit: (1 + 100 / (101 * 1.01)) * 110 - 201,
      netProfitBps: (((1 + 100 / (101 * 1.01)) * 110 - 201) / (100 + (100 / (101 * 1.01)) * 101)) * 10_000,
      cappedBy: 'balance',
      curve: [
        [1, 110 - 101],
        [1 + 100 / (101 * 1.01), (1 + 100 / (101 * 1.01)) * 110 - 201],
      ],
    },
  },
  {
    name: 'a base balance that runs out at a level boundary is reported as the cap',
    asks: [
      [100, 1],
      [100.5, 1],
    ],
    buyFee: 0,
    bids: [[103, 5]],
    sellFee: 0,
    limits: { maxBase: 1, maxQuote: Infinity },
    expected: {
      volume: 1,
      buyPrice: 100,
      sellPrice: 103,
      grossSpreadBps: 300,
      netProfit: 3,
      netProfitBps: 300,
      cappedBy: 'balance',
      curve: [[1, 3]],
    },
  },
  {
    name: 'a quote balance spent exactly by whole levels stops without a dust slice',
    asks: [
      [0.1, 3],
      [0.2, 3],
      [0.3, 3],
    ],
    buyFee: 0.006,
    bids: [[0.5, 100]],
    sellFee: 0.001,
    // After both levels, subtracting their costs leaves 1.1e-16 of the balance in floats: that residue must not buy a dust slice.
    limits: { maxBase: Infinity, maxQuote: (3 * 0.1 + 3 * 0.2) * 1.006 },
    expected: {
      volume: 6,
      buyPrice: 0.15,
      sellPrice: 0.5,
      grossSpreadBps: 40_000,
      netProfit: 6 * 0.5 * 0.999 - 0.9 * 1.006,
      netProfitBps: ((6 * 0.5 * 0.999 - 0.9 * 1.006) / 0.9) * 10_000,
      cappedBy: 'balance',
      curve: [
        [3, 3 * (0.5 * 0.999 - 0.1 * 1.006)],
        [6, 6 * 0.5 * 0.999 - 0.9 * 1.006],
      ],
    },
  },
]

describe('walkCross', () => {
  it.each(cases)('$name', ({ asks, buyFee, bids, sellFee, limits, expected }) => {
    const out = emptyCross()
    expect(walkCross(asks, buyFee, bids, sellFee, limits ?? UNLIMITED, out)).toBe(true)
    for (const [k, v] of Object.entries(expected)) {
      if (k === 'curve') continue
      if (typeof v === 'number') expect(out[k as keyof typeof out], k).toBeCloseTo(v, 9)
      else expect(out[k as keyof typeof out], k).toBe(v)
    }
    const curve = crossCurve(out)
    expect(curve).toHaveLength(expected.curve.length)
    expected.curve.forEach(([v, p], k) => {
      expect(curve[k]?.[0], `curve[${k}] volume`).toBeCloseTo(v, 9)
      expect(curve[k]?.[1], `curve[${k}] profit`).toBeCloseTo(p, 9)
    })
    // The last point of the curve is the result itself.
    if (curve.length > 0) expect(curve.at(-1)).toEqual([out.volume, out.netProfit])
  })

  it('returns false and leaves the result alone when a side is empty', () => {
    const out = emptyCross()
    out.volume = 7
    expect(walkCross([], 0, [[101, 1]], 0, UNLIMITED, out)).toBe(false)
    expect(walkCross([[100, 1]], 0, [], 0, UNLIMITED, out)).toBe(false)
    expect(out.volume).toBe(7)
  })

  it('a zero balance matches nothing and never divides by zero', () => {
    const out = emptyCross()
    walkCross([[100, 1]], 0, [[101, 1]], 0, { maxBase: 0, maxQuote: Infinity }, out)
    expect(out).toMatchObject({ volume: 0, buyPrice: 100, sellPrice: 101, netProfit: 0, netProfitBps: 0 })
    expect(out.cappedBy).toBe('balance')
    expect(crossCurve(out)).toEqual([])
  })

  it('grows its curve buffer for books deeper than a tick and reuses it after', () => {
    const out = emptyCross()
    const asks = Array.from({ length: 30 }, (_, k): Level => [100 + k * 0.01, 1])
    const bids = Array.from({ length: 30 }, (_, k): Level => [110 - k * 0.01, 1])
    walkCross(asks, 0, bids, 0, UNLIMITED, out)
    expect(out.slices).toBe(30)
    expect(out.cappedBy).toBe('depth')
    const buffer = out.curve
    walkCross(asks, 0, bids, 0, UNLIMITED, out)
    expect(out.curve).toBe(buffer)
  })

  it('an equal price after fees is not profitable', () => {
    const out = emptyCross()
    walkCross([[100, 1]], 0, [[100, 1]], 0, UNLIMITED, out)
    expect(out).toMatchObject({ volume: 0, netProfit: 0, cappedBy: 'edge', slices: 0 })
  })
})
