import { performance } from 'node:perf_hooks'
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream'
import { natsIsUp, type NatsConnection } from '@arb/bus'
import type { Logger } from '@arb/observability'

/**
 * The leader may publish for this fraction of the TTL after it sent its last successful renewal.
 * A standby takes over no earlier than a full TTL after it first saw that renewal, which is later
 * than the renewal was sent; the remaining quarter covers publishes still in flight and a
 * stalled event loop.
 */
const VALID_FRACTION = 0.75
/** Renewals (leader) and polls (standby) per TTL. */
const CHECKS_PER_TTL = 4
/** JetStream's error code for a failed `Nats-Expected-Last-Subject-Sequence`. */
const WRONG_LAST_SEQUENCE = 10071

export interface LeaderLeaseOptions {
  readonly nc: NatsConnection
  /** NATS_PREFIX: namespaces the lease's subject and stream like every other. */
  readonly prefix: string
  readonly instance: string
  readonly ttlMs: number
  readonly log: Logger
  /** Called on every change, after the lease changed hands (true: this instance now leads). */
  readonly onChange?: (leader: boolean) => void
  /** Monotonic milliseconds (tests); default performance.now. */
  readonly now?: () => number
}

export interface LeaderLease {
  /** True while this instance holds a lease that cannot have been taken over yet. */
  isLeader(): boolean
  /** The instance holding the lease, as last seen (undefined: nobody, or not known yet). */
  holder(): string | undefined
  readonly stats: Readonly<{ terms: number; renewFailures: number }>
  /** Stops renewing and, when leading, releases the lease so a standby takes over at its next poll. */
  stop(): Promise<void>
}

/** Subject and stream of the lease, namespaced by NATS_PREFIX like `topology()`. */
export const leaseNames = (prefix: string) => ({
  subject: `${prefix === '' ? '' : `${prefix}.`}arb.detector.leader`,
  stream: `${prefix === '' ? '' : `${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}_`}DETECTOR_LEADER`,
})

interface LeaseRecord {
  /** Holder, or null once released. */
  readonly instance: string | null
  readonly ts: number
}

/**
 * Leader election for detector replicas: a lease held as the one message of a JetStream subject
 * (a stream keeping one message per subject, as a NATS KV bucket does), written only with
 * compare-and-set (`Nats-Expected-Last-Subject-Sequence`).
 *
 * - Acquire: write the record expecting the sequence last seen (0 when there is none). Of replicas
 *   racing for the same sequence exactly one succeeds.
 * - Renew: the leader rewrites it every TTL/4 expecting its own last sequence; a failure with
 *   "wrong last sequence" means another instance took it.
 * - Take over: a standby polls every TTL/4 and takes over when the record was released, or when
 *   its sequence has not changed for a whole TTL on the standby's own clock. No clocks are compared
 *   across hosts, and the server needs no TTL support (nats-server 2.9 runs here).
 * - The leader publishes only while `isLeader()`: until 3/4 TTL after it sent its last successful
 *   renewal, which is before any standby can take over.
 */
