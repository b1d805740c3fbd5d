import { describe, expect, it } from 'vitest'
import { retryDelay, RETRY_MAX_MS, RETRY_MIN_MS } from './pipeline.js'

describe('retryDelay', () => {
  it('doubles from the minimum up to the cap, scaled by the jitter', () => {
    const top = (attempt: number) => retryDelay(attempt, RETRY_MIN_MS, RETRY_MAX_MS, () => 1)
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(top)).toEqual([200, 400, 800, 1600, 3200, 6400, 10_000, 10_000])
    expect(retryDelay(7, RETRY_MIN_MS, RETRY_MAX_MS, () => 0.25)).toBe(2500)
    expect(retryDelay(3, RETRY_MIN_MS, RETRY_MAX_MS, () => 0)).toBe(0)
  })
})
