import type { Pair } from '@arb/contracts'
import type { FrameResult } from './types.js'

/** Diffs kept per pair while its snapshot is awaited; the oldest go first (the sync rule still holds). */
export const MAX_BUFFERED_DIFFS = 10_000
/** Snapshots in a row older than the stream before the session gives up and resyncs. */
export const MAX_STALE_SNAPSHOTS = 5

/**
 * The start of a book from a REST snapshot (Binance, Bitstamp, OKX): buffer the diffs, ask the
 * feed for the snapshot once the first is buffered, and ask again while the snapshot is older than
 * the first buffered diff, up to MAX_STALE_SNAPSHOTS. Which diffs a snapshot holds, and how the
 * rest apply, is the exchange's rule: its adapter compares the keys and applies what `drain` hands over.
 */
export class SnapshotSync<Diff> {
  readonly #pair: Pair
  readonly #staleReason: (pair: Pair, count: number) => string
  readonly #buffer: Diff[] = []
  // A snapshot request is with the feed: diffs need not ask for one.
  #fetching = false
  #stale = 0

  constructor(pair: Pair, staleReason: (pair: Pair, count: number) => string) {
    this.#pair = pair
    this.#staleReason = staleReason
  }

  /** The oldest diff kept: a snapshot older than it misses the changes in between. */
  get first(): Diff | undefined {
    return this.#buffer[0]
  }

  get last(): Diff | undefined {
    return this.#buffer.at(-1)
  }

  /** Keeps a diff until the snapshot is applied; the first since the last request asks for it. */
  buffer(diff: Diff): FrameResult {
    this.#buffer.push(diff)
    if (this.#buffer.length > MAX_BUFFERED_DIFFS) this.#buffer.shift()
    if (this.#fetching) return { kind: 'ticks', ticks: [] }
    this.#fetching = true
    return { kind: 'ticks', ticks: [], fetch: [this.#pair] }
  }

  /** The snapshot is older than `first`: fetch it again, or resync after MAX_STALE_SNAPSHOTS in a row. */
  stale(): FrameResult {
    this.#stale++
    if (this.#stale >= MAX_STALE_SNAPSHOTS) {
      return { kind: 'resync', reason: this.#staleReason(this.#pair, this.#stale) }
    }
    this.#fetching = true
    return { kind: 'control', fetch: [this.#pair] }
  }

  /** A snapshot came back; should the adapter find it unreadable, the next diff asks for another. */
  arrived(): void {
    this.#fetching = false
  }

  /** The snapshot is in the book: the buffered diffs, oldest first, and an empty buffer. */
  drain(): Diff[] {
    this.#stale = 0
    return this.#buffer.splice(0)
  }
}
