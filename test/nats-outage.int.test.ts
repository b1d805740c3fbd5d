import { afterEach, describe, expect, it, onTestFailed } from 'vitest'
import pg from 'pg'
import { connectNats, type NatsConnection } from '@arb/bus'
import { heartbeatDecoder, signalDecoder, topology, type Heartbeat } from '@arb/contracts'
import { createLogger } from '@arb/observability'
import {
  eventually,
  freePort,
  freshSchema,
  startNats,
  startService,
  testDatabaseUrl,
  type OwnNats,
  type ServiceProcess,
} from '@arb/testkit'

/**
 * Issue 5, NATS down under load: the built services as child processes (simulator, three
 * ingestors, persister, detector, gateway) on a nats-server of the test's own, which is stopped
 * for 10 s (SIGTERM) or 60 s (SIGKILL) and started again on the same port and store. Nothing
 * may exit, every tick the ingestors produced must end up stored exactly once, the detector must
 * signal again (the time it takes is printed against the 5 s goal), and /ready must say NATS is
 * down meanwhile. The 60 s case alone takes about 90 s.
 */

const log = createLogger({ service: 'nats-outage-test', level: 'silent' })
const EXCHANGES = ['coinbase', 'kraken', 'bl3p'] as const
type Exchange = (typeof EXCHANGES)[number]
/** Small buffers on two feeds so that the outage overflows them, one per policy. */
const BUFFER: Record<Exchange, { ticks: string; policy: string }> = {
  coinbase: { ticks: '100000', policy: 'drop-oldest' },
  kraken: { ticks: '300', policy: 'drop-oldest' },
  bl3p: { ticks: '300', policy: 'drop-newest' },
}
const HEARTBEAT_MS = 500
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Stack {
  readonly nats: OwnNats
  readonly procs: Map<string, ServiceProcess>
  readonly gateway: string
  readonly db: pg.Client
  /** Latest heartbeat per ingestor exchange. */
  readonly beats: Map<string, Heartbeat>
  /** Every signal event seen on arb.signals, with its arrival time here. */
  readonly signals: { at: number; ts: number; state: string }[]
  close(): Promise<void>
}

let stack: Stack | undefined
afterEach(async () => {
  await stack?.close()
  stack = undefined
})

/** Everything running on a fresh server, or (`natsDown`) started while the server is stopped. */
const startStack = async ({ natsDown = false }: { natsDown?: boolean } = {}): Promise<Stack> => {
  const nats = await startNats()
  if (natsDown) await nats.stop()
  const databaseUrl = await testDatabaseUrl()
  const { schema, drop } = await freshSchema(databaseUrl)
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  await db.query(`SET search_path TO ${schema}`)
  const topo = topology('')
  const beats = new Map<string, Heartbeat>()
  const signals: Stack['signals'] = []
  // Not awaited: with `natsDown` it resolves once the test starts the server.
  let testNc: NatsConnection | undefined
  void connectNats(nats.url, log, 'nats-outage-test').then((nc) => {
    testNc = nc
    nc.subscribe(topo.heartbeats, {
      callback: (_err, m) => {
        const hb = heartbeatDecoder.decode(m.data)
        if (hb.service === 'ingestor' && hb.exchange) beats.set(hb.exchange, hb)
      },
    })
    nc.subscribe(topo.signals, {
      callback: (_err, m) => {
        const s = signalDecoder.decode(m.data)
        signals.push({ at: Date.now(), ts: s.ts, state: s.state })
      },
    })
  })

  const simPort = await freePort()
  const gwPort = await freePort()
  const common = { NATS_URL: nats.url, LOG_LEVEL: 'info', HEARTBEAT_MS: String(HEARTBEAT_MS) }
  const procs = new Map<string, ServiceProcess>()
  const add = (name: string, service: string, env: Record<string, string>) =>
    procs.set(name, startService(name, service, env))
  add('simulator', 'simulator', {
    PORT: String(simPort),
    PAIRS: 'BTC-EUR',
    // Load: every exchange sends a frame every 10 ms, so ~100 ticks/s per feed.
    TICK_MS: '10',
    // Windows often: they are drawn among every simulated exchange and pair, not only those run here.
    OPPORTUNITY_EVERY_MS: '150',
    OPPORTUNITY_MS: '140',
  })
  add('persister', 'persister', { ...common, DATABASE_URL: databaseUrl, DB_SCHEMA: schema, BATCH_MAX_WAIT_MS: '50' })
  for (const exchange of EXCHANGES) {
    add(`ingestor-${exchange}`, 'ingestor', {
      ...common,
      EXCHANGE: exchange,
      PAIRS: 'BTC-EUR',
      EXCHANGE_URL: `ws://127.0.0.1:${simPort}/${exchange}`,
      PUBLISH_BUFFER_TICKS: BUFFER[exchange].ticks,
      PUBLISH_BUFFER_POLICY: BUFFER[exchange].policy,
    })
  }
  add('detector', 'detector', { ...common })
  add('gateway', 'gateway', { ...common, DATABASE_URL: databaseUrl, DB_SCHEMA: schema, PORT: String(gwPort) })

  onTestFailed(() => {
    for (const p of procs.values()) {
      for (const l of p.lines.slice(-12)) console.error(`[${p.name}] ${JSON.stringify(l).slice(0, 400)}`)
    }
  })
  return {
    nats,
    procs,
    gateway: `http://127.0.0.1:${gwPort}`,
    db,
    beats,
    signals,
    close: async () => {
      await Promise.all([...procs.values()].map((p) => p.stop()))
      await testNc?.close().catch(() => undefined)
      await db.end()
      await drop()
      await nats.close()
    },
  }
}

