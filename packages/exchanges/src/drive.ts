import type { FeedRecord, Pair, Tick } from '@arb/contracts'
import type { AdapterSession, ExchangeAdapter, FrameResult } from './types.js'

/**
 * Runs adapter sessions over recorded or piped input the way the live feed (`feed.ts`) runs them
 * over sockets, so the ingestor's REPLAY_FILE, `npm run normalize` and the live service turn the
 * same frames into the same ticks and the same problems. Pure: no I/O, no clock.
 */

/** What one input did to a session: the adapter's result, or why the adapter never gave one. */
export type InputOutcome =
  | FrameResult
  | { readonly kind: 'malformed'; readonly reason: string } // the frame text is not JSON
  | { readonly kind: 'failed'; readonly err: unknown } // the adapter threw (a bug in it)

/** Parses one frame's text and hands it to the session; never throws. */
export const applyFrame = (session: AdapterSession, raw: string, receivedTs: number): InputOutcome => {
  let frame: unknown
  try {
    frame = JSON.parse(raw)
  } catch (err) {
    return { kind: 'malformed', reason: (err as Error).message }
  }
  try {
    return session.onFrame(frame, receivedTs, raw)
  } catch (err) {
    return { kind: 'failed', err }
  }
}

/** Hands a REST snapshot body to the session, as the feed's snapshot fetcher does; never throws. */
export const applySnapshot = (session: AdapterSession, pair: Pair, body: unknown, receivedTs: number): InputOutcome => {
  if (session.onSnapshot === undefined) {
    return { kind: 'failed', err: new Error('adapter asked for a snapshot but has no onSnapshot') }
  }
  try {
    return session.onSnapshot(pair, body, receivedTs)
  } catch (err) {
    return { kind: 'failed', err }
  }
}

/**
 * Stable codes of the problems an input can cause, as `npm run normalize` prints them.
 * Public: codes may be added, never renamed.
 */
export const PROBLEM_CODES = {
  /** The frame text is not JSON (the feed's `malformed` counter). */
  malformed: 'ARB_ERR_MALFORMED_FRAME',
  /** The adapter refused the frame: unknown message, unreadable fields, an exchange error reply. */
  error: 'ARB_ERR_BAD_FRAME',
  /** The adapter threw: a bug in the adapter, never the exchange's fault. */
  failed: 'ARB_ERR_ADAPTER_FAILED',
  /** The book cannot be trusted (update before snapshot, crossed book, unreadable update): reconnect. */
  resync: 'ARB_ERR_RESYNC',
  /** A resync because the exchange's checksum does not match the book. */
  checksum: 'ARB_ERR_CHECKSUM',
  /** A resync because the exchange's sequence numbers skipped. */
  gap: 'ARB_ERR_SEQUENCE_GAP',
  /** A line of a recording that does not fit the record format, or names a connection never opened. */
  badRecord: 'ARB_ERR_BAD_RECORD',
  /** The recorder dropped records here (disk too slow): what follows may differ from the live run. */
  recordingGap: 'ARB_ERR_RECORDING_GAP',
} as const

export type ProblemCode = (typeof PROBLEM_CODES)[keyof typeof PROBLEM_CODES]

export interface DriveProblem {
  readonly code: ProblemCode
  readonly reason: string
  /** The start of the frame text (or snapshot body) that caused it. */
  readonly excerpt: string
}

/** The problem an outcome is, or undefined for data and control. */
export const problemOf = (outcome: InputOutcome, excerpt: string): DriveProblem | undefined => {
  switch (outcome.kind) {
    case 'ticks':
    case 'control':
      return undefined
    case 'malformed':
      return { code: PROBLEM_CODES.malformed, reason: `not JSON: ${outcome.reason}`, excerpt }
    case 'failed': {
      const err = outcome.err
      return { code: PROBLEM_CODES.failed, reason: err instanceof Error ? err.message : String(err), excerpt }
    }
    case 'error':
      return { code: PROBLEM_CODES.error, reason: outcome.reason, excerpt }
    case 'resync':
      return { code: PROBLEM_CODES[outcome.cause ?? 'resync'], reason: outcome.reason, excerpt }
  }
}

export const EXCERPT_CHARS = 120

/** Counts since the driver started, named as the feed's counters are. */
export interface DriveCounters {
  /** Frames handed to a session (malformed ones included). */
  frames: number
  ticks: number
  malformed: number
  /** Frames or snapshots the adapter refused or failed on. */
  errors: number
  resyncs: number
  snapshots: number
  /** Sessions started: one per connection, and one after each resync of the raw-frame connection. */
  sessions: number
  /** Frames and snapshots of a connection after its resync: the feed had dropped it and read no more. */
  ignored: number
  /** receivedTs of the last data frame, or null before the first. */
  lastMessageTs: number | null
}

export interface DriverOptions {
  readonly adapter: ExchangeAdapter
  /**
   * Pairs of the connection that frames without a connection number (raw frame lines) go to;
   * it must be one the adapter serves with a single connection (see `singleConnection`).
   */
  readonly pairs: readonly Pair[]
  /** The ticks of one input, in order; not called for an input that moved nothing. */
  readonly onTicks: (ticks: readonly Tick[]) => void
  readonly onProblem?: (problem: DriveProblem) => void
  /** Pairs a session asked REST snapshots for; offline, they only come as snapshot records. */
  readonly onFetch?: (pairs: readonly Pair[]) => void
}

