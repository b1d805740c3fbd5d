/**
 * Tick-to-signal latency of the detector service through real NATS.
 *
 * Runs the real service (services/detector/src/main.ts) as a child process on a fresh
 * NATS_PREFIX, vouches for two feeds with ingestor heartbeats, then publishes BENCH_RATE ticks/s
 * (default 5000): coinbase holds a steady book, bl3p alternates a crossing bid and an uncrossing
 * one, so every bl3p tick yields exactly one signal (opened, closed, opened, …): 2,500 events a
 * second, the stress case. BENCH_SIGNAL_EVERY=N flips the bid only every Nth bl3p tick, the ticks
 * between keep their side, so the engine still evaluates every tick but 1 in N yields an event
 * (N=25: 100 events a second, still more than any real market gives). Each bl3p bid
 * carries a unique price offset, and a single-level book makes the signal's sell price equal that
 * bid, so every signal is matched to the tick that caused it. Latency = publish of the tick →
 * receipt of the signal by a core subscriber on arb.signals, on one monotonic clock
 * (performance.now()); the tick's receivedTs is stamped at publish as an ingestor would.
 *
 * The detector runs with its leader lease (a lone replica leads from its first round), so the path
 * measured includes the leadership check on every publish.
 *
 *   NATS_URL=nats://127.0.0.1:4222 pnpm bench:detector   # BENCH_SECONDS=10 BENCH_RATE=5000
 *
 * BENCH_DETECTOR_NODE_ARGS adds Node options to the detector only (NODE_OPTIONS refuses some), e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--trace-gc".
 *
 * BENCH_TARGET=relay measures the floor instead: bench/lib/relay.ts in the detector's place turns
 * each bl3p tick into a signal without an engine, so the harness, NATS and JetStream's part of
 * the latency is known on the machine at hand.
 */
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { jetstreamManager } from '@nats-io/jetstream'
import { connectNats, type NatsConnection } from '@arb/bus'
import { heartbeatDecoder, signalDecoder, topology, type Heartbeat, type Tick } from '@arb/contracts'
import { createLogger } from '@arb/observability'
import { eventually, uniqueName } from '@arb/testkit'
import { leaseNames } from '../services/detector/src/leader.js'

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222'
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10)
const RATE = Number(process.env['BENCH_RATE'] ?? 5000)
const PACE_MS = Number(process.env['BENCH_PACE_MS'] ?? 1)
/** One bl3p tick in this many causes a signal event (1: every one, RATE / 2 events a second). */
const SIGNAL_EVERY = Number(process.env['BENCH_SIGNAL_EVERY'] ?? 1)
const WARMUP_S = 1
const PRICE_STEP = 1e-7

const log = createLogger({ service: 'bench', level: 'warn' })
const prefix = uniqueName('bench')
const topo = topology(prefix)

