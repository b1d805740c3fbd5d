import { afterEach, describe, expect, it } from 'vitest'
import { connectNats } from '@arb/bus'
import { signalWriter, tickWriter, type StoredTick } from '@arb/storage'
import { eventually } from '@arb/testkit'
import { openConsumers, startPersister, type Persister } from '../src/persister.js'
import { MAX_MESSAGE_BYTES } from '@arb/contracts'
import { fixture, log, signal, tick, type Fixture } from './helpers.js'

/** The persister core in this process, against real NATS JetStream and PostgreSQL. */

let fx: Fixture | undefined
const running: Persister[] = []
const later: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const f of later.splice(0).reverse()) await f()
  for (const p of running.splice(0)) await p.stop()
  await fx?.cleanup()
  fx = undefined
})

const start = async (
  f: Fixture,
  opts: { batchSize?: number; ackWaitMs?: number; nc?: Fixture['nc']; afterTicksCommit?: () => Promise<void> } = {},
) => {
  const batchSize = opts.batchSize ?? 500
  const consumers = await openConsumers(opts.nc ?? f.nc, f.topo, {
    consumerName: 'persister',
    batchSize,
    ...(opts.ackWaitMs ? { ackWaitMs: opts.ackWaitMs } : {}),
  })
  const p = startPersister({
    ...consumers,
    tickWriter: tickWriter(f.pool),
    signalWriter: signalWriter(f.pool),
    batch: { size: batchSize, maxWaitMs: 50 },
    log,
    ...(opts.ackWaitMs ? { ackWaitMs: opts.ackWaitMs } : {}),
    ...(opts.afterTicksCommit ? { afterTicksCommit: opts.afterTicksCommit } : {}),
    retry: { minMs: 20, maxMs: 200 },
  })
  running.push(p)
  return p
}

