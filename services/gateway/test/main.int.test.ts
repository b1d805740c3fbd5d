import { afterEach, describe, expect, it } from 'vitest'
import pg from 'pg'
import {
  eventually,
  freePort,
  freshSchema,
  startNats,
  startPostgres,
  startService,
  testDatabaseUrl,
  testNatsUrl,
  uniqueName,
  type OwnPostgres,
  type ServiceProcess,
} from '@arb/testkit'
import { createSignalsTable, insertSignals, makeSignal, T0 } from './helpers.js'

/** The built gateway (`dist/main.js`) over real HTTP, NATS and PostgreSQL. */

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Timed {
  status: number
  body: Record<string, unknown>
  ms: number
}

const get = async (url: string): Promise<Timed> => {
  const started = Date.now()
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  const body = (await res.json()) as Record<string, unknown>
  return { status: res.status, body, ms: Date.now() - started }
}

/**
 * A gateway process on a schema holding arb_signals with a few rows, in the database at
 * `databaseUrl`; resolves once it is ready, or only listening when `natsUrl` names no server yet.
 */
const startGatewayProcess = async (
  databaseUrl: string,
  natsUrl?: string,
): Promise<{ base: string; proc: ServiceProcess; schema: string }> => {
  const { schema, drop } = await freshSchema(databaseUrl)
  await createSignalsTable(databaseUrl, schema)
  const pool = new pg.Pool({ connectionString: databaseUrl, options: `-c search_path=${schema}` })
  await insertSignals(pool, [makeSignal({ id: 'g1' }), makeSignal({ id: 'g2', ts: T0 + 1 })])
  await pool.end()
  const port = await freePort()
  const proc = startService('gateway', 'gateway', {
    NATS_URL: natsUrl ?? (await testNatsUrl()),
    NATS_PREFIX: uniqueName('gw'),
    DATABASE_URL: databaseUrl,
    DB_SCHEMA: schema,
    PORT: String(port),
    LOG_LEVEL: 'info',
  })
  cleanups.push(async () => {
    await proc.stop()
    await drop().catch(() => undefined)
  })
  const base = `http://127.0.0.1:${port}`
  const awaited = natsUrl === undefined ? '/ready' : '/health'
  const answers = async () =>
    (await get(`${base}${awaited}`).catch(() => undefined))?.status === 200 ? true : undefined
  await eventually(answers, 20_000, awaited)
  return { base, proc, schema }
}

const note = (what: string, fields: Record<string, unknown>) =>
  console.error(`[gateway] ${what} ${JSON.stringify(fields)}`)

