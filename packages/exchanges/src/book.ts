import type { Level } from '@arb/contracts'

export type Side = 'bid' | 'ask'

/**
 * One side of an L2 book: price → size in two parallel sorted arrays. The best level is kept
 * LAST, because most changes land near the top of the book and splicing near the end of an array
 * moves little; `top(n)` reads the last n entries backwards. Binary search finds a price in
 * O(log n); inserting or removing deep in the book is a memmove, which is cheap at exchange depths.
 */
export class BookSide {
  readonly side: Side
  readonly #prices: number[] = []
  readonly #sizes: number[] = []
  // Bids ascend (highest last), asks descend (lowest last).
  readonly #ascending: boolean

  constructor(side: Side) {
    this.side = side
    this.#ascending = side === 'bid'
  }

  get depth(): number {
    return this.#prices.length
  }

  /** Sets the total size at `price`; size 0 removes the level (a no-op when it is absent). */
  set(price: number, size: number): void {
    const i = this.#search(price)
    const found = i < this.#prices.length && this.#prices[i] === price
    if (size === 0) {
      if (found) {
        this.#prices.splice(i, 1)
        this.#sizes.splice(i, 1)
      }
    } else if (found) {
      this.#sizes[i] = size
    } else {
      this.#prices.splice(i, 0, price)
      this.#sizes.splice(i, 0, size)
    }
  }

  /** Replaces the whole side. Levels may come in any order; size-0 levels are dropped, and a repeated price keeps its last size. */
  reset(levels: Iterable<Level>): void {
    const sorted = [...levels].filter((l) => l[1] !== 0)
    sorted.sort(this.#ascending ? (a, b) => a[0] - b[0] : (a, b) => b[0] - a[0])
    this.#prices.length = 0
    this.#sizes.length = 0
    for (const [price, size] of sorted) {
      const last = this.#prices.length - 1
      if (last >= 0 && this.#prices[last] === price) this.#sizes[last] = size
      else {
        this.#prices.push(price)
        this.#sizes.push(size)
      }
    }
  }

  /** Up to `n` levels, best first, as fresh `[price, size]` tuples. */
  top(n: number): Level[] {
    const out: Level[] = []
    for (let i = this.#prices.length - 1; i >= 0 && out.length < n; i--) out.push([this.#prices[i]!, this.#sizes[i]!])
    return out
  }

  clear(): void {
    this.#prices.length = 0
    this.#sizes.length = 0
  }

  // First index whose price is not before `price` in this side's order (where it is or would go).
  #search(price: number): number {
    let lo = 0
    let hi = this.#prices.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const p = this.#prices[mid]!
      if (this.#ascending ? p < price : p > price) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** L2 order book of one pair. */
export class L2Book {
  readonly bids = new BookSide('bid')
  readonly asks = new BookSide('ask')

  snapshot(bids: Iterable<Level>, asks: Iterable<Level>): void {
    this.bids.reset(bids)
    this.asks.reset(asks)
  }

  set(side: Side, price: number, size: number): void {
    ;(side === 'bid' ? this.bids : this.asks).set(price, size)
  }

  top(n: number): { bids: Level[]; asks: Level[] } {
    return { bids: this.bids.top(n), asks: this.asks.top(n) }
  }

  clear(): void {
    this.bids.clear()
    this.asks.clear()
  }
}

/** True when two level lists are identical (same prices and sizes in the same order). */
export const levelsEqual = (a: readonly Level[], b: readonly Level[]): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (x[0] !== y[0] || x[1] !== y[1]) return false
  }
  return true
}

/** True when the best bid is at or above the best ask: a book no market can have. */
export const isCrossed = (bids: readonly Level[], asks: readonly Level[]): boolean => {
  const bid = bids[0]
  const ask = asks[0]
  return bid !== undefined && ask !== undefined && bid[0] >= ask[0]
}