const exited = (s: Stack) =>
  [...s.procs.values()]
    .filter((p) => p.child.exitCode !== null || p.child.signalCode !== null)
    .map((p) => `${p.name} (${p.child.exitCode ?? p.child.signalCode})`)

const rowsByExchange = async (s: Stack): Promise<Record<string, number>> => {
  const r = await s.db.query<{ exchange: string; n: number }>(
    'SELECT exchange, count(*)::int AS n FROM ticks GROUP BY exchange',
  )
  return Object.fromEntries(r.rows.map((x) => [x.exchange, x.n]))
}

/** A process's log lines with their time as epoch ms. */
const timed = (p: ServiceProcess): (Record<string, unknown> & { t: number })[] =>
  p.lines.map((l) => ({ ...l, t: Date.parse(String(l['time'])) }))

const counter = (hb: Heartbeat | undefined, name: string): number => hb?.counters[name] ?? 0

/**
 * Distinct ticks an ingestor produced: every tick its feed emitted, less those that failed the
 * schema check, those its full buffer gave up, and those JetStream refused at their first
 * attempt as duplicates of an id already stored (a repeated chained frame hash, see seq.ts).
 */
const produced = (hb: Heartbeat | undefined): number =>
  counter(hb, 'ticks') - counter(hb, 'invalidTicks') - counter(hb, 'bufferDropped') - counter(hb, 'duplicates')

const readyStatus = async (gateway: string): Promise<{ status: number; nats?: string }> => {
  try {
    const r = await fetch(`${gateway}/ready`, { signal: AbortSignal.timeout(2000) })
    const body = (await r.json()) as { checks?: { nats?: string } }
    return { status: r.status, ...(body.checks?.nats ? { nats: body.checks.nats } : {}) }
  } catch {
    return { status: 0 }
  }
}