export const startLeaderLease = async (o: LeaderLeaseOptions): Promise<LeaderLease> => {
  const { subject, stream } = leaseNames(o.prefix)
  const now = o.now ?? (() => performance.now())
  const log = o.log.child({ component: 'leader' })
  const periodMs = Math.max(25, Math.floor(o.ttlMs / CHECKS_PER_TTL))
  // Bounded like the writes: a request sent into a NATS outage would otherwise hold the next
  // election step for the client's default 5 s after NATS is back.
  const jsm: JetStreamManager = await jetstreamManager(o.nc, { timeout: Math.max(periodMs, 500) })
  const js: JetStreamClient = jetstream(o.nc)
  const stats = { terms: 0, renewFailures: 0 }

  const ensureStream = async () => {
    if ((await jsm.streams.info(stream).catch(() => null)) !== null) return
    await jsm.streams
      .add({
        name: stream,
        subjects: [subject],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        max_msgs_per_subject: 1,
      })
      .catch(async (err: unknown) => {
        // Another replica created it first.
        if ((await jsm.streams.info(stream).catch(() => null)) === null) throw err
      })
  }

  let leading = false
  let seq = 0
  let validUntil = -Infinity
  let holder: string | undefined
  let seenSeq = -1
  let seenAt = 0
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined

  const change = (leader: boolean, why: string) => {
    if (leading === leader) return
    leading = leader
    if (leader) stats.terms++
    log.info({ instance: o.instance, leader, why }, leader ? 'leadership acquired' : 'leadership lost')
    o.onChange?.(leader)
  }

  const write = async (instance: string | null, expected: number): Promise<number> => {
    const record: LeaseRecord = { instance, ts: Date.now() }
    const ack = await js.publish(subject, JSON.stringify(record), {
      expect: { lastSubjectSequence: expected },
      timeout: periodMs,
    })
    return ack.seq
  }

  const lostRace = (err: unknown) =>
    (err as { code?: number }).code === WRONG_LAST_SEQUENCE || /wrong last sequence/i.test(String(err))

  const acquire = async (expected: number, why: string) => {
    const sentAt = now()
    try {
      seq = await write(o.instance, expected)
    } catch (err) {
      if (!lostRace(err)) throw err
      return // another replica won this round
    }
    validUntil = sentAt + o.ttlMs * VALID_FRACTION
    holder = o.instance
    change(true, why)
  }

  const renew = async () => {
    const sentAt = now()
    try {
      seq = await write(o.instance, seq)
      validUntil = sentAt + o.ttlMs * VALID_FRACTION
    } catch (err) {
      stats.renewFailures++
      if (lostRace(err)) return change(false, 'lease taken over')
      log.warn({ err }, 'lease renewal failed')
      if (now() >= validUntil) change(false, 'lease expired')
    }
  }

  const poll = async () => {
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subject })
    const t = now()
    if (m === null) return acquire(0, 'no leader')
    const record = m.json<LeaseRecord>()
    if (record.instance === null) return acquire(m.seq, 'lease released')
    // Still the renewal this instance wrote last (it lost the lease by not reaching NATS, e.g. an
    // outage): nobody has taken over, so it renews at once instead of waiting a TTL for itself.
    // Compare-and-set on that sequence, so a standby that wrote meanwhile still wins.
    if (record.instance === o.instance && m.seq === seq) return acquire(m.seq, 'own lease still current')
    if (m.seq !== seenSeq) {
      seenSeq = m.seq
      seenAt = t
      if (holder !== record.instance) log.info({ leader: record.instance }, 'following leader')
      holder = record.instance
      return undefined
    }
    if (t - seenAt < o.ttlMs) return undefined
    return acquire(m.seq, `lease of ${record.instance} not renewed for ${o.ttlMs} ms`)
  }

  const step = async () => {
    try {
      // While NATS is away every request would only time out (and warn); the lease lapses by the clock.
      if (!natsIsUp(o.nc)) {
        if (leading && now() >= validUntil) change(false, 'lease expired, NATS down')
      } else if (leading) await renew()
      else await poll()
    } catch (err) {
      log.warn({ err }, 'leader election step failed')
      if (/stream not found/i.test(String(err))) await ensureStream().catch(() => undefined)
    } finally {
      if (!stopped) timer = setTimeout(() => void (running = step()), periodMs)
    }
  }

  await ensureStream()
  // The first round is awaited: a lone replica leads from its first tick.
  await (running = step())

  return {
    isLeader: () => leading && now() < validUntil,
    holder: () => holder,
    stats,
    async stop() {
      stopped = true
      clearTimeout(timer)
      // A renewal in flight would race the release for the same sequence.
      await running
      if (!leading) return
      const wasValid = now() < validUntil
      change(false, 'stopping')
      if (!wasValid) return
      try {
        await write(null, seq)
      } catch (err) {
        log.warn({ err }, 'lease release failed; a standby takes over after the TTL')
      }
    },
  }
}
