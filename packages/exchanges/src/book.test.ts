import { describe, expect, it } from 'vitest'
import type { Level } from '@arb/contracts'
import { BookSide, isCrossed, L2Book, levelsEqual } from './book.js'

describe('L2Book', () => {
  it('sorts a snapshot best first, drops size-0 levels and keeps the last size of a repeated price', () => {
    const book = new L2Book()
    book.snapshot(
      [
        [99, 1],
        [101, 2],
        [100, 0],
        [98, 3],
        [101, 5],
      ],
      [
        [105, 1],
        [102, 2],
        [103, 0],
      ],
    )
    expect(book.top(10)).toEqual({
      bids: [
        [101, 5],
        [99, 1],
        [98, 3],
      ],
      asks: [
        [102, 2],
        [105, 1],
      ],
    })
  })

  it('inserts, updates and removes levels; removing an absent level does nothing', () => {
    const book = new L2Book()
    book.snapshot([[100, 1]], [[101, 1]])
    book.set('bid', 100.5, 2) // new best bid
    book.set('bid', 99, 3) // deeper bid
    book.set('bid', 100, 4) // update
    book.set('ask', 101, 0) // remove the only ask
    book.set('ask', 150, 0) // absent: no-op
    book.set('ask', 102, 1)
    expect(book.top(10)).toEqual({
      bids: [
        [100.5, 2],
        [100, 4],
        [99, 3],
      ],
      asks: [[102, 1]],
    })
    expect(book.bids.depth).toBe(3)
    expect(book.asks.depth).toBe(1)
  })

  it('returns at most n levels, and fresh tuples', () => {
    const side = new BookSide('ask')
    side.reset(Array.from({ length: 50 }, (_, i): Level => [100 + i, 1]))
    const top = side.top(10)
    expect(top).toHaveLength(10)
    expect(top[0]).toEqual([100, 1])
    expect(top[9]).toEqual([109, 1])
    top[0]![1] = 99
    expect(side.top(1)).toEqual([[100, 1]])
  })

  it('matches a naive map over many random changes', () => {
    // Seeded LCG so a failure reproduces.
    let s = 12345
    const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const book = new L2Book()
    const ref = { bid: new Map<number, number>(), ask: new Map<number, number>() }
    for (let i = 0; i < 5000; i++) {
      const side = rnd() < 0.5 ? 'bid' : 'ask'
      const price = Math.round((side === 'bid' ? 90 + rnd() * 10 : 100 + rnd() * 10) * 100) / 100
      const size = rnd() < 0.3 ? 0 : Math.round(rnd() * 1000) / 100
      book.set(side, price, size)
      if (size === 0) ref[side].delete(price)
      else ref[side].set(price, size)
    }
    const expected = (side: 'bid' | 'ask') =>
      [...ref[side].entries()].sort((a, b) => (side === 'bid' ? b[0] - a[0] : a[0] - b[0])).slice(0, 10)
    expect(book.top(10)).toEqual({ bids: expected('bid'), asks: expected('ask') })
    expect(book.bids.depth).toBe(ref.bid.size)
    expect(book.asks.depth).toBe(ref.ask.size)
  })

  it('clears', () => {
    const book = new L2Book()
    book.snapshot([[1, 1]], [[2, 1]])
    book.clear()
    expect(book.top(10)).toEqual({ bids: [], asks: [] })
  })
})

describe('levelsEqual / isCrossed', () => {
  it('compares prices and sizes in order', () => {
    expect(levelsEqual([[1, 2]], [[1, 2]])).toBe(true)
    expect(levelsEqual([[1, 2]], [[1, 3]])).toBe(false)
    expect(levelsEqual([[1, 2]], [])).toBe(false)
  })
  it('flags a best bid at or above the best ask', () => {
    expect(isCrossed([[100, 1]], [[101, 1]])).toBe(false)
    expect(isCrossed([[101, 1]], [[101, 1]])).toBe(true)
    expect(isCrossed([], [[101, 1]])).toBe(false)
  })
})
