import type { ExchangeId, Pair, Tick } from '@arb/contracts'

/** One WebSocket connection the feed opens for an adapter, and the pairs it carries. */
export interface Endpoint {
  readonly url: string
  readonly pairs: readonly Pair[]
}

/**
 * A pure exchange adapter (CONVENTIONS.md §4): no sockets, no clock, no logging. The shared
 * feed (`feed.ts`) owns the WebSocket and drives the adapter.
 */
export interface ExchangeAdapter {
  readonly id: ExchangeId
  /** Production base URL; EXCHANGE_URL replaces it (simulator, tests). */
  readonly url: string
  /** Documentation page the adapter follows. */
  readonly docs: string
  readonly defaultPairs: readonly Pair[]
  /** Base-tier taker fee as a fraction (0.006 = 0.6%), and where it came from. */
  readonly takerFee: number
  readonly takerFeeSource: string
  /** Connections to open for these pairs, given the base URL in force. */
  endpoints(pairs: readonly Pair[], baseUrl: string): readonly Endpoint[]
  /** Frames (JSON values) to send after the socket opens. */
  subscribe(pairs: readonly Pair[]): readonly unknown[]
  /** Fresh book and sequence state for one connection. */
  createSession(pairs: readonly Pair[]): AdapterSession
  /**
   * Production REST base URL, for exchanges whose book sync needs a REST snapshot (Binance,
   * Bitstamp); EXCHANGE_REST_URL replaces it. Absent when the WebSocket carries the snapshot.
   */
  readonly restUrl?: string
  /** The snapshot URL of one pair under the REST base URL in force; required with `restUrl`. */
  snapshotUrl?(pair: Pair, restBaseUrl: string): string
  /**
   * An application-level keep-alive the exchange requires besides WebSocket pings (OKX: the text
   * `ping` after less than 30 s without a message, answered by the text `pong`). Absent for most.
   */
  readonly keepalive?: Keepalive
}

/**
 * Run by the feed: after `intervalMs` without any frame it sends `frame`; when the next `intervalMs`
 * brings no frame either it reconnects (counted as a pong timeout). Frames for which `isReply` is
 * true are the exchange's answer: not JSON, not data, never handed to the session.
 */
export interface Keepalive {
  readonly intervalMs: number
  /** Sent as a text frame, verbatim. */
  readonly frame: string
  isReply(raw: string): boolean
}

export interface AdapterSession {
  /**
   * `frame` is the parsed JSON, `raw` the exact frame text it was parsed from (exchanges without a
   * sequence number derive `seq` from it, see `seq.ts`), `receivedTs` epoch ms when it arrived.
   */
  onFrame(frame: unknown, receivedTs: number, raw: string): FrameResult
  /**
   * The parsed body of a REST snapshot the session asked for (a result's `fetch`). Sessions keep
   * buffering diffs until it arrives and then apply the buffered ones the exchange's sync rule keeps.
   */
  onSnapshot?(pair: Pair, body: unknown, receivedTs: number): FrameResult
}

/**
 * Pairs whose REST snapshot the session wants now (the feed fetches them one at a time, honouring
 * HTTP 429 / Retry-After, and hands each body to `onSnapshot`). A pair already being fetched is
 * not fetched twice.
 */
export interface FetchRequest {
  readonly fetch?: readonly Pair[]
}

export type FrameResult =
  | ({ kind: 'ticks'; ticks: readonly Tick[] } & FetchRequest) // data; may be empty when the frame moved nothing in the top levels
  | ({ kind: 'control' } & FetchRequest) // ack/heartbeat: not data, does not reset staleness
  | { kind: 'resync'; reason: string; cause?: ResyncCause } // the book cannot be trusted: reconnect
  | { kind: 'error'; reason: string } // malformed or an exchange error: counted, logged, skipped

/**
 * Why a session asked for a resync, when it is one of the causes tools report apart (`npm run
 * normalize` gives each its own problem code): a checksum that does not match the book, or a gap
 * in the exchange's sequence numbers. Absent for the others (an update before the snapshot, a
 * crossed book, an unreadable update).
 */
export type ResyncCause = 'checksum' | 'gap'