describe('gateway process', () => {
  it('listens while NATS is not there yet: /ready says nats down, data routes answer, ready once NATS comes', async () => {
    const nats = await startNats()
    cleanups.push(() => nats.close())
    await nats.stop()
    const { base, proc } = await startGatewayProcess(await testDatabaseUrl(), nats.url)

    const ready = await get(`${base}/ready`)
    expect(ready.status).toBe(503)
    expect(ready.body).toEqual({ status: 'not ready', checks: { nats: 'down', database: 'up' } })
    expect((await get(`${base}/signals`)).body['items']).toHaveLength(2)
    expect((await get(`${base}/services`)).status).toBe(200)
    await eventually(() => proc.lines.find((l) => l['msg'] === 'nats not reachable yet, still trying'), 10_000, 'log')

    const natsAt = Date.now()
    await nats.start()
    await eventually(async () => ((await get(`${base}/ready`)).status === 200 ? true : undefined), 10_000, 'ready')
    const readyMs = Date.now() - natsAt
    // Its own heartbeat now goes out and comes back through NATS into /services.
    const self = await eventually(
      async () => {
        const items = (await get(`${base}/services`)).body as unknown as { service: string; status: string }[]
        return items.find((i) => i.service === 'gateway' && i.status === 'ok')
      },
      10_000,
      'gateway in /services',
    )
    expect(self).toBeDefined()
    note('nats late', { readyAfterNatsMs: readyMs })
  }, 60_000)

  it('exits 0 on SIGTERM while it is still waiting for NATS', async () => {
    const nats = await startNats()
    cleanups.push(() => nats.close())
    await nats.stop()
    const { proc } = await startGatewayProcess(await testDatabaseUrl(), nats.url)
    const termAt = Date.now()
    const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)))
    proc.child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(Date.now() - termAt).toBeLessThan(10_000)
  }, 30_000)

  it('answers 503 fast while PostgreSQL is stopped or frozen, never hangs, and recovers by itself', async () => {
    const own: OwnPostgres = await startPostgres()
    cleanups.push(async () => {
      own.thaw()
      await own.close()
    })
    const { base } = await startGatewayProcess(own.url)
    expect((await get(`${base}/signals`)).body['items']).toHaveLength(2)

    const probe = async () => ({
      ready: await get(`${base}/ready`),
      list: await get(`${base}/signals`),
      one: await get(`${base}/signals/g1`),
    })
    const expectUnavailable = (r: Awaited<ReturnType<typeof probe>>) => {
      expect(r.ready.status).toBe(503)
      expect(r.ready.body).toEqual({ status: 'not ready', checks: { nats: 'up', database: 'down' } })
      for (const res of [r.list, r.one]) {
        expect(res.status).toBe(503)
        expect(res.body).toEqual({ error: 'database unavailable' })
      }
    }

    // Stopped: connections are refused, every answer is immediate.
    await own.stop()
    const stopped = [await probe(), await probe(), await probe()]
    stopped.forEach(expectUnavailable)
    for (const r of stopped) for (const res of [r.ready, r.list, r.one]) expect(res.ms).toBeLessThan(2000)

    await own.start()
    await eventually(async () => ((await get(`${base}/signals`)).status === 200 ? true : undefined), 10_000, 'back')
    expect((await get(`${base}/ready`)).status).toBe(200)

    // Frozen: connections open and nothing answers; the gateway's own bounds end each request.
    own.freeze()
    const frozen = await Promise.all([probe(), probe()])
    frozen.forEach(expectUnavailable)
    for (const r of frozen) {
      expect(r.ready.ms).toBeLessThan(2000) // READY_DB_TIMEOUT_MS
      for (const res of [r.list, r.one]) expect(res.ms).toBeLessThan(8000) // statement timeout + 1 s client bound
    }
    own.thaw()
    await eventually(async () => ((await get(`${base}/signals`)).status === 200 ? true : undefined), 15_000, 'thawed')
    expect((await get(`${base}/ready`)).status).toBe(200)
    note('latency', {
      stoppedMs: stopped.map((r) => [r.ready.ms, r.list.ms, r.one.ms]),
      frozenMs: frozen.map((r) => [r.ready.ms, r.list.ms, r.one.ms]),
    })
  }, 90_000)

  it('on SIGTERM answers the requests in flight, turns new ones away with 503, and exits 0 within 10 s', async () => {
    const databaseUrl = await testDatabaseUrl()
    const { base, proc, schema } = await startGatewayProcess(databaseUrl)

    // Requests held inside PostgreSQL: the table is locked until the test lets go.
    const locker = new pg.Client({ connectionString: databaseUrl })
    await locker.connect()
    cleanups.push(() => locker.end())
    await locker.query(`BEGIN; LOCK TABLE ${schema}.arb_signals IN ACCESS EXCLUSIVE MODE`)
    const completedBefore = proc.lines.filter((l) => l['msg'] === 'request completed').length
    const received = () =>
      proc.lines.filter(
        (l) => l['msg'] === 'incoming request' && String((l['req'] as { url?: string })?.url).startsWith('/signals'),
      )
    const before = received().length
    const inFlight = Array.from({ length: 5 }, (_, i) => get(`${base}/signals${i % 2 ? '' : '/g1'}`))
    await eventually(() => (received().length - before === 5 ? true : undefined), 5000, 'five requests received')
    await new Promise((r) => setTimeout(r, 200))
    expect(proc.lines.filter((l) => l['msg'] === 'request completed').length).toBe(completedBefore)

    const termAt = Date.now()
    const exited = new Promise<{ code: number | null; ms: number }>((resolve) =>
      proc.child.once('exit', (code) => resolve({ code, ms: Date.now() - termAt })),
    )
    proc.child.kill('SIGTERM')
    await eventually(() => proc.lines.find((l) => l['msg'] === 'shutting down'), 5000, 'shutting down')
    const turnedAway = await Promise.all([get(`${base}/signals`), get(`${base}/ready`), get(`${base}/health`)])
    for (const r of turnedAway) {
      expect(r.status).toBe(503)
      expect(r.body).toEqual({ error: 'Service Unavailable', message: 'shutting down' })
    }
    expect(proc.child.exitCode).toBeNull()

    await new Promise((r) => setTimeout(r, 1000))
    await locker.query('COMMIT')
    const answered = await Promise.all(inFlight)
    for (const r of answered) expect(r.status).toBe(200)
    expect(answered.filter((r) => Array.isArray(r.body['items']))[0]?.body['items']).toHaveLength(2)

    const { code, ms } = await exited
    expect(code).toBe(0)
    expect(ms).toBeLessThan(10_000)
    await expect(fetch(`${base}/health`)).rejects.toThrow()
    note('sigterm', { inFlight: answered.map((r) => r.ms), turnedAwayMs: turnedAway.map((r) => r.ms), exitMs: ms })
  }, 60_000)
})
