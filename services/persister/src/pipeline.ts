import { pullForever, type Consumer, type JsMsg } from '@arb/bus'
import { MAX_MESSAGE_BYTES } from '@arb/contracts'
import type { Logger } from '@arb/observability'

export interface BatchSettings {
  /** Rows per write; also the pull size, and half the consumer's max_ack_pending. */
  readonly size: number
  /** A partial batch is written once its oldest message has waited this long. */
  readonly maxWaitMs: number
}

export interface PipelineCounters {
  received: number
  inserted: number
  duplicates: number
  /** Messages acknowledged, each only after its row was committed (or found already stored). */
  acked: number
  invalid: number
  batches: number
  failures: number
  /** Messages not taken because one batch was already waiting; the server redelivers them. */
  deferred: number
}

/** Rows of one write, accumulated as messages arrive. */
export interface Batch<T> {
  add(row: T): void
  readonly length: number
}

export interface BatchSink<T, B extends Batch<T>> {
  create(expectedRows: number): B
  /** Writes idempotently in one transaction; resolves with rows inserted. May be called again after a failure. */
  write(batch: B): Promise<number>
}

export interface PipelineDeps<T, B extends Batch<T>> {
  readonly name: string
  readonly consumer: Consumer
  /** Throws (InvalidMessageError) for a message that must never be stored. */
  readonly decode: (msg: JsMsg) => T
  readonly sink: BatchSink<T, B>
  readonly batch: BatchSettings
  /** The consumer's ack_wait: messages held longer get a progress ack so they are not redelivered. */
  readonly ackWaitMs: number
  readonly log: Logger
  /** Back-off between attempts of a failed write: full jitter, doubling from minMs up to maxMs. */
  readonly retry?: { readonly minMs: number; readonly maxMs: number }
  /** Jitter source in [0, 1); injectable so tests can pin the delays. */
  readonly random?: () => number
  /** Test seam: runs after a batch is committed and before it is acked. */
  readonly afterCommit?: (rows: number) => void | Promise<void>
}

export interface Pipeline {
  readonly counters: Readonly<PipelineCounters>
  /** True from a failed write until the next successful one. */
  readonly failing: boolean
  /** While failing: since when, how often, and the error's code (never hosts or queries: heartbeats are public). */
  readonly failure: { readonly since: number; readonly attempts: number; readonly code: string } | null
  readonly lastMessageTs: number | null
  /** Stops intake, writes what is buffered (one attempt), acks it, and resolves. */
  stop(): Promise<void>
}

const INVALID_LOG_EVERY_MS = 10_000
/** Default retry: quick for a blip, and at most 10 s of extra lag once the database is back. */
export const RETRY_MIN_MS = 200
export const RETRY_MAX_MS = 10_000

/** Full-jitter back-off (as the ingestor's feed): uniform in [0, min(max, min·2^(attempt-1))]. */
export const retryDelay = (attempt: number, minMs: number, maxMs: number, random: () => number): number =>
  Math.round(random() * Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1)))

/** What to call a failure in a heartbeat: the SQLSTATE or socket error code, never the message. */
const failureCode = (err: unknown): string => {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'ARB_ERR_DB_WRITE') return code
    if (e instanceof AggregateError) return failureCode(e.errors[0])
  }
  return err instanceof Error && /timeout/i.test(err.message + String(err.cause)) ? 'timeout' : 'error'
}

interface Pending<B> {
  readonly batch: B
  readonly msgs: JsMsg[]
  firstAt: number
}

