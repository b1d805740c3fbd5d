import { describe, expect, it } from 'vitest'
import { backoffDelay } from './feed.js'

describe('backoffDelay', () => {
  it('doubles from the minimum up to the cap, scaled by the jitter', () => {
    const ceiling = (attempt: number) => backoffDelay(attempt, 500, 30_000, () => 1)
    expect([1, 2, 3, 4, 5, 6, 7, 8, 50, 5000].map(ceiling)).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000,
    ])
    expect(backoffDelay(3, 500, 30_000, () => 0)).toBe(0)
    expect(backoffDelay(3, 500, 30_000, () => 0.5)).toBe(1000)
  })
})