describe('persister', () => {
  it('stores each published tick exactly once, whatever is published or written again', async () => {
    const f = (fx = await fixture())
    const N = 2000
    const ticks = Array.from({ length: N }, (_, i) => (i % 10 === 0 ? tick(i, { seq: undefined }) : tick(i)))
    for (const t of ticks) await f.publishTick(t)
    const p = await start(f)
    await eventually(async () => ((await f.count()) === N ? true : undefined), 20_000, `${N} rows`)
    await f.settled('persister')

    // The same messages again: JetStream drops them by Nats-Msg-Id (those with a seq have one).
    const again = await Promise.all(ticks.filter((t) => t.seq !== undefined).map((t) => f.publishTick(t)))
    expect(again.every((a) => a.duplicate)).toBe(true)
    // Ticks without a seq were stored under their stream sequence.
    const derived = await f.pool.query(`SELECT seq FROM ticks WHERE seq LIKE 'js:%' ORDER BY ts`)
    expect(derived.rows).toHaveLength(N / 10)
    expect(derived.rows[0]).toEqual({ seq: 'js:1' })

    // The same batch through the writer again, as after a redelivery.
    const rows = (await f.pool.query(`SELECT seq FROM ticks ORDER BY ts`)).rows as { seq: string }[]
    const stored: StoredTick[] = ticks.map((t, i) => ({ ...t, seq: rows[i]?.seq ?? '' }))
    expect(await tickWriter(f.pool).write(stored)).toBe(0)
    expect(await f.count()).toBe(N)
    expect(p.ticks.counters).toMatchObject({ inserted: N, duplicates: 0, invalid: 0 })
    expect(p.snapshot()).toMatchObject({ status: 'ok', counters: { rowsInserted: N, invalid: 0 } })
  })

  it('counts invalid messages, terminates them and never stores them', async () => {
    const f = (fx = await fixture())
    const good = [tick(1), tick(2), tick(3)]
    const bad: string[] = [
      JSON.stringify({ ...tick(10), bids: [['30000', 1]] }), // price as a string
      JSON.stringify({ ...tick(11), asks: [['NaN', 'NaN']] }), // NaN-ish strings
      JSON.stringify({ ...tick(12), asks: [[30_001, -1]] }), // negative size
      JSON.stringify({ ...tick(13), bids: [[30_005, 1]] }), // crossed book
      JSON.stringify({ ...tick(14), receivedTs: 'yesterday' }), // wrong type
      JSON.stringify({ ...tick(15), v: 2 }), // unknown version
      JSON.stringify({ ...tick(16), seq: 'a\u0000b' }), // NUL: PostgreSQL text cannot hold it
      JSON.stringify({ ...tick(17), pad: 'x'.repeat(1_000_000) }), // 1 MB: valid shape, refused by size
      JSON.stringify({ ...tick(18), receivedTs: Date.now() + 3_600_000 }), // an hour ahead of this host's clock
      JSON.stringify({ ...tick(19), pair: undefined }), // missing field
      '{"v":1,', // not JSON
      '', // empty
    ]
    expect(bad[7]?.length).toBeGreaterThan(MAX_MESSAGE_BYTES)
    for (const [i, b] of bad.entries()) await f.publishTick(b, undefined, `bad:${i}`)
    for (const t of good) await f.publishTick(t)
    const p = await start(f)
    await eventually(() => (p.ticks.counters.invalid === bad.length ? true : undefined), 10_000, 'invalid counted')
    await f.settled('persister')
    expect(await f.count()).toBe(good.length)
    expect(p.ticks.counters).toMatchObject({ inserted: good.length, invalid: bad.length, received: 15 })
    expect(p.snapshot().counters).toMatchObject({ invalid: bad.length })
    // Terminated, so nothing comes back even after a restart with a fresh consumer handle.
    await p.stop()
    running.splice(0)
    const again = await start(f)
    await new Promise((r) => setTimeout(r, 300))
    expect(again.ticks.counters.received).toBe(0)
  })

  it('loses and duplicates nothing when it dies between commit and ack', async () => {
    const f = (fx = await fixture())
    const N = 1500
    for (let i = 0; i < N; i++) await f.publishTick(tick(i))

    // First instance: its own connection, which "dies" right after the first commit.
    const doomed = await connectNats(f.natsUrl, log, 'doomed')
    let release: (() => void) | undefined
    later.push(async () => release?.())
    let committed = 0
    const first = await start(f, {
      nc: doomed,
      batchSize: 500,
      ackWaitMs: 1500,
      afterTicksCommit: async () => {
        if (++committed > 1) return
        await doomed.close() // no ack can leave any more
        await new Promise<void>((r) => (release = r)) // and this "process" gets no further
      },
    })
    await eventually(() => (committed === 1 ? true : undefined), 10_000, 'first commit')
    expect(await f.count()).toBe(500)

    // A replacement on the same durable gets everything unacked after ack_wait.
    const second = await start(f, { batchSize: 500, ackWaitMs: 1500 })
    await eventually(async () => ((await f.count()) === N ? true : undefined), 20_000, `${N} rows`)
    await f.settled('persister')
    expect(await f.count()).toBe(N)
    const seqs = await f.pool.query(`SELECT count(DISTINCT (exchange, seq))::int AS n, max(seq::int) AS top FROM ticks`)
    expect(seqs.rows[0]).toEqual({ n: N, top: N - 1 })
    // The committed but unacked batch came back and was skipped by the unique key.
    expect(second.ticks.counters.duplicates).toBeGreaterThanOrEqual(500)
    expect(second.ticks.counters.inserted).toBe(N - 500)
    void first
  })

  it('stores signals in arb_signals, once per lifecycle event', async () => {
    const f = (fx = await fixture())
    const T = 1_700_000_100_000
    const events = [signal('s1', 'opened', T), signal('s1', 'updated', T + 10), signal('s1', 'closed', T + 20)]
    for (const s of events) await f.publishSignal(s)
    // A republish is dropped by JetStream; a bad one is counted and dropped by the persister.
    expect((await f.publishSignal(events[0] as (typeof events)[0])).duplicate).toBe(true)
    await f.publishTick('{"v":1}', f.topo.signals, 'bad-signal')
    const p = await start(f)
    await eventually(async () => ((await f.count('arb_signals')) === 3 ? true : undefined), 10_000, 'signals')
    await f.settled('persister-signals', f.topo.signalsStream)
    const r = await f.pool.query(`SELECT id, state, payload FROM arb_signals ORDER BY ts`)
    expect(r.rows.map((x: { state: string }) => x.state)).toEqual(['opened', 'updated', 'closed'])
    expect(r.rows[2].payload).toEqual(events[2])
    expect(p.signals.counters).toMatchObject({ inserted: 3, invalid: 1 })
  })

  it('holds the batch and retries while the database fails, then writes it once', async () => {
    const f = (fx = await fixture())
    for (let i = 0; i < 50; i++) await f.publishTick(tick(i))
    // The table goes away under the persister and comes back: a stand-in for an outage.
    await f.pool.query('ALTER TABLE ticks RENAME TO ticks_away')
    const p = await start(f)
    await eventually(() => (p.ticks.counters.failures >= 2 ? true : undefined), 10_000, 'failed writes')
    expect(p.snapshot()).toMatchObject({
      status: 'degraded',
      // The SQLSTATE (undefined_table), never the message: heartbeats are public through /services.
      reason: expect.stringMatching(/^database: ticks writes failing since \S+Z \(42P01, \d+ attempts\)$/),
      counters: { acked: 0 },
    })
    expect(p.ticks.counters.received).toBe(50)
    await f.pool.query('ALTER TABLE ticks_away RENAME TO ticks')
    await eventually(async () => ((await f.count()) === 50 ? true : undefined), 10_000, 'rows after recovery')
    await f.settled('persister')
    expect(p.snapshot().status).toBe('ok')
    expect(p.snapshot()).not.toHaveProperty('reason')
    expect(p.ticks.counters).toMatchObject({ inserted: 50, duplicates: 0, acked: 50 })
  })
})