const nodeArgs = (process.env['BENCH_DETECTOR_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean)
const TARGET = process.env['BENCH_TARGET'] ?? 'detector'
const entry = TARGET === 'relay' ? 'bench/lib/relay.ts' : 'services/detector/src/main.ts'
const detector = spawn(process.execPath, [...nodeArgs, '--conditions=source', '--import', 'tsx', entry], {
  env: {
    ...process.env,
    NATS_URL,
    NATS_PREFIX: prefix,
    // One info line per signal is the service's normal output, but at 1000 signals/s it would
    // measure the pipe to this process rather than the detector.
    LOG_LEVEL: 'warn',
    LOG_PRETTY: '0',
    HEARTBEAT_MS: '1000',
    FEES: 'coinbase=0.006,bl3p=0.0025',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
})

const nc: NatsConnection = await connectNats(NATS_URL, log, 'bench-detector')
let detectorCounters: Record<string, number> = {}
nc.subscribe(topo.heartbeats, {
  callback: (_err, msg) => {
    const hb = heartbeatDecoder.decode(msg.data)
    if (hb.service === 'detector') detectorCounters = hb.counters
  },
})

const vouch = () => {
  for (const exchange of ['coinbase', 'bl3p']) {
    const now = Date.now()
    const hb: Heartbeat = {
      v: 1,
      service: 'ingestor',
      instance: `bench-${exchange}`,
      exchange,
      startedAt: now,
      ts: now,
      status: 'ok',
      lastMessageTs: now,
      counters: {},
    }
    nc.publish(topo.heartbeats, JSON.stringify(hb))
  }
}

let seq = 0
const publishTick = (exchange: string, bid: number, ask: number): void => {
  const t: Tick = {
    v: 1,
    exchange,
    pair: 'BTC-EUR',
    seq: String(++seq),
    exchangeTs: null,
    receivedTs: Date.now(),
    bids: [[bid, 1]],
    asks: [[ask, 1]],
  }
  nc.publish(topo.tick(exchange, 'BTC-EUR'), JSON.stringify(t))
}

/** bl3p bid → performance.now() at publish (−1 during warm-up); the signal's sell price is that bid. */
const sentAt = new Map<number, number>()
const latencies: number[] = []
let received = 0
nc.subscribe(topo.signals, {
  callback: (_err, msg) => {
    const at = performance.now()
    received++
    const s = signalDecoder.decode(msg.data)
    const t0 = sentAt.get(s.sell.price)
    if (t0 === undefined) return
    sentAt.delete(s.sell.price)
    if (t0 >= 0) latencies.push(at - t0)
  },
})

// The service is up once it heartbeats; vouching until a signal comes back proves the whole path.
await eventually(() => (Object.keys(detectorCounters).length > 0 ? true : undefined), 30_000, 'detector heartbeat')
const heartbeats = setInterval(vouch, 500)
vouch()
await eventually(
  () => {
    publishTick('coinbase', 99, 100)
    publishTick('bl3p', 101.5, 102)
    return received > 0 ? true : undefined
  },
  10_000,
  'first signal',
)
publishTick('bl3p', 100.2, 102)
await new Promise((r) => setTimeout(r, 200))

let k = 0
let sent = 0
const start = performance.now()
const total = RATE * (SECONDS + WARMUP_S)
await new Promise<void>((resolve) => {
  const pace = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE))
    const measuring = performance.now() - start >= WARMUP_S * 1000
    for (; sent < due; sent++) {
      if (sent % 2 === 0) {
        publishTick('coinbase', 99, 100)
        continue
      }
      k++
      // Every SIGNAL_EVERY-th bl3p tick flips the book between crossing (≈64 bps after fees) and
      // not; the ticks between keep its side and move the bid too little for an `updated` event.
      // The offset makes every bid unique.
      const flip = k % SIGNAL_EVERY === 0
      const crossing = Math.floor(k / SIGNAL_EVERY) % 2 === 1
      const bid = (crossing ? 101.5 : 100.2) + k * PRICE_STEP
      if (flip) sentAt.set(bid, measuring ? performance.now() : -1)
      publishTick('bl3p', bid, 102)
    }
    if (sent >= total) {
      clearInterval(pace)
      resolve()
    }
  }, PACE_MS)
})
await nc.flush()
await new Promise((r) => setTimeout(r, 1500))
clearInterval(heartbeats)

const sorted = latencies.sort((a, b) => a - b)
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN
const fmt = (ms: number) => `${ms.toFixed(3)} ms`
console.log(
  JSON.stringify(
    {
      target: TARGET,
      rateTicksPerS: RATE,
      signalsPerS: RATE / 2 / SIGNAL_EVERY,
      seconds: SECONDS,
      signalsMeasured: sorted.length,
      unmatchedTicks: sentAt.size,
      p50: fmt(q(0.5)),
      p99: fmt(q(0.99)),
      p999: fmt(q(0.999)),
      max: fmt(sorted.at(-1) ?? NaN),
      detectorCounters,
    },
    null,
    2,
  ),
)

detector.kill('SIGTERM')
await new Promise((r) => detector.once('exit', r))
const jsm = await jetstreamManager(nc)
await jsm.streams.delete(topo.ticksStream).catch(() => undefined)
await jsm.streams.delete(topo.signalsStream).catch(() => undefined)
await jsm.streams.delete(leaseNames(prefix).stream).catch(() => undefined)
await nc.drain()
