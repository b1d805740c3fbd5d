import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connectNats, DEFAULT_STREAM_SETTINGS, ensureStreams, jsPublisher, type NatsConnection } from '@arb/bus'
import { signalDecoder, topology, type Heartbeat, type Level, type Signal, type Tick } from '@arb/contracts'
import { createLogger } from '@arb/observability'
import { eventually, sampleSignal, testNatsUrl, uniqueName } from '@arb/testkit'
import { startDetector, type Detector, type DetectorDeps } from '../src/detector.js'
import { leaseNames, startLeaderLease, type LeaderLease } from '../src/leader.js'
import { recentSignals } from '../src/recover.js'

const log = createLogger({ service: 'detector-test', level: 'silent' })
const FEES = { coinbase: 0.006, bl3p: 0.0025 }

let url: string
let pub: NatsConnection
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  url = await testNatsUrl()
  pub = await connectNats(url, log, 'detector-test')
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

afterAll(async () => {
  await pub.drain()
})

let seq = 0
const tick = (exchange: string, bids: Level[], asks: Level[]): Tick => ({
  v: 1,
  exchange,
  pair: 'BTC-EUR',
  seq: String(++seq),
  exchangeTs: null,
  receivedTs: Date.now(),
  bids,
  asks,
})

const heartbeat = (exchange: string, status: Heartbeat['status'] = 'ok'): Heartbeat => ({
  v: 1,
  service: 'ingestor',
  instance: `ingestor-${exchange}`,
  exchange,
  startedAt: Date.now(),
  ts: Date.now(),
  status,
  lastMessageTs: Date.now(),
  counters: {},
})

interface Replica {
  readonly nc: NatsConnection
  readonly detector: Detector
  readonly counters: Detector['counters']
  readonly publisher: ReturnType<typeof jsPublisher>
  readonly lease: LeaderLease | undefined
  /** A clean stop, as main.ts does it: the detector, then the lease (released), then the connection. */
  stop(): Promise<void>
  /** A crash: the connection is gone, nothing is released. */
  crash(): Promise<void>
}

/**
 * A namespace of its own on the shared server: streams, one or more detector cores (each with its
 * own connection, and with `leaseTtlMs` a leader lease), and the signals they publish as a core
 * subscriber sees them.
 */
const setup = async (
  overrides: Partial<Pick<DetectorDeps, 'heartbeatMs' | 'engine'>> = {},
  replicas = 1,
  leaseTtlMs?: number,
) => {
  const prefix = uniqueName('det')
  const topo = topology(prefix)
  await ensureStreams(pub, topo, DEFAULT_STREAM_SETTINGS, log)
  cleanups.push(async () => {
    const jsm = await jetstreamManager(pub)
    await jsm.streams.delete(topo.ticksStream)
    await jsm.streams.delete(topo.signalsStream)
    await jsm.streams.delete(leaseNames(prefix).stream).catch(() => undefined)
  })
  const detectors: Replica[] = []
  /** One more replica; with `recover` it reads the latest signals at start, as main.ts does. */
  const addReplica = async (recover = false): Promise<Replica> => {
    const instance = `detector-${detectors.length}`
    const nc = await connectNats(url, log, instance)
    const publisher = jsPublisher(nc, log)
    const lease =
      leaseTtlMs === undefined ? undefined : await startLeaderLease({ nc, prefix, instance, ttlMs: leaseTtlMs, log })
    const d = startDetector({
      nc,
      topo,
      log,
      publisher,
      heartbeatMs: overrides.heartbeatMs ?? 10_000,
      sweepMs: 50,
      engine: overrides.engine ?? { openBps: 5, closeBps: 2, maxQuoteAgeMs: 5000, updateFraction: 0.05, fees: FEES },
      ...(lease === undefined ? {} : { lease }),
      ...(recover ? { recover: () => recentSignals(nc, topo.signalsStream, log) } : {}),
    })
    let stopped = false
    const stop = async () => {
      if (stopped) return
      stopped = true
      await d.stop()
      await lease?.stop()
      if (!nc.isClosed()) await nc.drain()
    }
    const crash = async () => {
      await nc.close()
      await stop()
    }
    cleanups.push(stop)
    const replica = { nc, detector: d, counters: d.counters, publisher, lease, stop, crash }
    detectors.push(replica)
    return replica
  }
  for (let i = 0; i < replicas; i++) await addReplica()
  const signals: Signal[] = []
  const sub = pub.subscribe(topo.signals, {
    callback: (_err, msg) => {
      signals.push(signalDecoder.decode(msg.data))
    },
  })
  cleanups.push(async () => sub.unsubscribe())
  await pub.flush()
  const send = (subject: string, body: unknown) =>
    pub.publish(subject, typeof body === 'string' ? body : JSON.stringify(body))
  const sendTick = (t: Tick) => send(topo.tick(t.exchange, t.pair), t)
  const vouch = (exchange: string, status: Heartbeat['status'] = 'ok') =>
    send(topo.heartbeats, heartbeat(exchange, status))
  const waitFor = (state: Signal['state'], what = state) =>
    eventually(() => signals.find((s) => s.state === state), 5000, `${what} signal`)
  return { topo, detectors, addReplica, signals, send, sendTick, vouch, waitFor }
}