/**
 * One JetStream consumer into one table, batched by size or age (cryptofeed's BackendQueue).
 *
 * Acks are explicit, one per message, sent only after the batch's transaction committed.
 * AckPolicy.All (one ack per batch) was measured: 1.4x the messages/s in a bare consume loop,
 * about 12% more ticks/s end to end (bench/persister.bench.ts: per tick 2 µs less Node CPU and
 * 3 µs less nats-server CPU). But such an ack covers every lower stream sequence, including
 * messages a crashed predecessor received and never committed that are still waiting for
 * redelivery: the first batch acked by its replacement would drop them without a trace, and two
 * replicas on one durable would ack each other's uncommitted messages. Explicit acks already
 * keep the persister above half the raw COPY rate, so the safe policy stays.
 *
 * Memory is bounded by the consumer's max_ack_pending (2 x batch size: one batch being written,
 * one filling); anything beyond that is left unacked for redelivery. Invalid messages are
 * counted, logged (rate-limited) and terminated at once, so they are neither stored nor
 * redelivered. A failed write is retried with capped, jittered back-off while the held
 * messages get progress acks; nothing more is pulled meanwhile because max_ack_pending is
 * reached, and nothing is acked that was not committed.
 */
export const startPipeline = <T, B extends Batch<T>>(deps: PipelineDeps<T, B>): Pipeline => {
  const { name, decode, sink, batch, ackWaitMs, log } = deps
  const retry = deps.retry ?? { minMs: RETRY_MIN_MS, maxMs: RETRY_MAX_MS }
  const random = deps.random ?? Math.random
  const counters: PipelineCounters = {
    received: 0,
    inserted: 0,
    duplicates: 0,
    acked: 0,
    invalid: 0,
    batches: 0,
    failures: 0,
    deferred: 0,
  }
  const fresh = (): Pending<B> => ({ batch: sink.create(batch.size), msgs: [], firstAt: 0 })
  let collecting = fresh()
  /** Full batches waiting for the writer; with max_ack_pending = 2 x size, at most one. */
  const ready: Pending<B>[] = []
  let writing: Pending<B> | undefined
  let held = 0
  let writeStartedAt = 0
  let failure: { since: number; attempts: number; code: string } | null = null
  let lastMessageTs: number | null = null
  let stopping = false
  let intakeClosed = false
  let wake: (() => void) | undefined
  let invalidLogged = 0
  let invalidSuppressed = 0

  const onInvalid = (msg: JsMsg, err: unknown) => {
    counters.invalid++
    // Terminated, not acked: same effect on the stream, but the server also emits an advisory.
    // A closed connection makes term() throw; the message then simply comes back later.
    try {
      msg.term()
    } catch {
      /* redelivered and rejected again */
    }
    const now = Date.now()
    if (now - invalidLogged < INVALID_LOG_EVERY_MS) {
      invalidSuppressed++
      return
    }
    invalidLogged = now
    const reason = err instanceof Error ? err.message : String(err)
    log.warn({ subject: msg.subject, streamSeq: msg.seq, reason, suppressed: invalidSuppressed }, 'invalid message')
    invalidSuppressed = 0
    if (log.isLevelEnabled('debug')) {
      log.debug({ subject: msg.subject, payload: msg.string().slice(0, 2000) }, 'invalid message payload')
    }
  }

  const onMessage = (msg: JsMsg) => {
    if (intakeClosed) return
    counters.received++
    const now = Date.now()
    lastMessageTs = now
    // One batch being written and one full: only redeliveries get here (max_ack_pending stops
    // the rest), and they come back after ack_wait.
    if (held >= 2 * batch.size) {
      counters.deferred++
      return
    }
    try {
      if (msg.data.length > MAX_MESSAGE_BYTES) throw new Error(`${msg.data.length} bytes, limit ${MAX_MESSAGE_BYTES}`)
      // A row the batch cannot take is as unusable as one that fails validation.
      collecting.batch.add(decode(msg))
    } catch (err) {
      onInvalid(msg, err)
      return
    }
    held++
    const n = collecting.msgs.push(msg)
    if (n === 1) collecting.firstAt = now
    // Sealed here, synchronously: the client delivers a whole socket read in one go, before the
    // flush loop could run.
    if (n >= batch.size) {
      ready.push(collecting)
      collecting = fresh()
    }
    if (n === 1 || n >= batch.size) wake?.()
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => ((wake = undefined), resolve()), ms)
      wake = () => (clearTimeout(timer), (wake = undefined), resolve())
    })

  const due = (): boolean => {
    if (ready.length > 0 || stopping) return true
    return collecting.msgs.length > 0 && Date.now() - collecting.firstAt >= batch.maxWaitMs
  }

  const writeBatch = async (p: Pending<B>): Promise<boolean> => {
    const rows = p.msgs.length
    for (let attempt = 1; ; attempt++) {
      try {
        const inserted = await sink.write(p.batch)
        counters.batches++
        counters.inserted += inserted
        counters.duplicates += rows - inserted
        if (failure) log.info({ attempt, failedForMs: Date.now() - failure.since }, 'writes recovered')
        failure = null
        await deps.afterCommit?.(inserted)
        return true
      } catch (err) {
        counters.failures++
        failure = {
          since: failure?.since ?? Date.now(),
          attempts: (failure?.attempts ?? 0) + 1,
          code: failureCode(err),
        }
        const retryInMs = retryDelay(attempt, retry.minMs, retry.maxMs, random)
        log.error({ err, rows, attempt, retryInMs: stopping ? null : retryInMs }, 'batch write failed')
        // At shutdown the batch is left unacked: the next instance gets it by redelivery.
        if (stopping) return false
        await sleep(retryInMs)
        if (stopping) return false
      }
    }
  }

  const ackAll = (msgs: readonly JsMsg[]) => {
    try {
      for (const m of msgs) {
        m.ack()
        counters.acked++
      }
    } catch (err) {
      // Only when the connection is closed; the rows are committed and redelivery is harmless.
      log.warn({ err, rows: msgs.length }, 'ack failed, the batch will be redelivered')
    }
  }

  const flushLoop = async () => {
    for (;;) {
      while (!due()) {
        const waited = collecting.msgs.length > 0 ? Date.now() - collecting.firstAt : 0
        await sleep(collecting.msgs.length > 0 ? batch.maxWaitMs - waited : 60_000)
      }
      let p = ready.shift()
      if (!p) {
        if (collecting.msgs.length === 0) return
        p = collecting
        collecting = fresh()
      }
      writing = p
      writeStartedAt = Date.now()
      const ok = await writeBatch(p)
      log.debug({ rows: p.msgs.length, ok, writeMs: Date.now() - writeStartedAt }, 'batch')
      if (ok) ackAll(p.msgs)
      writing = undefined
      held -= p.msgs.length
      if (!ok) return
    }
  }

  // Only a write stuck for a third of ack_wait (a database outage) triggers progress acks; in
  // normal operation no message is held anywhere near that long.
  const keepAlive = setInterval(
    () => {
      if (!writing || Date.now() - writeStartedAt < ackWaitMs / 3) return
      try {
        for (const p of [writing, ...ready, collecting]) for (const m of p.msgs) m.working()
      } catch (err) {
        log.warn({ err }, 'progress ack failed')
      }
    },
    Math.max(100, Math.floor(ackWaitMs / 3)),
  )
  keepAlive.unref()

  const intake = pullForever(deps.consumer, onMessage, log, { maxMessages: batch.size })
  // Not caught: a crash here is a bug, and an unhandled rejection ends the process (restart).
  const flushed = flushLoop()
  log.info({ batchSize: batch.size, maxWaitMs: batch.maxWaitMs }, `${name} pipeline started`)

  return {
    counters,
    get failing() {
      return failure !== null
    },
    get failure() {
      return failure
    },
    get lastMessageTs() {
      return lastMessageTs
    },
    async stop() {
      await intake.stop()
      intakeClosed = true
      stopping = true
      wake?.()
      await flushed
      clearInterval(keepAlive)
      log.info({ ...counters, unwritten: held }, `${name} pipeline stopped`)
    },
  }
}
