import { describe, expect, it } from 'vitest'
import { gaussian, mulberry32, randomInt } from './random.js'

describe('mulberry32', () => {
  it('repeats its sequence for a seed and differs across seeds', () => {
    const a = mulberry32(42)
    const b = mulberry32(42)
    const c = mulberry32(7)
    const xs = Array.from({ length: 100 }, () => a())
    expect(Array.from({ length: 100 }, () => b())).toEqual(xs)
    expect(Array.from({ length: 100 }, () => c())).not.toEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
  })

  it('accepts negative seeds', () => {
    expect(mulberry32(-1)()).toBe(mulberry32(0xffffffff)())
  })

  it('gives a roughly standard normal and an inclusive integer range', () => {
    const rng = mulberry32(1)
    const n = 20_000
    const xs = Array.from({ length: n }, () => gaussian(rng))
    const mean = xs.reduce((s, x) => s + x, 0) / n
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n
    expect(Math.abs(mean)).toBeLessThan(0.03)
    expect(Math.abs(variance - 1)).toBeLessThan(0.05)
    const ints = new Set(Array.from({ length: 1000 }, () => randomInt(rng, 1, 3)))
    expect([...ints].sort()).toEqual([1, 2, 3])
  })
})