/** True when the adapter serves these pairs on one connection, so raw frames need no connection number. */
export const singleConnection = (adapter: ExchangeAdapter, pairs: readonly Pair[]): boolean =>
  adapter.endpoints(pairs, adapter.url).length === 1

interface Connection {
  readonly session: AdapterSession
  /** Set by a resync: the feed drops the socket, so nothing more of it reaches a session. */
  dropped: boolean
}

// Key of the connection that frames without a `conn` go to; record connection numbers are >= 0.
const RAW = -1

/**
 * One session per connection, as the feed keeps them: `open` starts a fresh one, a resync ends
 * it. Frames without a connection number go to a connection of `pairs` that is opened on first
 * use and, after a resync, opened afresh by the next frame, as the feed's reconnect would.
 */
export class SessionDriver {
  readonly counters: DriveCounters = {
    frames: 0,
    ticks: 0,
    malformed: 0,
    errors: 0,
    resyncs: 0,
    snapshots: 0,
    sessions: 0,
    ignored: 0,
    lastMessageTs: null,
  }
  readonly #o: DriverOptions
  readonly #connections = new Map<number, Connection>()

  constructor(options: DriverOptions) {
    this.#o = options
  }

  /** Applies one record of a recording; a `start` record is the caller's to check. */
  apply(record: FeedRecord): void {
    switch (record.rec) {
      case 'start':
        return
      case 'open':
        return this.open(record.conn, record.pairs)
      case 'frame':
        return this.frame(record.text, record.receivedTs, record.conn)
      case 'snapshot':
        return this.snapshot(record.pair, record.body, record.receivedTs, record.conn)
      case 'close':
        return this.close(record.conn)
      case 'dropped':
        return this.#problem({
          code: PROBLEM_CODES.recordingGap,
          reason: `the recorder dropped ${record.count} records here`,
          excerpt: '',
        })
    }
  }

  /** A connection opened: a fresh session for its pairs, replacing any under the same number. */
  open(conn: number, pairs: readonly Pair[]): void {
    this.#connections.delete(conn)
    this.#start(conn, pairs)
  }

  close(conn: number): void {
    this.#connections.delete(conn)
  }

  frame(text: string, receivedTs: number, conn?: number): void {
    const c = this.#connection(conn, text)
    if (c === undefined) return
    this.counters.frames++
    // As the feed does: a keep-alive reply (OKX's `pong`) is neither JSON nor the session's.
    if (this.#o.adapter.keepalive?.isReply(text) === true) return
    const outcome = applyFrame(c.session, text, receivedTs)
    if (outcome.kind === 'malformed') this.counters.malformed++
    this.#handle(c, outcome, receivedTs, text)
  }

  snapshot(pair: Pair, body: unknown, receivedTs: number, conn?: number): void {
    const c = this.#connection(conn, body)
    if (c === undefined) return
    this.counters.snapshots++
    this.#handle(c, applySnapshot(c.session, pair, body, receivedTs), receivedTs, body)
  }

  #connection(conn: number | undefined, input: unknown): Connection | undefined {
    // The raw-frame connection is deleted on a resync rather than dropped, so it is never `dropped`.
    if (conn === undefined) return this.#connections.get(RAW) ?? this.#start(RAW, this.#o.pairs)
    const c = this.#connections.get(conn)
    if (c === undefined) {
      this.#problem({
        code: PROBLEM_CODES.badRecord,
        reason: `connection ${conn} was never opened`,
        excerpt: cut(input),
      })
      return undefined
    }
    if (c.dropped) {
      this.counters.ignored++
      return undefined
    }
    return c
  }

  #start(key: number, pairs: readonly Pair[]): Connection | undefined {
    let session: AdapterSession
    try {
      session = this.#o.adapter.createSession(pairs)
    } catch (err) {
      this.#problem({ code: PROBLEM_CODES.failed, reason: (err as Error).message, excerpt: pairs.join(',') })
      return undefined
    }
    const c: Connection = { session, dropped: false }
    this.#connections.set(key, c)
    this.counters.sessions++
    return c
  }

  // The feed's result handling (feed.ts `handle`), minus sockets and timers.
  #handle(c: Connection, outcome: InputOutcome, receivedTs: number, input: unknown): void {
    switch (outcome.kind) {
      case 'ticks':
        this.counters.lastMessageTs = receivedTs
        if (outcome.ticks.length > 0) {
          this.counters.ticks += outcome.ticks.length
          this.#o.onTicks(outcome.ticks)
        }
        if (outcome.fetch !== undefined) this.#o.onFetch?.(outcome.fetch)
        return
      case 'control':
        if (outcome.fetch !== undefined) this.#o.onFetch?.(outcome.fetch)
        return
      case 'resync':
        this.counters.resyncs++
        c.dropped = true
        // The raw-frame connection "reconnects" at once: the next raw frame opens a fresh session.
        if (this.#connections.get(RAW) === c) this.#connections.delete(RAW)
        break
      case 'error':
      case 'failed':
        this.counters.errors++
        break
      case 'malformed':
        break
    }
    const problem = problemOf(outcome, cut(input))
    if (problem !== undefined) this.#problem(problem)
  }

  #problem(problem: DriveProblem): void {
    this.#o.onProblem?.(problem)
  }
}

const cut = (input: unknown): string => {
  const text = typeof input === 'string' ? input : (JSON.stringify(input) ?? String(input))
  return text.slice(0, EXCERPT_CHARS)
}
