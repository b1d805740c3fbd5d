import { readFileSync } from 'node:fs'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connectNats, ensureStreams, type NatsConnection } from '@arb/bus'
import { tickMsgId, topology, type Signal, type Tick, type Topology } from '@arb/contracts'
import { createLogger, type Logger } from '@arb/observability'
import { createPool, migrate, type Pool } from '@arb/storage'
import { eventually, freshSchema, testDatabaseUrl, testNatsUrl, uniqueName, sampleSignal } from '@arb/testkit'

export const log: Logger = createLogger({
  service: 'persister-test',
  level: process.env['ARB_TEST_LOGS'] ? 'debug' : 'silent',
})

const T0 = 1_700_000_000_000

export const tick = (i: number, over: Partial<Tick> = {}): Tick => ({
  v: 1,
  exchange: i % 2 ? 'coinbase' : 'bl3p',
  pair: 'BTC-EUR',
  seq: String(i),
  exchangeTs: T0 + i,
  receivedTs: T0 + i + 5,
  bids: [
    [30_000 - i / 100, 0.5],
    [29_999 - i / 100, 1.5],
  ],
  asks: [
    [30_001 + i / 100, 0.25],
    [30_002 + i / 100, 2],
  ],
  ...over,
})

export const signal = sampleSignal

export interface Fixture {
  readonly prefix: string
  readonly topo: Topology
  readonly schema: string
  readonly natsUrl: string
  readonly databaseUrl: string
  readonly nc: NatsConnection
  readonly pool: Pool
  /** Publishes to JetStream and waits for the ack; `msgId` defaults to the tick's de-dup id. */
  publishTick(t: Tick | string, subject?: string, msgId?: string): Promise<{ duplicate: boolean }>
  publishSignal(s: Signal): Promise<{ duplicate: boolean }>
  count(table?: string): Promise<number>
  /** Waits until the durable has nothing pending and nothing unacked. */
  settled(durable: string, stream?: string): Promise<void>
  cleanup(): Promise<void>
}

/**
 * A prefixed topology with its streams, a migrated fresh schema, and a NATS connection; on the
 * shared test database unless `databaseUrl` names another server (one the test may stop).
 */
export const fixture = async (opts: { databaseUrl?: string } = {}): Promise<Fixture> => {
  const natsUrl = await testNatsUrl()
  const databaseUrl = opts.databaseUrl ?? (await testDatabaseUrl())
  const prefix = uniqueName('pers')
  const topo = topology(prefix)
  const nc = await connectNats(natsUrl, log, 'persister-test')
  await ensureStreams(nc, topo, { ticksMaxAgeMs: 3_600_000, dedupWindowMs: 60_000 }, log, { update: true })
  const db = await freshSchema(databaseUrl)
  const pool = createPool(databaseUrl, { schema: db.schema })
  await migrate(pool)
  const js = jetstream(nc)
  const jsm = await jetstreamManager(nc)
  return {
    prefix,
    topo,
    schema: db.schema,
    natsUrl,
    databaseUrl,
    nc,
    pool,
    publishTick: async (t, subject, msgId) => {
      const id = msgId ?? (typeof t === 'string' ? undefined : tickMsgId(t))
      const ack = await js.publish(
        subject ?? (typeof t === 'string' ? topo.tick('bl3p', 'BTC-EUR') : topo.tick(t.exchange, t.pair)),
        typeof t === 'string' ? t : JSON.stringify(t),
        id ? { msgID: id } : {},
      )
      return { duplicate: ack.duplicate }
    },
    publishSignal: async (s) => {
      const ack = await js.publish(topo.signals, JSON.stringify(s), { msgID: `${s.id}:${s.state}:${s.ts}` })
      return { duplicate: ack.duplicate }
    },
    count: async (table = 'ticks') => (await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number,
    settled: async (durable, stream = topo.ticksStream) => {
      await eventually(
        async () => {
          const info = await jsm.consumers.info(stream, durable)
          return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined
        },
        30_000,
        `${durable} to drain`,
      )
    },
    cleanup: async () => {
      await jsm.streams.delete(topo.ticksStream).catch(() => undefined)
      await jsm.streams.delete(topo.signalsStream).catch(() => undefined)
      await nc.drain()
      await pool.end()
      await db.drop()
    },
  }
}

export interface Load {
  /** Ticks published and acknowledged by JetStream so far; tick(i) for i below this. */
  readonly published: number
  /** Stops publishing; resolves once every publish in flight was acknowledged. */
  stop(): Promise<number>
}

/**
 * Like an ingestor: a publish that fails (the machine's NATS is shared and busy) is sent again
 * with the same Nats-Msg-Id, which JetStream stores once.
 */
const publishUntilAcked = async (f: Fixture, t: Tick): Promise<void> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await f.publishTick(t)
      return
    } catch (err) {
      if (attempt >= 20) throw err
      await new Promise((r) => setTimeout(r, 100 * attempt))
    }
  }
}

/**
 * Publishes tick(first), tick(first + 1), … at `perSecond`, in small groups every 20 ms, the way
 * several ingestors together feed the stream, until stopped.
 */
export const publishAtRate = (f: Fixture, perSecond: number, first = 0): Load => {
  const STEP_MS = 20
  let next = first
  let published = 0
  let stopped = false
  const started = Date.now()
  const done = (async () => {
    while (!stopped) {
      const due = Math.floor(((Date.now() - started) * perSecond) / 1000) - (next - first)
      const group: Promise<unknown>[] = []
      for (let k = 0; k < due; k++) group.push(publishUntilAcked(f, tick(next++)))
      await Promise.all(group)
      published += group.length
      await new Promise((r) => setTimeout(r, STEP_MS))
    }
  })()
  return {
    get published() {
      return published
    },
    stop: async () => {
      stopped = true
      await done
      return published
    },
  }
}

/** Resident set size of a process, from /proc (Linux). */
export const rssBytes = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1]) * 1024
}
