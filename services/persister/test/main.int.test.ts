import { afterEach, describe, expect, it } from 'vitest'
import { heartbeatDecoder, type Heartbeat } from '@arb/contracts'
import { eventually, startService, type ServiceProcess } from '@arb/testkit'
import { ACK_WAIT_MS } from '../src/persister.js'
import { fixture, signal, tick, type Fixture } from './helpers.js'

/** The built composition root (`dist/main.js`, as the images run it) against real NATS and PostgreSQL. */

let fx: Fixture | undefined
const procs: ServiceProcess[] = []

afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop()
  await fx?.cleanup()
  fx = undefined
})

const persister = (f: Fixture, name = 'persister') => {
  const p = startService(name, 'persister', {
    NATS_URL: f.natsUrl,
    DATABASE_URL: f.databaseUrl,
    NATS_PREFIX: f.prefix,
    DB_SCHEMA: f.schema,
    BATCH_SIZE: '200',
    BATCH_MAX_WAIT_MS: '50',
    HEARTBEAT_MS: '200',
    LOG_LEVEL: 'info',
  })
  procs.push(p)
  return p
}

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
      const first = persister(f, 'persister-1')
      await eventually(async () => ((await f.count()) >= 1000 ? true : undefined), 15_000, 'some rows')
      first.child.kill('SIGKILL')
      await new Promise((r) => first.child.once('exit', r))
      expect(await f.count()).toBeLessThan(N)

      // Whatever the killed process held unacked comes back to the new one after ack_wait.
      const second = persister(f, 'persister-2')
      await eventually(async () => ((await f.count()) === N ? true : undefined), ACK_WAIT_MS + 20_000, `${N} rows`)
      await f.settled('persister')
      const r = await f.pool.query(
        `SELECT count(DISTINCT seq)::int AS n, min(seq::int) AS lo, max(seq::int) AS hi FROM ticks`,
      )
      expect(r.rows[0]).toEqual({ n: N, lo: 0, hi: N - 1 })
      expect(await f.count()).toBe(N)
      expect(await second.stop()).toBe(0)
    },
    ACK_WAIT_MS + 60_000,
  )
})
