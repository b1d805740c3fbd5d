import { afterEach, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { heartbeatDecoder, type Heartbeat } from '@arb/contracts'
import { eventually, startService, type ServiceProcess } from '@arb/testkit'
import { fixture, publishAtRate, signal, tick, type Fixture, type Load } from './helpers.js'

/** The built composition root (`dist/main.js`, as the images run it) against real NATS and PostgreSQL. */

let fx: Fixture | undefined
let load: Load | undefined
const procs: ServiceProcess[] = []

afterEach(async () => {
  await load?.stop()
  load = undefined
  for (const p of procs.splice(0)) await p.stop()
  await fx?.cleanup()
  fx = undefined
})

const persister = (f: Fixture, name = 'persister', env: Record<string, string> = {}) => {
  const p = startService(name, 'persister', {
    NATS_URL: f.natsUrl,
    DATABASE_URL: f.databaseUrl,
    NATS_PREFIX: f.prefix,
    DB_SCHEMA: f.schema,
    BATCH_SIZE: '200',
    BATCH_MAX_WAIT_MS: '50',
    HEARTBEAT_MS: '200',
    LOG_LEVEL: 'info',
    ...env,
  })
  procs.push(p)
  return p
}

// Shorter than the 30 s default (ACK_WAIT_MS): what a killed process held comes back sooner.
const ACK_WAIT_MS = 5000

const logged = (p: ServiceProcess, msg: string) =>
  eventually(() => p.lines.find((l) => l['msg'] === msg), 15_000, `log "${msg}"`)

describe('persister main', () => {
  it('migrates, stores ticks and signals, beats, and stops cleanly on SIGTERM', async () => {
    const f = (fx = await fixture())
    let beat: Heartbeat | undefined
    f.nc.subscribe(f.topo.heartbeats, {
      callback: (_e, m) => {
        beat = heartbeatDecoder.decode(m.data)
      },
    })
    const p = persister(f)
    const mode = await eventually(() => p.lines.find((l) => String(l['msg']).startsWith('storage mode:')), 15_000)
    expect(mode).toMatchObject({ schema: f.schema, level: 30 })
    expect(['storage mode: plain postgresql', 'storage mode: timescaledb']).toContain(mode['msg'])
    await logged(p, 'ticks pipeline started')

    for (let i = 0; i < 500; i++) await f.publishTick(tick(i))
    await f.publishSignal(signal('m1', 'opened', 1_700_000_200_000))
    await f.publishTick('{"not":"a tick"}', undefined, 'junk')
    await eventually(async () => ((await f.count()) === 500 ? true : undefined), 15_000, 'ticks stored')
    await eventually(async () => ((await f.count('arb_signals')) === 1 ? true : undefined), 15_000, 'signal stored')
    // Ticks, signals and the invalid message are counted by separate consumers: wait for a beat that has all three.
    const counted = (c: Record<string, number> | undefined) =>
      c?.['rowsInserted'] === 500 && c['signalsInserted'] === 1 && c['invalid'] === 1
    await eventually(() => (counted(beat?.counters) ? true : undefined), 10_000, 'heartbeat counters')
    expect(beat).toMatchObject({
      service: 'persister',
      status: 'ok',
      counters: { rowsInserted: 500, invalid: 1, signalsInserted: 1, failures: 0 },
    })
    expect(beat?.lastMessageTs).toBeGreaterThan(Date.now() - 10_000)
    expect(p.lines.find((l) => l['msg'] === 'invalid message')).toMatchObject({ level: 40 })

    expect(await p.stop()).toBe(0)
    expect(p.lines.map((l) => l['msg'])).toEqual(expect.arrayContaining(['shutting down', 'stopped']))
  })

  it(
    'SIGKILLed mid-stream and restarted, ends with every tick exactly once',
    async () => {
      const f = (fx = await fixture())
      const N = 6000
      const pending: Promise<unknown>[] = []
      for (let i = 0; i < N; i++) pending.push(f.publishTick(tick(i)))
      await Promise.all(pending)
      const first = persister(f, 'persister-1', { ACK_WAIT_MS: String(ACK_WAIT_MS) })
      await eventually(async () => ((await f.count()) >= 1000 ? true : undefined), 15_000, 'some rows')
      first.child.kill('SIGKILL')
      await new Promise((r) => first.child.once('exit', r))
      expect(await f.count()).toBeLessThan(N)

      // Whatever the killed process held unacked comes back to the new one after ack_wait.
      const second = persister(f, 'persister-2', { ACK_WAIT_MS: String(ACK_WAIT_MS) })
      await eventually(async () => ((await f.count()) === N ? true : undefined), ACK_WAIT_MS + 20_000, `${N} rows`)
      await f.settled('persister')
      const jsm = await jetstreamManager(f.nc)
      expect((await jsm.consumers.info(f.topo.ticksStream, 'persister')).config.ack_wait).toBe(ACK_WAIT_MS * 1e6)
      const r = await f.pool.query(
        `SELECT count(DISTINCT seq)::int AS n, min(seq::int) AS lo, max(seq::int) AS hi FROM ticks`,
      )
      expect(r.rows[0]).toEqual({ n: N, lo: 0, hi: N - 1 })
      expect(await f.count()).toBe(N)
      expect(await second.stop()).toBe(0)
    },
    ACK_WAIT_MS + 60_000,
  )

  it('on SIGTERM under load commits and acks what it holds, acks nothing else, and exits 0 within 10 s', async () => {
    const f = (fx = await fixture())
    const jsm = await jetstreamManager(f.nc)
    // Batches that take a while to fill, so that one is half full when the signal comes.
    const p = persister(f, 'persister', { BATCH_SIZE: '1000', BATCH_MAX_WAIT_MS: '400' })
    await logged(p, 'ticks pipeline started')
    const live = (load = publishAtRate(f, 2000))
    await eventually(async () => ((await f.count()) >= 3000 ? true : undefined), 20_000, 'rows under load')

    const termAt = Date.now()
    const exited = new Promise<{ code: number | null; ms: number }>((resolve) =>
      p.child.once('exit', (code) => resolve({ code, ms: Date.now() - termAt })),
    )
    p.child.kill('SIGTERM')
    const { code, ms } = await exited
    expect(code).toBe(0)
    expect(ms).toBeLessThan(10_000)
    const stopped = p.lines.find((l) => l['msg'] === 'ticks pipeline stopped') as Record<string, number>
    expect(stopped).toMatchObject({ unwritten: 0 })

    // Whatever it acked is stored, and whatever is stored it acked: nothing is left in between.
    const info = await jsm.consumers.info(f.topo.ticksStream, 'persister')
    const rows = await f.count()
    expect(info.num_ack_pending).toBe(0)
    expect(info.ack_floor.stream_seq).toBe(rows)
    expect(stopped['acked']).toBe(rows)
    expect(stopped['inserted']).toBe(rows)
    const published = await live.stop()
    expect(published).toBeGreaterThan(rows)

    // The rest waits in JetStream for the next instance.
    const next = persister(f, 'persister-2')
    await eventually(async () => ((await f.count()) === published ? true : undefined), 20_000, 'every tick')
    await f.settled('persister')
    const r = await f.pool.query(`SELECT count(DISTINCT (exchange, seq))::int AS n FROM ticks`)
    expect(r.rows[0].n).toBe(published)
    expect(await next.stop()).toBe(0)
    console.error(`[sigterm] persister ${JSON.stringify({ exitMs: ms, rowsAtExit: rows, published })}`)
  }, 90_000)
})
