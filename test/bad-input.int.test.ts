import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import pg from 'pg'
import { heartbeatDecoder, MAX_TICK_AHEAD_MS, topology, type Heartbeat, type Tick, type Topology } from '@arb/contracts'
import {
  eventually,
  freshSchema,
  startService,
  testDatabaseUrl,
  testNatsUrl,
  uniqueName,
  type ServiceProcess,
} from '@arb/testkit'

/**
 * A stranger publishes malformed ticks on `ticks.>` while the built persister and detector run.
 * Every one is counted and logged as invalid by both, none is stored, and none reaches the
 * engine: each bad tick carries a book that would open a signal if the engine ever saw it.
 */

let n = 0
const good = (exchange: string, bid: number, ask: number): Tick => ({
  v: 1,
  exchange,
  pair: 'BTC-EUR',
  seq: `good-${++n}`,
  exchangeTs: null,
  receivedTs: Date.now(),
  bids: [[bid, 1]],
  asks: [[ask, 1]],
})
/** bl3p bidding 200 against coinbase asking 101: far past both fees, an opened signal if it got through. */
const lure = (over: Record<string, unknown> = {}) => ({ ...good('bl3p', 200, 201), seq: `bad-${++n}`, ...over })

/** Made when published, after the good ticks: each lure is then the newest bl3p book, which the engine would take. */
const badTicks = (now = Date.now()): [string, string][] => [
  ['price as a string', JSON.stringify(lure({ bids: [['200', 1]] }))],
  ['receivedTs as a string', JSON.stringify(lure({ receivedTs: new Date(now).toISOString() }))],
  ['missing pair', JSON.stringify(lure({ pair: undefined }))],
  ['missing bids', JSON.stringify(lure({ bids: undefined }))],
  ['missing v', JSON.stringify(lure({ v: undefined }))],
  ['v 2', JSON.stringify(lure({ v: 2 }))],
  ['NaN literal', JSON.stringify(lure()).replace('[[200,1]]', '[[NaN,1]]')],
  ['NaN as text', JSON.stringify(lure({ bids: [['NaN', 1]] }))],
  ['Infinity (1e999)', JSON.stringify(lure()).replace('[[200,1]]', '[[1e999,1]]')],
  ['negative size', JSON.stringify(lure({ bids: [[200, -1]] }))],
  ['zero price', JSON.stringify(lure({ asks: [[0, 1]] }))],
  ['crossed book', JSON.stringify(lure({ bids: [[300, 1]], asks: [[250, 1]] }))],
  ['epoch seconds', JSON.stringify(lure({ receivedTs: Math.floor(now / 1000) }))],
  ['negative timestamp', JSON.stringify(lure({ receivedTs: -1 }))],
  ['year 2200', JSON.stringify(lure({ receivedTs: Date.UTC(2200, 0, 1) }))],
  ['an hour ahead of the clock', JSON.stringify(lure({ receivedTs: now + 3_600_000 }))],
  ['ahead of the clock by more than the bound', JSON.stringify(lure({ receivedTs: now + 2 * MAX_TICK_AHEAD_MS }))],
  ['11 levels', JSON.stringify(lure({ bids: Array.from({ length: 11 }, (_, i) => [200 - i, 1]) }))],
  ['NUL in seq', JSON.stringify(lure({ seq: 'a\u0000b' }))],
  ['unknown exchange id form', JSON.stringify(lure({ exchange: 'BL3P' }))],
  ['1 MB payload', JSON.stringify(lure({ pad: 'x'.repeat(1_000_000) }))],
  ['not JSON', '{"v":1,"exchange":'],
  ['binary', '\u0000\u0001\u00ff\u00fe'],
  ['empty', ''],
  ['null', 'null'],
  ['an array', JSON.stringify([lure()])],
]
const BAD_COUNT = badTicks().length

