import { durableConsumer, type Consumer, type JsMsg, type NatsConnection } from '@arb/bus'
import {
  decodeLiveTick,
  InvalidMessageError,
  signalDecoder,
  type Heartbeat,
  type Signal,
  type Topology,
} from '@arb/contracts'
import type { Logger } from '@arb/observability'
import type { SignalWriter, StoredTick, TickWriter } from '@arb/storage'
import { startPipeline, type Batch, type BatchSettings, type Pipeline, type PipelineDeps } from './pipeline.js'

/**
 * How long JetStream waits for an ack before redelivering (default of the ACK_WAIT_MS setting).
 * Far above a batch's normal latency (BATCH_MAX_WAIT_MS plus one write, well under a second); a
 * crashed persister's unacked messages come back after this long. During a database outage the
 * held messages get progress acks, so they are not redelivered however long it lasts.
 */
export const ACK_WAIT_MS = 30_000

/** The ticks and signals durable consumers; `max_ack_pending` is what bounds the persister's memory. */
export const openConsumers = async (
  nc: NatsConnection,
  topo: Topology,
  s: { consumerName: string; batchSize: number; ackWaitMs?: number },
): Promise<{ ticks: Consumer; signals: Consumer }> => {
  const common = { ackWaitMs: s.ackWaitMs ?? ACK_WAIT_MS, maxAckPending: 2 * s.batchSize }
  return {
    ticks: await durableConsumer(nc, { stream: topo.ticksStream, durable: s.consumerName, ...common }),
    signals: await durableConsumer(nc, { stream: topo.signalsStream, durable: `${s.consumerName}-signals`, ...common }),
  }
}

/**
 * A tick as stored. One without an exchange sequence gets the stream sequence, which is the same
 * on every redelivery, so writing it twice still hits the unique key.
 */
export const decodeTick = (msg: JsMsg): StoredTick => {
  // Refuses (among the rest) a NUL in seq: stored, it would fail its whole batch forever.
  const t = decodeLiveTick(msg.data, Date.now())
  if (t.seq === undefined) t.seq = `js:${msg.seq}`
  return t as StoredTick
}

export const decodeSignal = (msg: JsMsg): Signal => {
  const s = signalDecoder.decode(msg.data)
  // jsonb refuses \u0000 anywhere, including in fields this version does not know.
  if (hasNul(s)) throw new InvalidMessageError('signal', 'a string contains a NUL character')
  return s
}

const hasNul = (v: unknown): boolean =>
  typeof v === 'string'
    ? v.includes('\u0000')
    : typeof v === 'object' && v !== null && Object.entries(v).some(([k, x]) => k.includes('\u0000') || hasNul(x))

const arrayBatch = <T>(): Batch<T> & { rows: T[] } => {
  const rows: T[] = []
  return {
    rows,
    add: (r) => rows.push(r),
    get length() {
      return rows.length
    },
  }
}

export interface PersisterDeps {
  readonly ticks: Consumer
  readonly signals: Consumer
  readonly tickWriter: TickWriter
  readonly signalWriter: SignalWriter
  readonly batch: BatchSettings
  readonly log: Logger
  readonly ackWaitMs?: number
  readonly retry?: PipelineDeps<unknown, Batch<unknown>>['retry']
  /** Test seam: after a ticks batch is committed, before it is acked. */
  readonly afterTicksCommit?: (rows: number) => void | Promise<void>
}

export interface Persister {
  readonly ticks: Pipeline
  readonly signals: Pipeline
  /** The live part of the heartbeat. */
  snapshot(): Pick<Heartbeat, 'status' | 'reason' | 'lastMessageTs' | 'counters'>
  /** Stops pulling, writes and acks what is buffered. */
  stop(): Promise<void>
}

export const startPersister = (deps: PersisterDeps): Persister => {
  const ackWaitMs = deps.ackWaitMs ?? ACK_WAIT_MS
  const ticks = startPipeline({
    name: 'ticks',
    consumer: deps.ticks,
    decode: decodeTick,
    sink: { create: (n) => deps.tickWriter.batch(n), write: (b) => deps.tickWriter.writeBatch(b) },
    batch: deps.batch,
    ackWaitMs,
    log: deps.log.child({ component: 'ticks' }),
    ...(deps.retry ? { retry: deps.retry } : {}),
    ...(deps.afterTicksCommit ? { afterCommit: deps.afterTicksCommit } : {}),
  })
  const signals = startPipeline({
    name: 'signals',
    consumer: deps.signals,
    decode: decodeSignal,
    sink: { create: () => arrayBatch<Signal>(), write: (b) => deps.signalWriter.write(b.rows) },
    batch: deps.batch,
    ackWaitMs,
    log: deps.log.child({ component: 'signals' }),
    ...(deps.retry ? { retry: deps.retry } : {}),
  })
  return {
    ticks,
    signals,
    snapshot: () => {
      const t = ticks.counters
      const s = signals.counters
      const last = Math.max(ticks.lastMessageTs ?? 0, signals.lastMessageTs ?? 0)
      const failures = [ticks, signals].flatMap((p, i) => {
        const f = p.failure
        if (f === null) return []
        const since = new Date(f.since).toISOString()
        return [`${i === 0 ? 'ticks' : 'signals'} writes failing since ${since} (${f.code}, ${f.attempts} attempts)`]
      })
      return {
        status: failures.length > 0 ? 'degraded' : 'ok',
        ...(failures.length > 0 ? { reason: `database: ${failures.join('; ')}` } : {}),
        lastMessageTs: last === 0 ? null : last,
        counters: {
          rowsInserted: t.inserted,
          duplicates: t.duplicates,
          acked: t.acked,
          invalid: t.invalid,
          batches: t.batches,
          failures: t.failures,
          deferred: t.deferred,
          signalsInserted: s.inserted,
          signalDuplicates: s.duplicates,
          signalsInvalid: s.invalid,
          signalFailures: s.failures,
          signalsAcked: s.acked,
        },
      }
    },
    stop: async () => {
      await Promise.all([ticks.stop(), signals.stop()])
    },
  }
}
