import { afterEach, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { heartbeatDecoder, type Heartbeat } from '@arb/contracts'
import { eventually, startPostgres, startService, type OwnPostgres, type ServiceProcess } from '@arb/testkit'
import { fixture, publishAtRate, rssBytes, type Fixture, type Load } from './helpers.js'

/**
 * The built persister (`dist/main.js`) under a steady load while a PostgreSQL server of the
 * test's own goes away for a minute, comes back, and then turns slow. NATS is the machine's.
 */

const BATCH_SIZE = 1000
const LIVE_PER_S = 500
const OUTAGE_MS = 60_000
const ACK_WAIT_MS = 6000

let own: OwnPostgres | undefined
let fx: Fixture | undefined
let load: Load | undefined
const procs: ServiceProcess[] = []

afterEach(async () => {
  await load?.stop()
  load = undefined
  for (const p of procs.splice(0)) await p.stop()
  own?.thaw()
  await own?.start()
  await fx?.cleanup()
  await own?.close()
  own = undefined
  fx = undefined
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Progress lines for the figures the report quotes; the assertions do not depend on them. */
const note = (what: string, fields: Record<string, unknown>) =>
  console.error(`[outage] ${what} ${JSON.stringify(fields)}`)

describe('persister through a PostgreSQL outage', () => {
  it(
    'down 60 s under load: acks nothing uncommitted, stays bounded, reports why, retries with jitter, then drains everything once; slow (200 ms a statement): keeps up',
    async () => {
      own = await startPostgres()
      const f = (fx = await fixture({ databaseUrl: own.url }))
      const jsm = await jetstreamManager(f.nc)
      const consumer = () => jsm.consumers.info(f.topo.ticksStream, 'persister')
      let beat: Heartbeat | undefined
      f.nc.subscribe(f.topo.heartbeats, {
        callback: (_e, m) => {
          const hb = heartbeatDecoder.decode(m.data)
          if (hb.service === 'persister') beat = hb
        },
      })
      const p = startService('persister', 'persister', {
        NATS_URL: f.natsUrl,
        DATABASE_URL: f.databaseUrl,
        NATS_PREFIX: f.prefix,
        DB_SCHEMA: f.schema,
        BATCH_SIZE: String(BATCH_SIZE),
        BATCH_MAX_WAIT_MS: '100',
        ACK_WAIT_MS: String(ACK_WAIT_MS),
        HEARTBEAT_MS: '250',
        LOG_LEVEL: 'info',
      })
      procs.push(p)
      const pid = p.child.pid as number
      await eventually(() => p.lines.find((l) => l['msg'] === 'ticks pipeline started'), 15_000, 'persister up')

      // Live: every tick stored within a batch or two.
      const live = (load = publishAtRate(f, LIVE_PER_S))
      await sleep(3000)
      await eventually(
        async () => (live.published - (await f.count()) < 2 * BATCH_SIZE ? true : undefined),
        10_000,
        'live ticks stored',
      )

      // Down.
      await own.stop()
      const downAt = Date.now()
      await sleep(1000)
      const ackedAtDown = (await consumer()).ack_floor.stream_seq
      const beatAckedAtDown = beat?.counters['acked']
      const rss: number[] = []
      let maxAckPending = 0
      while (Date.now() - downAt < OUTAGE_MS) {
        await sleep(1000)
        const c = await consumer()
        // Nothing can have been committed since the server stopped, so nothing may have been acked.
        expect(c.ack_floor.stream_seq).toBe(ackedAtDown)
        expect(beat?.counters['acked']).toBe(beatAckedAtDown)
        maxAckPending = Math.max(maxAckPending, c.num_ack_pending)
        rss.push(rssBytes(pid))
      }
      expect(p.child.exitCode).toBeNull()
      expect(beat).toMatchObject({
        status: 'degraded',
        reason: expect.stringMatching(/^database: ticks writes failing since/),
      })
      expect(Date.now() - (beat?.ts ?? 0)).toBeLessThan(2000)
      const backlog = live.published - ackedAtDown
      expect(backlog).toBeGreaterThan(0.9 * LIVE_PER_S * (OUTAGE_MS / 1000))
      // Bounded: at most two batches held, the rest waits in JetStream, and memory stays flat.
      expect(maxAckPending).toBeLessThanOrEqual(2 * BATCH_SIZE)
      // A minute of backlog is 30,000 ticks (~20 MB as JSON): held in the process, it would show.
      const firstTen = Math.max(...rss.slice(0, 10))
      const lastHalf = Math.max(...rss.slice(rss.length / 2))
      expect(lastHalf - firstTen).toBeLessThan(16 * 1024 * 1024)
      // Held messages got progress acks: ten ack waits went by without a redelivery.
      expect((await consumer()).num_redelivered).toBe(0)
      const failures = p.lines.filter((l) => l['msg'] === 'batch write failed')
      const delays = failures.map((l) => l['retryInMs'] as number)
      expect(failures.length).toBeGreaterThanOrEqual(6)
      expect(Math.max(...delays)).toBeLessThanOrEqual(10_000)
      expect(new Set(delays).size).toBeGreaterThan(delays.length / 2)
      note('outage', {
        backlog,
        maxAckPending,
        rssMiB: rss.map((b) => Math.round(b / 1048576)),
        retries: failures.length,
        retryInMs: delays,
        reason: beat?.reason,
      })

      // Back: the backlog drains while the live load goes on.
      await own.start()
      const upAt = Date.now()
      const rowsAtUp = await f.count()
      // The first write waits for the next retry (at most RETRY_MAX_MS); the drain runs from there.
      let firstWriteAt = 0
      let caughtUpAt = 0
      let rowsAtCatchUp = 0
      while (Date.now() - upAt < 60_000) {
        const rows = await f.count()
        if (firstWriteAt === 0 && rows > rowsAtUp) firstWriteAt = Date.now()
        if (rows >= live.published - LIVE_PER_S / 5) {
          caughtUpAt = Date.now()
          rowsAtCatchUp = rows
          break
        }
        await sleep(100)
      }
      expect(caughtUpAt).toBeGreaterThan(0)
      expect(firstWriteAt - upAt).toBeLessThan(12_000)
      const drainPerS = ((rowsAtCatchUp - rowsAtUp) / Math.max(1, caughtUpAt - firstWriteAt)) * 1000
      await eventually(() => (beat?.status === 'ok' ? true : undefined), 5000, 'status ok again')
      expect(beat?.reason).toBeUndefined()
      expect(p.lines.some((l) => l['msg'] === 'writes recovered')).toBe(true)
      note('drain', {
        backlogAtUp: live.published - rowsAtUp,
        firstWriteAfterMs: firstWriteAt - upAt,
        drainMs: caughtUpAt - firstWriteAt,
        drainRowsPerS: Math.round(drainPerS),
        liveTicksPerS: LIVE_PER_S,
      })
      // Drained while the live load went on, so faster than it, by far.
      expect(drainPerS).toBeGreaterThan(LIVE_PER_S)

      // Slow: every statement that writes ticks takes 200 ms more, inside its transaction.
      await f.pool.query(`
        CREATE FUNCTION ${f.schema}.slow_statement() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
        CREATE TRIGGER slow_statement BEFORE INSERT ON ${f.schema}.ticks
          FOR EACH STATEMENT EXECUTE FUNCTION ${f.schema}.slow_statement();`)
      const batchesBefore = beat?.counters['batches'] ?? 0
      const rowsBefore = beat?.counters['rowsInserted'] ?? 0
      const slowFrom = Date.now()
      let worstLag = 0
      while (Date.now() - slowFrom < 20_000) {
        await sleep(500)
        worstLag = Math.max(worstLag, live.published - (await f.count()))
      }
      const total = await live.stop()
      await f.settled('persister')
      const slowBatches = (beat?.counters['batches'] ?? 0) - batchesBefore
      const slowRows = (beat?.counters['rowsInserted'] ?? 0) - rowsBefore
      note('slow', { worstLag, batches: slowBatches, rowsPerBatch: Math.round(slowRows / Math.max(1, slowBatches)) })
      // 200 ms a write allows five writes a second, so batches grow instead of a queue.
      expect(slowBatches).toBeLessThanOrEqual(6 * 21)
      expect(worstLag).toBeLessThan(2 * BATCH_SIZE)

      // Every tick published, stored exactly once.
      const r = await f.pool.query(
        `SELECT count(*)::int AS n, count(DISTINCT (exchange, pair, seq))::int AS d, max(seq::int) AS top FROM ticks`,
      )
      expect(r.rows[0]).toEqual({ n: total, d: total, top: total - 1 })
      expect(beat?.counters['duplicates']).toBe(0)
      expect(await p.stop()).toBe(0)
    },
    OUTAGE_MS + 150_000,
  )
})