describe('bad input on ticks.> from a stranger', () => {
  const prefix = uniqueName('bad')
  const topo: Topology = topology(prefix)
  const procs: ServiceProcess[] = []
  const beats = new Map<string, Heartbeat>()
  let nc: NatsConnection
  let db: pg.Client
  let dropSchema: () => Promise<void>
  let feeds: NodeJS.Timeout | undefined

  beforeAll(async () => {
    const natsUrl = await testNatsUrl()
    const databaseUrl = await testDatabaseUrl()
    const { schema, drop } = await freshSchema(databaseUrl)
    dropSchema = drop
    db = new pg.Client({ connectionString: databaseUrl })
    await db.connect()
    await db.query(`SET search_path TO ${schema}`)
    nc = await connect({ servers: natsUrl })
    nc.subscribe(topo.heartbeats, {
      callback: (_e, m) => {
        const hb = heartbeatDecoder.decode(m.data)
        if (hb.service !== 'ingestor') beats.set(hb.service, hb)
      },
    })
    // Both feeds report healthy, so the detector would trust any quote that reached its engine.
    const ingestorBeat = (exchange: string) => {
      const hb: Heartbeat = {
        v: 1,
        service: 'ingestor',
        instance: `test-${exchange}`,
        exchange,
        startedAt: Date.now(),
        ts: Date.now(),
        status: 'ok',
        lastMessageTs: Date.now(),
        counters: {},
      }
      nc.publish(topo.heartbeats, JSON.stringify(hb))
    }
    feeds = setInterval(() => ['coinbase', 'bl3p'].forEach(ingestorBeat), 200)
    const common = { NATS_URL: natsUrl, NATS_PREFIX: prefix, LOG_LEVEL: 'info', HEARTBEAT_MS: '500' }
    procs.push(
      startService('persister', 'persister', {
        ...common,
        DATABASE_URL: databaseUrl,
        DB_SCHEMA: schema,
        BATCH_MAX_WAIT_MS: '50',
      }),
    )
    procs.push(startService('detector', 'detector', common))
    for (const p of procs) {
      await eventually(() => (beats.has(p.name) ? true : undefined), 20_000, `${p.name} heartbeat`)
    }
    await eventually(() => procs[0]?.lines.find((l) => l['msg'] === 'ticks pipeline started'), 20_000, 'persister')
  }, 60_000)

  afterAll(async () => {
    clearInterval(feeds)
    const codes = await Promise.all(procs.map((p) => p.stop()))
    const jsm = await jetstreamManager(nc)
    for (const s of [topo.ticksStream, topo.signalsStream]) await jsm.streams.delete(s).catch(() => undefined)
    await nc.close()
    await db.end()
    await dropSchema()
    expect(codes).toEqual([0, 0])
  }, 30_000)

  it('counts, logs and drops every kind on both consumers; stores and evaluates only the good ticks', async () => {
    const js = jetstream(nc)
    const subject = topo.tick('bl3p', 'BTC-EUR')
    const goods = [good('coinbase', 100, 101), good('bl3p', 100, 101), good('coinbase', 100, 101)]
    for (const t of goods) await js.publish(topo.tick(t.exchange, t.pair), JSON.stringify(t), { msgID: t.seq })
    for (const [i, [, payload]] of badTicks().entries()) await js.publish(subject, payload, { msgID: `bad:${i}` })
    goods.push(good('bl3p', 100, 101))
    const last = goods.at(-1) as Tick
    await js.publish(subject, JSON.stringify(last), { msgID: last.seq })

    const settled = (hb: Heartbeat | undefined, invalid: number, key: string, valid: number) =>
      hb?.counters['invalid'] === invalid && hb.counters[key] === valid ? hb : undefined
    const persister = await eventually(
      () => settled(beats.get('persister'), BAD_COUNT, 'rowsInserted', goods.length),
      20_000,
      'persister counts',
    )
    const detector = await eventually(
      () => settled(beats.get('detector'), BAD_COUNT, 'ticks', goods.length),
      20_000,
      'detector counts',
    )
    expect(persister).toMatchObject({ status: 'ok', counters: { failures: 0 } })
    expect(detector.counters).toMatchObject({ opened: 0, errors: 0, published: 0 })

    const rows = await db.query<{ seq: string }>('SELECT seq FROM ticks ORDER BY seq')
    expect(rows.rows.map((r) => r.seq)).toEqual(goods.map((t) => t.seq).sort())

    // Logged with the reason, at most once per 10 s each, the rest counted as suppressed.
    const [pers, det] = procs as [ServiceProcess, ServiceProcess]
    const persLog = pers.lines.filter((l) => l['msg'] === 'invalid message')
    const detLog = det.lines.filter((l) => l['msg'] === 'invalid tick dropped')
    expect(persLog).toHaveLength(1)
    expect(persLog[0]).toMatchObject({ level: 40, reason: expect.stringMatching(/^invalid tick: /) })
    expect(detLog).toHaveLength(1)
    expect(detLog[0]).toMatchObject({ level: 40, err: { code: 'ARB_ERR_INVALID_MESSAGE' } })
    for (const p of procs) expect(p.child.exitCode).toBeNull()

    // The lure does open a signal once it arrives as a valid tick: the engine was listening all along.
    const real = good('bl3p', 200, 201)
    await js.publish(subject, JSON.stringify(real), { msgID: real.seq })
    await eventually(() => ((beats.get('detector')?.counters['opened'] ?? 0) >= 1 ? true : undefined), 10_000, 'opened')
  }, 60_000)
})
