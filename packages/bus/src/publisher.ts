import { createInbox, headers, type Msg, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '@arb/observability'
import { watchConnection } from './connect.js'

export const BUFFER_POLICIES = ['drop-oldest', 'drop-newest'] as const
export type BufferPolicy = (typeof BUFFER_POLICIES)[number]

export interface PublishBufferSettings {
  /** Most messages held until JetStream acknowledges them: waiting, in flight, or to be sent again. */
  readonly maxMessages: number
  /** Which message is given up when one arrives at a full buffer. */
  readonly policy: BufferPolicy
}

/**
 * A held tick costs about 1 KB of heap (a 10-level tick is ~0.6 KB of JSON, plus its id and
 * bookkeeping; measured 1.0 KB, 100,000 held ≈ 100 MB): half an hour of a 50 ticks/s feed, far
 * more than a NATS restart. Drop-oldest keeps what is freshest, which is what the detector can
 * still use.
 */
export const DEFAULT_PUBLISH_BUFFER: PublishBufferSettings = { maxMessages: 100_000, policy: 'drop-oldest' }

export interface PublisherStats {
  /** Stored by JetStream as new messages. */
  published: number
  /** Acknowledged as duplicates at their first attempt: another replica (or an equal id) was first. */
  duplicates: number
  /** Acknowledged (stored or duplicate) after being held through a NATS outage or a failed attempt. */
  republished: number
  /** Failed attempts: timeouts, errors, attempts cut off by a disconnect. Each is sent again. */
  failed: number
  /** Attempts on the current connection waiting for JetStream's answer. */
  inFlight: number
  /** Messages held until acknowledged, in flight included (a gauge). */
  buffered: number
  /** Highest `buffered` so far. */
  bufferPeak: number
  /** Messages given up because the buffer was full. */
  bufferDropped: number
}

export interface JsPublisher {
  /**
   * Queues a message for JetStream. It is held, and sent again with the same `Nats-Msg-Id` after
   * a failure or a NATS outage, until JetStream acknowledges it or the full buffer gives it up.
   * Never throws.
   */
  publish(subject: string, payload: string, msgId: string | undefined): void
  readonly stats: Readonly<PublisherStats>
  readonly buffer: PublishBufferSettings
  /** Resolves once nothing is held (or the connection is closed, or after `timeoutMs`) with how many still are. */
  flush(timeoutMs?: number): Promise<number>
}

const PUBLISH_TIMEOUT_MS = 5000
/** How often attempts are checked for a missing answer: a timeout fires within this much of PUBLISH_TIMEOUT_MS. */
const TIMEOUT_CHECK_MS = 500
/**
 * Messages between the oldest unacknowledged one and the newest sent: bounds what is in flight,
 * and how far the send cursor can run ahead of a message waiting for its retry.
 */
const WINDOW = 10_000
/** Pause after a failed attempt on a live connection (JetStream still starting, a slow server). */
const RETRY_AFTER_MS = 1000
const LOG_EVERY_MS = 10_000

const WAITING = 0
const IN_FLIGHT = 1
const DONE = 2

interface Entry {
  readonly subject: string
  /** Emptied once done: the entry itself stays in `items` until the next compaction. */
  payload: string
  readonly msgId: string | undefined
  state: typeof WAITING | typeof IN_FLIGHT | typeof DONE
  attempts: number
  /** Held through a NATS outage or a failed attempt: counted as republished once acknowledged. */
  held: boolean
  /** Reply token of the latest attempt: its answer arrives on `<inbox>.<token>`. */
  token: number
  /** Epoch ms of the latest attempt. */
  sentAt: number
}

interface PubAck {
  readonly stream?: string
  readonly duplicate?: boolean
  readonly error?: { readonly code?: number; readonly description?: string }
}

/**
 * JetStream publisher with `Nats-Msg-Id` de-duplication (two replicas publishing the same exchange
 * message store it once) and a bounded, ordered buffer that carries messages through NATS
 * outages. The client itself cannot: it discards what was published while disconnected when it
 * redials, and a publish sent into an outage only times out.
 *
 * Messages are sent in order through a window of at most WINDOW; while NATS is down nothing is
 * sent. On a disconnect the attempts in flight are counted as failed and queued again at their
 * place (their ack, if the server stored them, is lost with the connection; sending again with
 * the same id makes JetStream answer "duplicate" inside its duplicate window, DEDUP_WINDOW_S).
 * Messages without an id can be stored twice that way.
 *
 * A JetStream publish is a core publish with a reply subject, the stream's ack comes back on it.
 * Each attempt is that publish, answered on one inbox subscription shared by all of them, and
 * timed out by one periodic check. `js.publish` costs a request object, a timer, two promises and
 * an Error with its stack (nats.js rejects the settled request on cleanup) per message: half the
 * detector's CPU at 5,000 ticks/s (docs/benchmarks.md).
 */
export const jsPublisher = (
  nc: NatsConnection,
  log: Logger,
  opts: { buffer?: PublishBufferSettings } = {},
): JsPublisher => {
  const buffer = opts.buffer ?? DEFAULT_PUBLISH_BUFFER
  const conn = watchConnection(nc)
  const stats: PublisherStats = {
    published: 0,
    duplicates: 0,
    republished: 0,
    failed: 0,
    inFlight: 0,
    buffered: 0,
    bufferPeak: 0,
    bufferDropped: 0,
  }
  let items: Entry[] = []
  /** First entry not done. */
  let head = 0
  /** First entry never sent. */
  let next = 0
  /** Waiting entries before `next`: attempts that failed and are to be sent again. */
  let resend = 0
  const inbox = `${createInbox()}.`
  let lastToken = 0
  /** Attempts waiting for their answer, by token, in the order they were sent. */
  const awaiting = new Map<number, Entry>()
  let pausedUntil = 0
  let retryTimer: NodeJS.Timeout | undefined
  let waiters: (() => void)[] = []
  /** Set by a disconnect, cleared once everything held is acknowledged (which is logged). */
  let afterOutage = false
  let lastFailLog = -Infinity
  let failedSinceLog = 0
  let lastDropLog = -Infinity
  let droppedSinceLog = 0

  log.info({ maxMessages: buffer.maxMessages, policy: buffer.policy }, 'publish buffer')

  const wakeWaiters = () => {
    const w = waiters
    waiters = []
    w.forEach((f) => f())
  }

  const advance = () => {
    while (head < items.length && items[head]!.state === DONE) head++
    if (next < head) next = head
    // Compacted once most of the array is behind `head`: amortised O(1) per message.
    if (head > 4096 && head * 2 > items.length) {
      items = items.slice(head)
      next -= head
      head = 0
    }
  }

  const settle = (e: Entry) => {
    e.state = DONE
    // Kept until compaction, a payload would outlive two young-generation collections and be
    // promoted: old-generation garbage at the publish rate, collected by full mark-compacts.
    e.payload = ''
    stats.buffered--
    advance()
    if (stats.buffered === 0) wakeWaiters()
  }

  const pause = () => {
    pausedUntil = Date.now() + RETRY_AFTER_MS
    if (retryTimer) return
    // Re-armed while a later failure has pushed the pause further: a publisher with nothing new to
    // send (the detector between signals) has no other wake-up.
    const wake = () => {
      const waitMs = pausedUntil - Date.now()
      retryTimer = waitMs > 0 ? setTimeout(wake, waitMs).unref() : undefined
      if (waitMs <= 0) pump()
    }
    retryTimer = setTimeout(wake, RETRY_AFTER_MS).unref()
  }

  const onFailure = (e: Entry, err: unknown) => {
    stats.failed++
    e.state = WAITING
    e.held = true
    resend++
    const now = Date.now()
    if (now - lastFailLog >= LOG_EVERY_MS) {
      log.warn(
        { err, subject: e.subject, failed: stats.failed, since: failedSinceLog, buffered: stats.buffered },
        'jetstream publish failed, will send again',
      )
      lastFailLog = now
      failedSinceLog = 0
    } else failedSinceLog++
    pause()
  }

  const send = (e: Entry) => {
    e.state = IN_FLIGHT
    e.attempts++
    e.token = ++lastToken
    e.sentAt = Date.now()
    awaiting.set(e.token, e)
    stats.inFlight = awaiting.size
    try {
      const h = headers()
      if (e.msgId) h.set('Nats-Msg-Id', e.msgId)
      nc.publish(e.subject, e.payload, { headers: h, reply: `${inbox}${e.token}` })
    } catch (err) {
      // Closed or draining: nothing will answer.
      awaiting.delete(e.token)
      stats.inFlight = awaiting.size
      onFailure(e, err)
    }
  }

  const acked = (e: Entry, duplicate: boolean) => {
    if (!duplicate) stats.published++
    // A duplicate at a later attempt is most likely the earlier attempt's own copy, whose ack was lost.
    else if (e.attempts === 1) stats.duplicates++
    if (e.held) stats.republished++
    settle(e)
    if (afterOutage && stats.buffered === 0) {
      afterOutage = false
      log.info({ republished: stats.republished, bufferDropped: stats.bufferDropped }, 'held messages all published')
    }
  }

  const answered = (msg: Msg) => {
    const token = Number(msg.subject.slice(inbox.length))
    const e = awaiting.get(token)
    // The answer to an attempt already timed out or cut off by a disconnect: that one is sent again.
    if (e === undefined) return
    awaiting.delete(token)
    stats.inFlight = awaiting.size
    if (msg.headers?.hasError) {
      // 503 "no responders": no stream takes this subject (yet).
      onFailure(e, new Error(`jetstream publish refused: ${msg.headers.code} ${msg.headers.description}`))
      return
    }
    let ack: PubAck
    try {
      ack = JSON.parse(msg.string()) as PubAck
    } catch (err) {
      onFailure(e, err)
      return
    }
    if (ack.error !== undefined || ack.stream === undefined) {
      onFailure(e, new Error(`jetstream publish refused: ${ack.error?.code} ${ack.error?.description}`))
      return
    }
    acked(e, ack.duplicate === true)
    pump()
  }

  const answers = nc.subscribe(`${inbox}*`, { callback: (_err, msg) => answered(msg) })

  const timeouts = setInterval(() => {
    const tooOld = Date.now() - PUBLISH_TIMEOUT_MS
    // In send order: the first one young enough ends the search.
    for (const [token, e] of awaiting) {
      if (e.sentAt > tooOld) break
      awaiting.delete(token)
      onFailure(e, new Error(`jetstream publish timed out after ${PUBLISH_TIMEOUT_MS} ms`))
    }
    stats.inFlight = awaiting.size
  }, TIMEOUT_CHECK_MS).unref()
  void nc.closed().then(() => {
    clearInterval(timeouts)
    answers.unsubscribe()
  })

  function pump(): void {
    if (!conn.up || nc.isClosed() || Date.now() < pausedUntil) return
    for (let i = head; resend > 0 && i < next; i++) {
      const e = items[i]!
      if (e.state === WAITING) {
        resend--
        send(e)
      }
    }
    while (next < items.length && next - head < WINDOW) {
      const e = items[next++]!
      if (e.state === WAITING) send(e)
    }
  }

  /** Drop-oldest: gives up the oldest message not in flight; false when every held one is. */
  const dropOldest = (): boolean => {
    for (let i = resend > 0 ? head : next; i < items.length; i++) {
      const e = items[i]!
      if (e.state !== WAITING) continue
      if (i < next) resend--
      settle(e)
      return true
    }
    return false
  }

  const dropped = () => {
    stats.bufferDropped++
    const now = Date.now()
    if (now - lastDropLog >= LOG_EVERY_MS) {
      log.warn(
        { ...buffer, bufferDropped: stats.bufferDropped, since: droppedSinceLog },
        'publish buffer full, dropping messages',
      )
      lastDropLog = now
      droppedSinceLog = 0
    } else droppedSinceLog++
  }

  conn.onChange((up) => {
    if (nc.isClosed()) return wakeWaiters()
    if (up) {
      pausedUntil = 0
      if (stats.buffered > 0) log.info({ buffered: stats.buffered }, 'sending held messages')
      pump()
      return
    }
    // Attempts of the old connection are given up (counted as failed) and sent again after it.
    awaiting.clear()
    stats.inFlight = 0
    for (let i = head; i < items.length; i++) {
      const e = items[i]!
      e.held = true
      if (e.state !== IN_FLIGHT) continue
      e.state = WAITING
      resend++
      stats.failed++
    }
    afterOutage = true
    log.warn({ buffered: stats.buffered, ...buffer }, 'nats down, holding messages')
  })

  return {
    stats,
    buffer,
    publish(subject, payload, msgId) {
      if (stats.buffered >= buffer.maxMessages) {
        const room = buffer.policy === 'drop-oldest' && dropOldest()
        dropped()
        if (!room) return
      }
      items.push({ subject, payload, msgId, state: WAITING, attempts: 0, held: !conn.up, token: 0, sentAt: 0 })
      stats.buffered++
      if (stats.buffered > stats.bufferPeak) stats.bufferPeak = stats.buffered
      pump()
    },
    async flush(timeoutMs = PUBLISH_TIMEOUT_MS) {
      if (stats.buffered > 0 && !nc.isClosed()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs)
          waiters.push(() => (clearTimeout(timer), resolve()))
        })
      }
      return stats.buffered
    },
  }
}