const runOutage = async (outageMs: number, signal: 'SIGTERM' | 'SIGKILL') => {
  const s = (stack = await startStack())

  // Warm: ready, every feed beating 'ok' and stored, the detector signalling.
  await eventually(async () => ((await readyStatus(s.gateway)).status === 200 ? true : undefined), 30_000, '/ready')
  await eventually(
    async () => {
      const rows = await rowsByExchange(s)
      const ok = EXCHANGES.every((e) => s.beats.get(e)?.status === 'ok' && (rows[e] ?? 0) > 0)
      return ok && s.signals.length > 0 ? true : undefined
    },
    30_000,
    'every feed stored and a signal',
  )
  await sleep(2000)

  // The outage.
  const downAt = Date.now()
  await s.nats.stop(signal)
  const ready: { at: number; status: number; nats?: string }[] = []
  const peaks: Record<string, number> = {}
  while (Date.now() - downAt < outageMs) {
    ready.push({ at: Date.now(), ...(await readyStatus(s.gateway)) })
    await sleep(250)
  }
  expect(exited(s), 'processes that exited during the outage').toEqual([])
  const rowsBefore = Object.values(await rowsByExchange(s)).reduce((a, b) => a + b, 0)
  await s.nats.start()
  const upAt = Date.now()

  // Caught up: everything the ingestors had produced by their first beat after NATS returned is stored.
  const catchUp = async () => {
    const firstBeats = await eventually(
      () => {
        const b = EXCHANGES.map((e) => s.beats.get(e))
        return b.every((hb) => hb !== undefined && hb.ts > upAt) ? b : undefined
      },
      10_000,
      'a beat from every ingestor after NATS returned',
    )
    const backlog = firstBeats.reduce((n, hb) => n + produced(hb), 0)
    return eventually(
      async () => {
        const rows = Object.values(await rowsByExchange(s)).reduce((a, b) => a + b, 0)
        return rows >= backlog ? Date.now() : undefined
      },
      60_000,
      'the backlog stored',
    )
  }
  // Measured side by side from the moment NATS is back: signalling again (an event computed after
  // NATS returned, seen here), rows arriving again, the backlog stored, /ready answering 200.
  const [resumed, storing, caughtUp, readyAgain] = await Promise.all([
    eventually(() => s.signals.find((x) => x.ts >= upAt), 20_000, 'a signal computed after NATS returned'),
    eventually(
      async () =>
        Object.values(await rowsByExchange(s)).reduce((a, b) => a + b, 0) > rowsBefore ? Date.now() : undefined,
      20_000,
      'new rows',
    ),
    catchUp(),
    eventually(
      async () => ((await readyStatus(s.gateway)).status === 200 ? Date.now() : undefined),
      15_000,
      '/ready 200 again',
    ),
  ])
  const signalAfterMs = resumed.at - upAt
  // When the detector could signal again (leading, every feed vouched for), from its own log: the
  // first signal also waits for a window between two of the exchanges run here.
  const detectorLog = timed(s.procs.get('detector')!)
  const afterUp = (pred: (l: Record<string, unknown>) => boolean) => detectorLog.find((l) => l.t >= upAt && pred(l))?.t
  const ledAt = afterUp((l) => l['msg'] === 'leadership acquired')
  const feedsOkAt = EXCHANGES.map((e) =>
    afterUp((l) => l['msg'] === 'feed status changed' && l['exchange'] === e && l['status'] === 'ok'),
  )
  const detectorReadyAfterMs = Math.max(ledAt ?? Infinity, ...feedsOkAt.map((t) => t ?? Infinity)) - upAt
  // The first window the detector can see at all: BTC-EUR between two of the exchanges run here.
  const usable = (e: unknown) => EXCHANGES.some((x) => x === e)
  const windowAt = timed(s.procs.get('simulator')!).find(
    (l) =>
      l.t >= upAt &&
      l['msg'] === 'arbitrage window opened' &&
      l['pair'] === 'BTC-EUR' &&
      usable(l['buy']) &&
      usable(l['sell']),
  )?.t
  // Held ticks republished: the big buffer held the whole outage and sent it after.
  const held = await eventually(
    () => {
      const hb = s.beats.get('coinbase')
      return hb && hb.ts > upAt && counter(hb, 'buffered') === 0 ? hb : undefined
    },
    30_000,
    'coinbase buffer drained',
  )
  for (const e of EXCHANGES) peaks[e] = counter(s.beats.get(e), 'bufferPeak')

  // Quiesce: no more frames, then wait until every ingestor has nothing held and stopped counting.
  await s.procs.get('simulator')!.stop()
  const finals = await eventually(
    async () => {
      const before = EXCHANGES.map((e) => s.beats.get(e))
      await sleep(3 * HEARTBEAT_MS)
      const after = EXCHANGES.map((e) => s.beats.get(e))
      const settled = after.every(
        (hb, i) =>
          hb !== undefined &&
          hb.ts > before[i]!.ts &&
          counter(hb, 'buffered') === 0 &&
          counter(hb, 'ticks') === counter(before[i], 'ticks'),
      )
      return settled ? after : undefined
    },
    30_000,
    'ingestors settled',
  )
  const expected = Object.fromEntries(EXCHANGES.map((e, i) => [e, produced(finals[i])]))
  const storedAt = await eventually(
    async () => {
      const rows = await rowsByExchange(s)
      for (const e of EXCHANGES)
        expect(rows[e] ?? 0, `${e} rows never above what it produced`).toBeLessThanOrEqual(expected[e]!)
      return EXCHANGES.every((e) => rows[e] === expected[e]) ? Date.now() : undefined
    },
    45_000,
    'every produced tick stored',
  )
  const distinct = await s.db.query<{ n: number; d: number }>(
    'SELECT count(*)::int AS n, count(DISTINCT (exchange, pair, seq))::int AS d FROM ticks',
  )
  const services = (await (await fetch(`${s.gateway}/services`)).json()) as {
    service: string
    exchange?: string
    counters: Record<string, number>
  }[]

  const figures = {
    outageMs,
    signal,
    produced: expected,
    stored: await rowsByExchange(s),
    bufferPeak: peaks,
    bufferDropped: Object.fromEntries(EXCHANGES.map((e, i) => [e, counter(finals[i], 'bufferDropped')])),
    republished: Object.fromEntries(EXCHANGES.map((e, i) => [e, counter(finals[i], 'republished')])),
    signalAfterMs,
    detectorReadyAfterMs,
    firstUsableWindowAfterMs: windowAt === undefined ? null : windowAt - upAt,
    readyAfterMs: readyAgain - upAt,
    storingAfterMs: storing - upAt,
    caughtUpAfterMs: caughtUp - upAt,
    allStoredAfterMs: storedAt - upAt,
  }
  console.error(`nats outage figures ${JSON.stringify(figures)}`)

  // The simulator was stopped on purpose; nothing else may have exited.
  expect(
    exited(s).filter((p) => !p.startsWith('simulator')),
    'processes that exited',
  ).toEqual([])
  // /ready: 503 naming NATS for the whole outage, once the gateway noticed (a poll in flight at the stop may pass).
  const during = ready.filter((r) => r.at - downAt >= 1000)
  expect(during.length).toBeGreaterThan(outageMs / 250 / 2)
  expect(during.filter((r) => r.status !== 503 || r.nats !== 'down')).toEqual([])
  // Signalling resumes with events computed after NATS returned. The 5 s goal is measured (the
  // figures above), not asserted: timed goals go in bench/ (CONVENTIONS), and this bound only
  // catches a detector that never comes back or waits out something long.
  expect(signalAfterMs).toBeLessThan(15_000)
  // Held through the outage (about 20 ticks/s of Coinbase here), then sent with their original ids.
  expect(peaks['coinbase']).toBeGreaterThan((outageMs / 1000) * 10)
  expect(counter(held, 'republished')).toBeGreaterThan((outageMs / 1000) * 10)
  // The two small buffers overflowed, each by its own policy, and say so in /services.
  for (const e of ['kraken', 'bl3p'] as const) {
    const entry = services.find((x) => x.service === 'ingestor' && x.exchange === e)
    expect(entry?.counters['bufferDropped'], `${e} bufferDropped in /services`).toBeGreaterThan(0)
    expect(peaks[e]).toBe(300)
  }
  expect(counter(finals[0], 'bufferDropped')).toBe(0)
  // Stored once each: no tick twice, none missing.
  expect(distinct.rows[0]!.n).toBe(distinct.rows[0]!.d)
  expect(figures.stored).toEqual(expected)
  return figures
}

