import type { Level } from '@arb/contracts'
import { levelsEqual } from './book.js'

/**
 * Longest gap between two ticks of a book whose top levels did not change. Below the detector's
 * MAX_QUOTE_AGE_MS default (2000 ms), so a quiet but live book is not mistaken for a stale one,
 * while a busy book whose changes are all deeper than the top 10 does not flood the stream.
 */
export const TICK_REFRESH_MS = 1000

/** Decides, per book, whether a new top of book is worth a tick. */
export class TickGate {
  #bids: readonly Level[] = []
  #asks: readonly Level[] = []
  #lastTs = Number.NEGATIVE_INFINITY

  /** True (and remembered) when the top differs from the last one let through, or that one is TICK_REFRESH_MS old. */
  pass(bids: readonly Level[], asks: readonly Level[], receivedTs: number): boolean {
    const due =
      receivedTs - this.#lastTs >= TICK_REFRESH_MS || !levelsEqual(bids, this.#bids) || !levelsEqual(asks, this.#asks)
    if (due) {
      this.#bids = bids
      this.#asks = asks
      this.#lastTs = receivedTs
    }
    return due
  }
}
