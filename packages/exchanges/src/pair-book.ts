import type { Pair } from '@arb/contracts'
import { L2Book } from './book.js'
import { FrameChain } from './seq.js'
import { TickGate } from './tick-gate.js'

/**
 * What a session keeps per pair, whatever the exchange; adapters extend it with their own (level
 * text for a checksum, sequence ids, a snapshot sync). Not in `book.ts`: `tick-gate.ts` imports
 * that module.
 */
export interface PairBook {
  readonly pair: Pair
  readonly book: L2Book
  /** The frame-hash `seq` of `seq.ts`, for exchanges that number nothing (unused where they do). */
  readonly chain: FrameChain
  readonly gate: TickGate
  /** The book holds a snapshot, so updates may apply to it. */
  ready: boolean
}

/** An empty book for `pair`, not ready until its snapshot. */
export const pairBook = (pair: Pair): PairBook => ({
  pair,
  book: new L2Book(),
  chain: new FrameChain(),
  gate: new TickGate(),
  ready: false,
})