describe('NATS outage under load (own nats-server)', () => {
  it('services started while NATS is down wait for it, saying so, and work once it is there', async () => {
    const s = (stack = await startStack({ natsDown: true }))
    const waiting = ['persister', 'ingestor-coinbase', 'ingestor-kraken', 'ingestor-bl3p', 'detector', 'gateway']
    await eventually(
      () =>
        waiting.every((n) => s.procs.get(n)!.lines.some((l) => l['msg'] === 'nats not reachable yet, still trying'))
          ? true
          : undefined,
      45_000,
      'every service saying it waits for NATS',
    )
    expect(exited(s)).toEqual([])
    await s.nats.start()
    await eventually(async () => ((await readyStatus(s.gateway)).status === 200 ? true : undefined), 20_000, '/ready')
    await eventually(
      async () => {
        const rows = await rowsByExchange(s)
        return EXCHANGES.every((e) => (rows[e] ?? 0) > 0) && s.signals.length > 0 ? true : undefined
      },
      30_000,
      'ticks of every feed stored and a signal',
    )
    expect(exited(s)).toEqual([])

    // Stopped while NATS is away, every service still stops cleanly (exit 0, inside its 8 s bound).
    await s.nats.stop()
    await sleep(2000)
    const codes = await Promise.all([...s.procs.values()].map(async (p) => [p.name, await p.stop()] as const))
    expect(Object.fromEntries(codes)).toEqual(Object.fromEntries([...s.procs.keys()].map((n) => [n, 0])))
  }, 120_000)

  it('survives 10 s of NATS down (SIGTERM) with every produced tick stored once', async () => {
    await runOutage(10_000, 'SIGTERM')
  }, 150_000)

  // Long: about 90 s (60 s of outage, start-up and the catch-up).
  it('survives 60 s of NATS down (SIGKILL) with every produced tick stored once [long]', async () => {
    await runOutage(60_000, 'SIGKILL')
  }, 200_000)
})
