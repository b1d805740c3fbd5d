import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket, { type RawData } from 'ws'
import type { Pair, Tick } from '@arb/contracts'
import type { AdapterSession, Endpoint, ExchangeAdapter, FrameResult } from './types.js'

/**
 * The only owner of `ws` (CONVENTIONS.md §4, after tardis `RealTimeFeedBase` and cryptofeed
 * `ConnectionHandler`): one WebSocket per adapter endpoint, subscribe after open, protocol pings,
 * a stale-data timeout that ignores control frames, and capped exponential back-off with full
 * jitter that resets on the first data frame of a connection. A bad frame never kills the feed.
 * For exchanges whose books start from a REST snapshot, it also fetches the snapshots a session
 * asks for, one at a time per connection, backing off on failures and on HTTP 429.
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
}

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
  /** REST snapshots applied. */
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
  const connections = options.adapter
    .endpoints(options.pairs, baseUrl)
    .map((endpoint) => new Connection(endpoint, options, counters))
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
  #attempt = 0
  #ws: WebSocket | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(endpoint: Endpoint, options: FeedOptions, counters: FeedCounters) {
    this.#endpoint = endpoint
    this.#o = options
    this.#counters = counters
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
    const session = adapter.createSession(pairs)
    let gotData = false
    let awaitingPong = false
    let closeReason: string | undefined
    let pingTimer: NodeJS.Timeout | undefined
    let staleTimer: NodeJS.Timeout | undefined

    this.#setStatus('connecting')
    log.debug({ url, attempt: this.#attempt }, 'connecting')
    const ws = new WebSocket(url, {
      maxPayload: this.#o.maxPayloadBytes ?? MAX_PAYLOAD_BYTES,
      handshakeTimeout: this.#o.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    })
    this.#ws = ws

    const drop = (reason: string) => {
      closeReason ??= reason
      ws.terminate()
    }

    ws.on('open', () => {
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
    })

    ws.on('pong', () => {
      awaitingPong = false
    })

    ws.on('message', (data: RawData) => {
      if (closeReason !== undefined) return
      counters.frames++
      const receivedTs = now()
      const raw = toText(data)
      let frame: unknown
      try {
        frame = JSON.parse(raw)
      } catch {
        counters.malformed++
        if (worthLogging(counters.malformed)) {
          log.warn({ url, malformed: counters.malformed, excerpt: raw.slice(0, EXCERPT_CHARS) }, 'malformed frame')
        }
        return
      }
      let result
      try {
        result = session.onFrame(frame, receivedTs, raw)
      } catch (err) {
        counters.errors++
        log.error({ err, url, excerpt: raw.slice(0, EXCERPT_CHARS) }, 'adapter failed on a frame')
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
 * closes. `cancel()` aborts the request in flight.
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
    for (const pair of pairs) if (!this.#queue.includes(pair)) this.#queue.push(pair)
    if (!this.#running && this.#queue.length > 0) void this.#run()
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
      if (outcome.ok) {
        failures = 0
        this.#queue.shift()
        this.#apply(pair, outcome.body, outcome.receivedTs)
        continue
      }
      failures++
      const { backoffMinMs, backoffMaxMs, random = Math.random } = this.#d.options
      const delayMs = Math.max(outcome.retryAfterMs ?? 0, backoffDelay(failures, backoffMinMs, backoffMaxMs, random))
      this.#d.options.log.warn(
        { pair, reason: outcome.reason, attempt: failures, delayMs },
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
    counters.snapshots++
    let result: FrameResult
    try {
      if (session.onSnapshot === undefined) throw new Error('adapter asked for a snapshot but has no onSnapshot')
      result = session.onSnapshot(pair, body, receivedTs)
    } catch (err) {
      counters.errors++
      options.log.error({ err, pair }, 'adapter failed on a snapshot')
      return
    }
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
    const url = options.adapter.snapshotUrl(pair, restBase)
    const timeout = AbortSignal.timeout(options.snapshotTimeoutMs ?? SNAPSHOT_TIMEOUT_MS)
    let text: string
    try {
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