/** coinbase sells at 100, bl3p buys at 101.5: 150 bps gross, ~64 bps after 0.6% + 0.25% fees. */
const crossing = (t: { sendTick: (t: Tick) => void }) => {
  t.sendTick(tick('coinbase', [[99, 1]], [[100, 1]]))
  t.sendTick(tick('bl3p', [[101.5, 0.5]], [[102, 1]]))
}

/**
 * Heartbeats and ticks reach the detector on different subjects, so the crossing is repeated
 * until the detector has taken the heartbeats in and opens. The feeds are vouched for at every
 * try: with a short HEARTBEAT_MS a loaded machine could otherwise let them lapse before it opens.
 */
const open = async (t: Awaited<ReturnType<typeof setup>>): Promise<Signal> => {
  t.vouch('coinbase')
  t.vouch('bl3p')
  await pub.flush()
  return eventually(
    () => {
      const found = t.signals.find((s) => s.state === 'opened')
      if (found === undefined) {
        t.vouch('coinbase')
        t.vouch('bl3p')
        crossing(t)
      }
      return found
    },
    5000,
    'opened signal',
  )
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('detector through real NATS', () => {
  it('publishes opened then closed on the prefixed arb.signals, stored once in JetStream, and drops invalid ticks', async () => {
    const t = await setup()
    const opened = await open(t)
    expect(opened).toMatchObject({
      pair: 'BTC-EUR',
      buy: { exchange: 'coinbase', price: 100, fee: 0.006 },
      sell: { exchange: 'bl3p', price: 101.5, fee: 0.0025 },
      volume: 0.5,
      grossSpreadBps: 150,
    })
    expect(opened.netProfit).toBeCloseTo(0.5 * (101.5 * 0.9975 - 100.6), 9)
    expect(opened.id).toBe(`BTC-EUR:coinbase:bl3p:${opened.openedAt}`)

    // Not JSON, a schema violation, a crossed book: counted, dropped, no effect on the book.
    t.send(t.topo.tick('bl3p', 'BTC-EUR'), '{')
    t.send(t.topo.tick('bl3p', 'BTC-EUR'), { ...tick('bl3p', [[101.5, 1]], [[102, 1]]), bids: [['1', 1]] })
    t.send(t.topo.tick('bl3p', 'BTC-EUR'), tick('bl3p', [[103, 1]], [[102, 1]]))
    const d = t.detectors[0]!
    await eventually(() => (d.counters.invalid === 3 ? true : undefined), 5000, 'invalid ticks counted')
    expect(t.signals.map((s) => s.state)).toEqual(['opened'])

    t.sendTick(tick('bl3p', [[100.2, 0.5]], [[102, 1]]))
    const closed = await t.waitFor('closed')
    expect(closed).toMatchObject({ id: opened.id, reason: 'spread closed', openedAt: opened.openedAt })

    await eventually(() => (d.publisher.stats.inFlight === 0 && d.publisher.stats.published === 2 ? true : undefined))
    const jsm = await jetstreamManager(pub)
    expect((await jsm.streams.info(t.topo.signalsStream)).state.messages).toBe(2)
    expect(d.counters).toMatchObject({ opened: 1, closed: 1, invalid: 3, errors: 0 })
    expect(d.counters.ticks).toBeGreaterThanOrEqual(3)
  })

  it('never signals for an exchange whose ingestor has not vouched for its feed', async () => {
    const t = await setup()
    t.vouch('coinbase')
    await pub.flush()
    crossing(t)
    await sleep(500)
    crossing(t)
    await eventually(() => (t.detectors[0]!.counters.ticks === 4 ? true : undefined), 5000, 'ticks taken in')
    await sleep(100)
    expect(t.signals).toEqual([])
  })

  it('closes when an ingestor reports degraded, and when its heartbeats stop', async () => {
    const t = await setup({ heartbeatMs: 200 })
    await open(t)
    t.vouch('bl3p', 'degraded')
    expect((await t.waitFor('closed')).reason).toBe('bl3p feed stale')

    t.signals.length = 0
    await open(t)
    // No more heartbeats: after 3 periods (600 ms) both feeds count as disconnected.
    expect((await t.waitFor('closed')).reason).toMatch(/^(coinbase|bl3p) disconnected$/)
  })

  it('closes when a feed goes silent (the sweep), stamping the close with the sweep time', async () => {
    const t = await setup({
      engine: { openBps: 5, closeBps: 2, maxQuoteAgeMs: 300, updateFraction: 0.05, fees: FEES },
    })
    const opened = await open(t)
    const closed = await t.waitFor('closed')
    expect(closed.reason).toMatch(/^stale quote from (coinbase|bl3p)$/)
    expect(closed.ts - opened.ts).toBeGreaterThan(300)
  })

  it('without a lease two replicas both publish: JetStream stores one copy, a core subscriber sees two', async () => {
    const t = await setup({}, 2)
    await open(t)
    await eventually(
      () => {
        const [a, b] = t.detectors.map((d) => d.publisher.stats)
        return a && b && a.inFlight + b.inFlight === 0 && a.published + b.published + a.duplicates + b.duplicates === 2
          ? true
          : undefined
      },
      5000,
      'both replicas published',
    )
    const jsm = await jetstreamManager(pub)
    expect((await jsm.streams.info(t.topo.signalsStream)).state.messages).toBe(1)
    expect(t.signals.filter((s) => s.state === 'opened')).toHaveLength(2)
  })
})

describe('two detector replicas with a leader lease', () => {
  const TTL_MS = 600
  const leaderOf = (t: Awaited<ReturnType<typeof setup>>) => {
    const leaders = t.detectors.filter((d) => d.lease?.isLeader())
    return leaders.length === 1 ? leaders[0] : undefined
  }
  /** Every event seen by the core subscriber, once: `id state` → count. */
  const counts = (signals: Signal[]) =>
    signals.reduce<Record<string, number>>(
      (m, s) => ({ ...m, [`${s.id} ${s.state}`]: (m[`${s.id} ${s.state}`] ?? 0) + 1 }),
      {},
    )
  const storedSignals = async (t: Awaited<ReturnType<typeof setup>>) =>
    (await (await jetstreamManager(pub)).streams.info(t.topo.signalsStream)).state.messages

  it('only the leader publishes: each event once on arb.signals, even to a core subscriber', async () => {
    const t = await setup({}, 2, TTL_MS)
    const leader = await eventually(() => leaderOf(t), 5000, 'one leader')
    const standby = t.detectors.find((d) => d !== leader)!
    const opened = await open(t)
    t.sendTick(tick('bl3p', [[100.2, 0.5]], [[102, 1]]))
    await t.waitFor('closed')
    await sleep(500)
    expect(counts(t.signals)).toEqual({ [`${opened.id} opened`]: 1, [`${opened.id} closed`]: 1 })
    expect(await storedSignals(t)).toBe(2)
    expect(standby.counters, JSON.stringify(standby.counters)).toMatchObject({ published: 0 })
    expect(leader?.counters).toMatchObject({ published: 2, suppressed: 0 })
  })

  it('fails over when the leader stops: the standby takes over and carries the open signal to its close', async () => {
    const t = await setup({}, 2, TTL_MS)
    const first = await eventually(() => leaderOf(t), 5000, 'one leader')
    const opened = await open(t)
    await first.stop()
    const second = await eventually(() => leaderOf(t), 5000, 'a new leader')
    expect(second).not.toBe(first)
    t.sendTick(tick('bl3p', [[100.2, 0.5]], [[102, 1]]))
    const closed = await t.waitFor('closed')
    expect(closed.id).toBe(opened.id)
    await sleep(500)
    expect(counts(t.signals)).toEqual({ [`${opened.id} opened`]: 1, [`${opened.id} closed`]: 1 })
    expect(second.counters.takeovers).toBe(1)
  })

  it('fails over when the leader crashes, and publishes the close that happened while nobody led', async () => {
    // A longer TTL, so that the close surely falls in the gap even on a loaded machine.
    const t = await setup({}, 2, 1500)
    const first = await eventually(() => leaderOf(t), 5000, 'one leader')
    const second = t.detectors.find((d) => d !== first)!
    const opened = await open(t)
    await eventually(() => (second.counters.opened === 1 ? true : undefined), 5000, 'standby saw the opening')
    await first.crash()
    // Closes before the standby can take over (a TTL without renewal): computed, not yet published.
    t.sendTick(tick('bl3p', [[100.2, 0.5]], [[102, 1]]))
    await eventually(() => (second.counters.closed === 1 ? true : undefined), 5000, 'standby computed the close')
    const suppressedBeforeTakeover = second.counters.suppressed
    const closed = await t.waitFor('closed')
    expect(second.detector.isLeader()).toBe(true)
    expect(second.counters.takeovers).toBe(1)
    // opened and closed were computed while standing by, then the close was owed at the takeover.
    expect(suppressedBeforeTakeover).toBe(2)
    expect(closed).toMatchObject({ id: opened.id, reason: 'spread closed' })
    await sleep(500)
    expect(counts(t.signals)).toEqual({ [`${opened.id} opened`]: 1, [`${opened.id} closed`]: 1 })
    expect(await storedSignals(t)).toBe(2)
  })
})

describe('a detector that starts after its predecessor', () => {
  const LEFT_BEHIND = 'leader changed: the new leader does not track this signal'
  const lifecycle = (signals: Signal[]) => signals.map((s) => `${s.id} ${s.state}`)

  it('reads the latest events of SIGNALS, oldest first, at most the number asked for', async () => {
    const t = await setup()
    expect(await recentSignals(pub, t.topo.signalsStream, log)).toEqual([])
    const events = [1, 2, 3, 4, 5].map((i) => sampleSignal(`s${i}`, 'opened', Date.now() + i))
    const js = jetstream(pub)
    for (const e of events) await js.publish(t.topo.signals, JSON.stringify(e))
    expect(await recentSignals(pub, t.topo.signalsStream, log, 3)).toEqual(events.slice(2))
    expect(await recentSignals(pub, t.topo.signalsStream, log)).toEqual(events)
  })

  it('after a crash, closes what the crashed one left open, once, with a reason', async () => {
    const t = await setup({}, 1, 600)
    const opened = await open(t)
    await t.detectors[0]!.crash()
    const second = await t.addReplica(true)
    const closed = await t.waitFor('closed')
    expect(closed).toMatchObject({ id: opened.id, reason: LEFT_BEHIND })
    expect(closed.ts).toBeGreaterThan(opened.ts)
    await sleep(500)
    expect(lifecycle(t.signals)).toEqual([`${opened.id} opened`, `${opened.id} closed`])
    expect(second.counters.takeovers).toBe(1)
  })

  it('as a standby started while a signal is open, learns it from the stream and closes it when it takes over', async () => {
    const t = await setup({}, 1, 600)
    const opened = await open(t)
    // Started after the opening: it never hears it on arb.signals and its engine has no book yet.
    const standby = await t.addReplica(true)
    await sleep(300)
    await t.detectors[0]!.stop()
    const closed = await t.waitFor('closed')
    expect(closed).toMatchObject({ id: opened.id, reason: LEFT_BEHIND })
    await sleep(500)
    expect(lifecycle(t.signals)).toEqual([`${opened.id} opened`, `${opened.id} closed`])
    expect(standby.detector.isLeader()).toBe(true)
  })
})
