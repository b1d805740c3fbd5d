import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket, { type RawData } from 'ws'
import type { Pair, RecordClose, RecordFrame, RecordOpen, RecordSnapshot, Tick } from '@arb/contracts'
import { applyFrame, applySnapshot } from './drive.js'
import type { AdapterSession, Endpoint, ExchangeAdapter, FrameResult } from './types.js'

/**
 * The only owner of `ws` (CONVENTIONS.md §4, after tardis `RealTimeFeedBase` and cryptofeed
 * `ConnectionHandler`): one WebSocket per adapter endpoint, subscribe after open, protocol pings,
 * a stale-data timeout that ignores control frames, and capped exponential back-off with full
 * jitter that resets on the first data frame of a connection. A bad frame never kills the feed.
 * For exchanges whose books start from a REST snapshot, it also fetches the snapshots a session
 * asks for, one at a time per connection, backing off on failures and on HTTP 429. For exchanges
 * that require an application-level keep-alive (`adapter.keepalive`), it sends it when the socket
 * has been quiet and swallows the reply.
 */

/** `syncing`: the socket is open but a REST snapshot the book needs has not been applied yet. */
export type FeedStatus = 'connecting' | 'syncing' | 'connected' | 'disconnected'

/** The logger calls the feed makes; a pino logger fits. */
export interface FeedLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface FeedOptions {
  readonly adapter: ExchangeAdapter
  readonly pairs: readonly Pair[]
  /** Replaces `adapter.url` (EXCHANGE_URL: simulator, tests). */
  readonly baseUrl?: string
  /** Replaces `adapter.restUrl` (EXCHANGE_REST_URL: simulator, tests). */
  readonly restBaseUrl?: string
  readonly log: FeedLogger
  /** Called synchronously with the ticks of one frame; an exception is logged and the feed goes on. */
  readonly onTicks: (ticks: readonly Tick[]) => void
  readonly onStatus?: (status: FeedStatus, endpoint: Endpoint) => void
  /** Reconnect when no data frame (control frames do not count) arrives for this long. */
  readonly staleAfterMs: number
  readonly backoffMinMs: number
  readonly backoffMaxMs: number
  readonly pingIntervalMs?: number
  readonly handshakeTimeoutMs?: number
  readonly maxPayloadBytes?: number
  readonly snapshotTimeoutMs?: number
  /** Jitter source in [0, 1); injectable so tests can pin the delays. */
  readonly random?: () => number
  /** Clock for `receivedTs`. */
  readonly now?: () => number
  /** Sees everything the sessions are given, in order (RECORD_DIR); called synchronously, so it must not block. */
  readonly recorder?: FeedRecorder
}

/** The records of a feed recording (feed-record.v1) that one connection produces. */
export type FeedRecorder = (record: RecordOpen | RecordFrame | RecordSnapshot | RecordClose) => void

/** Monotonic counts since start, summed over the feed's connections. */
export interface FeedCounters {
  frames: number
  ticks: number
  malformed: number
  errors: number
  resyncs: number
  reconnects: number
  staleTimeouts: number
  pongTimeouts: number
  /** REST snapshots handed to the sessions (applied, or found older than the stream and fetched again). */
  snapshots: number
  /** REST snapshot requests that failed (network, timeout, HTTP error, bad body) and were retried. */
  snapshotFailures: number
  /** REST snapshot requests refused with HTTP 429 (or Binance's 418 ban) and retried later. */
  rateLimited: number
  /** receivedTs of the last data frame, or null before the first. */
  lastMessageTs: number | null
}

export interface ConnectionInfo {
  readonly url: string
  readonly pairs: readonly Pair[]
  readonly status: FeedStatus
  /** Consecutive connections without data; the next back-off grows with it. */
  readonly attempt: number
}

export interface Feed {
  readonly counters: Readonly<FeedCounters>
  /** `connected` when every connection is, `disconnected` when any is, `syncing` when any is, otherwise `connecting`. */
  status(): FeedStatus
  connections(): readonly ConnectionInfo[]
  /** Closes every socket and cancels every timer; resolves when the sockets are closed. */
  stop(): Promise<void>
}

