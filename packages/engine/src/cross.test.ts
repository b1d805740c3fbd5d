import { describe, expect, it } from 'vitest'
import type { Level } from '@arb/contracts'
import { emptyCross, UNLIMITED, walkCross, type CrossLimits } from './cross.js'

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
    },
  },
  {
    name: 'fees larger than the gap: the first slice is still reported, at a loss',
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
    // 100.5·0.9975 − 100·1.006 = −0.35125
    expected: {
      volume: 1,
      buyPrice: 100,
      sellPrice: 100.5,
      grossSpreadBps: 50,
      netProfit: -0.35125,
      netProfitBps: -35.125,
      cappedBy: 'edge',
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
    },
  },
]

describe('walkCross', () => {
  it.each(cases)('$name', ({ asks, buyFee, bids, sellFee, limits, expected }) => {
    const out = emptyCross()
    expect(walkCross(asks, buyFee, bids, sellFee, limits ?? UNLIMITED, out)).toBe(true)
    for (const [k, v] of Object.entries(expected)) {
      if (typeof v === 'number') expect(out[k as keyof typeof out], k).toBeCloseTo(v, 9)
      else expect(out[k as keyof typeof out], k).toBe(v)
    }
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
  })
})