/** Protocol ping period; a ping still unanswered at the next one means the link is dead. */
export const PING_INTERVAL_MS = 10_000
export const HANDSHAKE_TIMEOUT_MS = 10_000
/** A frame above this is refused (ws closes with 1009) instead of being buffered. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
export const SNAPSHOT_TIMEOUT_MS = 10_000
// Node fires a longer timer after 1 ms instead: a Retry-After date far away must not mean "now".
const MAX_TIMER_MS = 2 ** 31 - 1
// How long stop() waits for the server's close frame before dropping the socket.
const CLOSE_TIMEOUT_MS = 2000
const EXCERPT_CHARS = 120

/** Full-jitter back-off (AWS architecture blog): uniform in [0, min(max, min·2^(attempt-1))]. */
export const backoffDelay = (attempt: number, minMs: number, maxMs: number, random: () => number): number =>
  Math.round(random() * Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1)))

// Log the first few of a repeated problem, then one in a thousand, so a broken stream cannot flood the log.
const worthLogging = (count: number): boolean => count <= 10 || count % 1000 === 0

export const runFeed = (options: FeedOptions): Feed => {
  const counters: FeedCounters = {
    frames: 0,
    ticks: 0,
    malformed: 0,
    errors: 0,
    resyncs: 0,
    reconnects: 0,
    staleTimeouts: 0,
    pongTimeouts: 0,
    snapshots: 0,
    snapshotFailures: 0,
    rateLimited: 0,
    lastMessageTs: null,
  }
  const baseUrl = options.baseUrl ?? options.adapter.url
  let sockets = 0
  const nextConn = () => sockets++
  const connections = options.adapter
    .endpoints(options.pairs, baseUrl)
    .map((endpoint) => new Connection(endpoint, options, counters, nextConn))
  for (const c of connections) c.start()
  return {
    counters,
    status: () =>
      connections.every((c) => c.status === 'connected')
        ? 'connected'
        : connections.some((c) => c.status === 'disconnected')
          ? 'disconnected'
          : connections.some((c) => c.status === 'syncing')
            ? 'syncing'
            : 'connecting',
    connections: () => connections.map((c) => c.info()),
    stop: async () => {
      await Promise.all(connections.map((c) => c.stop()))
    },
  }
}

class Connection {
  status: FeedStatus = 'connecting'
  readonly #endpoint: Endpoint
  readonly #o: FeedOptions
  readonly #counters: FeedCounters
  /** Numbers every socket of the feed, for the recording. */
  readonly #nextConn: () => number
  #attempt = 0
  #ws: WebSocket | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(endpoint: Endpoint, options: FeedOptions, counters: FeedCounters, nextConn: () => number) {
    this.#endpoint = endpoint
    this.#o = options
    this.#counters = counters
    this.#nextConn = nextConn
  }

  info(): ConnectionInfo {
    return { url: this.#endpoint.url, pairs: this.#endpoint.pairs, status: this.status, attempt: this.#attempt }
  }

  start(): void {
    this.#open()
  }

  stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#retryTimer)
    const ws = this.#ws
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      ws.once('close', () => resolve())
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000, 'shutdown')
        setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS).unref()
      } else if (ws.readyState === WebSocket.CONNECTING) {
        ws.terminate()
      }
    })
  }

  #setStatus(status: FeedStatus): void {
    this.status = status
    this.#o.onStatus?.(status, this.#endpoint)
  }

  // One socket's whole life. State lives in this closure, so late events of an old socket can
  // never touch the next one.
  #open(): void {
    const { adapter, log, staleAfterMs } = this.#o
    const { url, pairs } = this.#endpoint
    const now = this.#o.now ?? Date.now
    const counters = this.#counters
    const conn = this.#nextConn()
    const recorder = this.#o.recorder
    const record: FeedRecorder | undefined =
      recorder &&
      ((r) => {
        try {
          recorder(r)
        } catch (err) {
          log.error({ err, url }, 'recorder failed')
        }
      })
    const session = recorded(adapter.createSession(pairs), conn, record)
    let opened = false
    let gotData = false
    let awaitingPong = false
    let closeReason: string | undefined
    let pingTimer: NodeJS.Timeout | undefined
    let staleTimer: NodeJS.Timeout | undefined
    const keepalive = adapter.keepalive
    let keepaliveTimer: NodeJS.Timeout | undefined
    let keepaliveSent = false

    this.#setStatus('connecting')
    log.debug({ url, attempt: this.#attempt }, 'connecting')
    const ws = new WebSocket(url, {
      maxPayload: this.#o.maxPayloadBytes ?? MAX_PAYLOAD_BYTES,
      handshakeTimeout: this.#o.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    })
    this.#ws = ws

    const drop = (reason: string) => {
      closeReason ??= reason
      // At once, not on 'close': a resync from a snapshot must not let the fetcher start the next request.
      snapshots.cancel()
      ws.terminate()
    }

    ws.on('open', () => {
      opened = true
      record?.({ v: 1, rec: 'open', conn, ts: now(), url, pairs: [...pairs] })
      this.#setStatus('connected')
      log.info({ url, pairs }, 'connected')
      const frames = adapter.subscribe(pairs)
      for (const frame of frames) ws.send(JSON.stringify(frame))
      if (frames.length > 0) log.info({ url, pairs, frames: frames.length }, 'subscribed')
      pingTimer = setInterval(() => {
        if (awaitingPong) {
          counters.pongTimeouts++
          log.warn({ url, pingIntervalMs: this.#o.pingIntervalMs ?? PING_INTERVAL_MS }, 'no pong, reconnecting')
          drop('pong timeout')
          return
        }
        awaitingPong = true
        ws.ping()
      }, this.#o.pingIntervalMs ?? PING_INTERVAL_MS)
      staleTimer = setTimeout(() => {
        counters.staleTimeouts++
        log.warn({ url, staleAfterMs }, 'no data, reconnecting')
        drop('stale')
      }, staleAfterMs)
      if (keepalive !== undefined) {
        keepaliveTimer = setTimeout(function idle() {
          if (keepaliveSent) {
            counters.pongTimeouts++
            log.warn({ url, intervalMs: keepalive.intervalMs }, 'no keepalive reply, reconnecting')
            drop('keepalive timeout')
            return
          }
          keepaliveSent = true
          ws.send(keepalive.frame)
          keepaliveTimer = setTimeout(idle, keepalive.intervalMs)
        }, keepalive.intervalMs)
      }
    })

    ws.on('pong', () => {
      awaitingPong = false
    })

    ws.on('message', (data: RawData) => {
      if (closeReason !== undefined) return
      counters.frames++
      const receivedTs = now()
      const raw = toText(data)
      if (keepalive !== undefined) {
        keepaliveSent = false
        keepaliveTimer?.refresh()
        // The reply is not JSON and not for the session (nor the recording).
        if (keepalive.isReply(raw)) return
      }
      record?.({ v: 1, rec: 'frame', conn, receivedTs, text: raw })
      const result = applyFrame(session, raw, receivedTs)
      if (result.kind === 'malformed') {
        counters.malformed++
        if (worthLogging(counters.malformed)) {
          log.warn({ url, malformed: counters.malformed, excerpt: raw.slice(0, EXCERPT_CHARS) }, 'malformed frame')
        }
        return
      }
      if (result.kind === 'failed') {
        counters.errors++
        log.error({ err: result.err, url, excerpt: raw.slice(0, EXCERPT_CHARS) }, 'adapter failed on a frame')
        return
      }
      handle(result, receivedTs)
    })

    const handle = (result: FrameResult, receivedTs: number): void => {
      switch (result.kind) {
        case 'ticks':
          counters.lastMessageTs = receivedTs
          staleTimer?.refresh()
          if (!gotData) {
            gotData = true
            if (this.#attempt > 0) log.info({ url, after: this.#attempt }, 'data flowing again')
            this.#attempt = 0
          }
          if (result.ticks.length > 0) {
            counters.ticks += result.ticks.length
            try {
              this.#o.onTicks(result.ticks)
            } catch (err) {
              log.error({ err, url }, 'tick handler failed')
            }
          }
          if (result.fetch !== undefined) snapshots.request(result.fetch)
          break
        case 'control':
          if (result.fetch !== undefined) snapshots.request(result.fetch)
          break
        case 'resync':
          counters.resyncs++
          log.warn({ url, reason: result.reason }, 'resync, reconnecting')
          drop(`resync: ${result.reason}`)
          break
        case 'error':
          counters.errors++
          if (worthLogging(counters.errors))
            log.warn({ url, reason: result.reason, errors: counters.errors }, 'bad frame')
          break
      }
    }

    const snapshots = new SnapshotFetcher({
      options: this.#o,
      counters,
      session,
      handle,
      onPending: (pending) => {
        if (closeReason !== undefined || ws.readyState !== WebSocket.OPEN) return
        this.#setStatus(pending ? 'syncing' : 'connected')
      },
    })

    ws.on('error', (err) => {
      closeReason ??= err.message
      if (!this.#stopped) log.warn({ url, err }, 'websocket error')
    })

    ws.on('close', (code, reason) => {
      snapshots.cancel()
      clearInterval(pingTimer)
      clearTimeout(staleTimer)
      clearTimeout(keepaliveTimer)
      if (opened) record?.({ v: 1, rec: 'close', conn, ts: now(), code, reason: closeReason ?? reason.toString() })
      this.#setStatus('disconnected')
      if (this.#stopped) {
        log.info({ url }, 'closed')
        return
      }
      this.#attempt++
      counters.reconnects++
      const delayMs = backoffDelay(
        this.#attempt,
        this.#o.backoffMinMs,
        this.#o.backoffMaxMs,
        this.#o.random ?? Math.random,
      )
      log.warn(
        {
          url,
          attempt: this.#attempt,
          delayMs,
          code,
          reason: closeReason ?? (reason.toString() || 'closed by server'),
        },
        'reconnecting',
      )
      this.#retryTimer = setTimeout(() => this.#open(), delayMs)
    })
  }
}

interface SnapshotFetcherDeps {
  readonly options: FeedOptions
  readonly counters: FeedCounters
  readonly session: AdapterSession
  /** Where a snapshot's FrameResult goes: the same path as a frame's. */
  readonly handle: (result: FrameResult, receivedTs: number) => void
  /** True while snapshots are queued or in flight. */
  readonly onPending: (pending: boolean) => void
}

/**
 * The REST snapshots of one connection. One request at a time, so a resync of many pairs cannot
 * burst past the exchange's request-weight limits; failures and HTTP 429 back off with the feed's
 * jittered back-off (429 at least as long as Retry-After says), and retry until the connection
 * closes. So does a snapshot the session asks for again as soon as it has it (older than its
 * stream): fetched again at once, it would most likely be the same stale copy. `cancel()` aborts
 * the request in flight and ends the fetcher.
 */
class SnapshotFetcher {
  readonly #d: SnapshotFetcherDeps
  readonly #queue: Pair[] = []
  readonly #abort = new AbortController()
  #running = false

  constructor(deps: SnapshotFetcherDeps) {
    this.#d = deps
  }

  request(pairs: readonly Pair[]): void {
    if (this.#abort.signal.aborted) return
    for (const pair of pairs) if (!this.#queue.includes(pair)) this.#queue.push(pair)
    if (this.#running || this.#queue.length === 0) return
    this.#run().catch((err: unknown) => {
      // A bug, not the exchange: leave no connection syncing forever on a book that never comes.
      this.#running = false
      this.#d.counters.errors++
      this.#d.options.log.error({ err }, 'snapshot fetcher failed')
      this.#d.handle({ kind: 'resync', reason: 'snapshot fetcher failed' }, (this.#d.options.now ?? Date.now)())
    })
  }

  cancel(): void {
    this.#abort.abort()
  }

  async #run(): Promise<void> {
    this.#running = true
    this.#d.onPending(true)
    let failures = 0
    while (this.#queue.length > 0 && !this.#abort.signal.aborted) {
      const pair = this.#queue[0]!
      const outcome = await this.#fetch(pair)
      if (this.#abort.signal.aborted) break
      let failure: { reason: string; retryAfterMs?: number | undefined }
      if (outcome.ok) {
        this.#queue.shift()
        this.#apply(pair, outcome.body, outcome.receivedTs)
        if (this.#abort.signal.aborted) break
        if (!this.#queue.includes(pair)) {
          failures = 0
          continue
        }
        failure = { reason: 'older than the stream, the session asks again' }
      } else {
        failure = outcome
      }
      failures++
      const { backoffMinMs, backoffMaxMs, random = Math.random } = this.#d.options
      const delayMs = Math.min(
        MAX_TIMER_MS,
        Math.max(failure.retryAfterMs ?? 0, backoffDelay(failures, backoffMinMs, backoffMaxMs, random)),
      )
      this.#d.options.log.warn(
        { pair, reason: failure.reason, attempt: failures, delayMs },
        'snapshot failed, retrying',
      )
      try {
        await sleep(delayMs, undefined, { signal: this.#abort.signal })
      } catch {
        break
      }
    }
    this.#running = false
    if (!this.#abort.signal.aborted) this.#d.onPending(false)
  }

  #apply(pair: Pair, body: unknown, receivedTs: number): void {
    const { session, counters, options } = this.#d
    const result = applySnapshot(session, pair, body, receivedTs)
    if (result.kind === 'failed' || result.kind === 'malformed') {
      counters.errors++
      options.log.error({ err: 'err' in result ? result.err : result.reason, pair }, 'adapter failed on a snapshot')
      // The session would wait for this book forever: start over with a fresh one.
      this.#d.handle({ kind: 'resync', reason: `adapter failed on the ${pair} snapshot` }, receivedTs)
      return
    }
    counters.snapshots++
    options.log.info({ pair, result: result.kind }, 'snapshot applied')
    this.#d.handle(result, receivedTs)
  }

  async #fetch(
    pair: Pair,
  ): Promise<
    { ok: true; body: unknown; receivedTs: number } | { ok: false; reason: string; retryAfterMs?: number | undefined }
  > {
    const { options, counters } = this.#d
    const restBase = options.restBaseUrl ?? options.adapter.restUrl
    if (restBase === undefined || options.adapter.snapshotUrl === undefined) {
      counters.snapshotFailures++
      return { ok: false, reason: `adapter ${options.adapter.id} has no REST snapshot URL` }
    }
    const timeout = AbortSignal.timeout(options.snapshotTimeoutMs ?? SNAPSHOT_TIMEOUT_MS)
    let url = pair
    let text: string
    try {
      url = options.adapter.snapshotUrl(pair, restBase)
      const res = await fetch(url, { signal: AbortSignal.any([this.#abort.signal, timeout]) })
      if (res.status === 429 || res.status === 418) {
        counters.rateLimited++
        await res.body?.cancel()
        return { ok: false, reason: `HTTP ${res.status} from ${url}`, retryAfterMs: retryAfterMs(res) }
      }
      text = await res.text()
      if (!res.ok) {
        counters.snapshotFailures++
        return { ok: false, reason: `HTTP ${res.status} from ${url}: ${text.slice(0, EXCERPT_CHARS)}` }
      }
    } catch (err) {
      if (this.#abort.signal.aborted) return { ok: false, reason: 'cancelled' }
      counters.snapshotFailures++
      return { ok: false, reason: `${url}: ${err instanceof Error ? err.message : String(err)}` }
    }
    const receivedTs = (options.now ?? Date.now)()
    try {
      return { ok: true, body: JSON.parse(text) as unknown, receivedTs }
    } catch {
      counters.snapshotFailures++
      return { ok: false, reason: `not JSON from ${url}: ${text.slice(0, EXCERPT_CHARS)}` }
    }
  }
}

/**
 * The session with its REST snapshots recorded as the snapshot fetcher hands them over, so the
 * recording holds them in the order the session saw them. Unchanged without a recorder.
 */
const recorded = (session: AdapterSession, conn: number, record: FeedRecorder | undefined): AdapterSession => {
  const onSnapshot = session.onSnapshot?.bind(session)
  if (record === undefined || onSnapshot === undefined) return session
  return {
    onFrame: (frame, receivedTs, raw) => session.onFrame(frame, receivedTs, raw),
    onSnapshot: (pair, body, receivedTs) => {
      record({ v: 1, rec: 'snapshot', conn, pair, receivedTs, body })
      return onSnapshot(pair, body, receivedTs)
    },
  }
}

/** Retry-After in ms (seconds or an HTTP date), or undefined when absent or unreadable. */
const retryAfterMs = (res: Response): number | undefined => {
  const header = res.headers.get('retry-after')
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(header)
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined
}

// Exchanges send JSON as text frames; a binary frame is decoded as UTF-8 too rather than lost.
const toText = (data: RawData): string =>
  Buffer.isBuffer(data)
    ? data.toString('utf8')
    : Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data).toString('utf8')
