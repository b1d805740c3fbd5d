/**
 * Soak: the whole demo (simulator, every ingestor, persister, detector, gateway — the built
 * services, so run `pnpm run build` first) at 5× its normal tick rate (TICK_MS=20 instead of 100),
 * with the simulator dropping every exchange connection every 30 s (DISCONNECT_EVERY_MS), for
 * SOAK_SECONDS (default 3000). Every service's heartbeat carries its process gauges; this bench
 * records them and reports, per service, after SOAK_WARMUP_S (default 1200: V8 sizes its heap for
 * the first ~20 minutes at this load, docs/benchmarks.md), so 30 minutes are measured:
 *   - RSS growth: median RSS of the last minute vs median RSS of the first minute after warm-up
 *     (goal under 5%), and the same medians of V8's used heap (a leak grows it) and of its reserved
 *     heap (V8 sizing its generations grows that, and RSS with it),
 *   - event-loop delay: the p99 over the run of each beat's own p99, and the worst beat (goal p99 < 50 ms),
 *   - open file descriptors (sockets included) and active resources (handles, requests) at the
 *     start and at the end of the measured window: no growth expected across reconnects,
 * plus the ticks stored and the reconnects the ingestors counted. Every beat's gauges go to
 * SOAK_SAMPLES (.data/soak-samples.csv) for plotting.
 *
 *   pnpm run build && NATS_URL=nats://127.0.0.1:4222 pnpm bench:soak   # SOAK_SECONDS=3000 SOAK_WARMUP_S=1200
 */
import { spawn } from 'node:child_process'
import { createWriteStream, writeFileSync } from 'node:fs'
import { connectNats } from '@arb/bus'
import { heartbeatDecoder, topology, type Heartbeat } from '@arb/contracts'
import { createLogger } from '@arb/observability'

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222'
const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 3000)
const WARMUP_S = Number(process.env['SOAK_WARMUP_S'] ?? 1200)
const TICK_MS = process.env['SOAK_TICK_MS'] ?? '20'
const DISCONNECT_EVERY_MS = process.env['SOAK_DISCONNECT_EVERY_MS'] ?? '30000'
const WINDOW_MS = 60_000
const LOG_FILE = process.env['SOAK_LOG'] ?? '.data/soak-demo.log'
const SAMPLES_FILE = process.env['SOAK_SAMPLES'] ?? '.data/soak-samples.csv'

const log = createLogger({ service: 'bench', level: 'warn' })
const topo = topology(process.env['NATS_PREFIX'] ?? '')

interface Sample {
  readonly at: number
  readonly hb: Heartbeat
}
const samples = new Map<string, Sample[]>()
let invalidBeats = 0
let received = 0
const nc = await connectNats(NATS_URL, log, 'bench-soak')
nc.subscribe(topo.heartbeats, {
  callback: (_err, msg) => {
    let hb: Heartbeat
    try {
      hb = heartbeatDecoder.decode(msg.data)
    } catch (err) {
      if (invalidBeats++ === 0) console.error('invalid heartbeat:', err)
      return
    }
    received++
    if (hb.process === undefined) return
    const key = hb.exchange !== undefined ? `${hb.service}-${hb.exchange}` : hb.service
    let list = samples.get(key)
    if (list === undefined) samples.set(key, (list = []))
    list.push({ at: Date.now(), hb })
  },
})

const demoLog = createWriteStream(LOG_FILE)
const demo = spawn(process.execPath, ['scripts/demo.mjs'], {
  env: {
    ...process.env,
    NATS_URL,
    TICK_MS,
    DISCONNECT_EVERY_MS,
    DEMO_SECONDS: String(SECONDS),
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
})
demo.stdout.pipe(demoLog)
demo.stderr.pipe(demoLog)
const started = Date.now()
const progress = setInterval(() => {
  const s = Math.round((Date.now() - started) / 1000)
  const rss = [...samples].map(([k, l]) => `${k}=${Math.round((l.at(-1)?.hb.process?.rssBytes ?? 0) / 2 ** 20)}M`)
  console.error(`soak ${s}/${SECONDS}s ${rss.join(' ')}`)
}, 60_000)
const code = await new Promise<number | null>((resolve) => demo.once('exit', resolve))
clearInterval(progress)

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
}
const measuredFrom = started + WARMUP_S * 1000
const results = [...samples]
  .sort(([a], [b]) => (a < b ? -1 : 1))
  .map(([service, all]) => {
    const list = all.filter((s) => s.at >= measuredFrom)
    const end = list.at(-1)?.at ?? measuredFrom
    const first = list.filter((s) => s.at < measuredFrom + WINDOW_MS)
    const last = list.filter((s) => s.at > end - WINDOW_MS)
    const rss = (xs: Sample[]) => median(xs.map((s) => s.hb.process!.rssBytes))
    const heap = (xs: Sample[]) => median(xs.map((s) => s.hb.process!.heapUsedBytes))
    const heapTotal = (xs: Sample[]) => median(xs.map((s) => s.hb.process!.heapTotalBytes ?? NaN))
    const loop = list.map((s) => s.hb.process!.eventLoopDelayP99Ms)
    const gauge = (s: Sample | undefined, k: 'openFds' | 'activeResources') => s?.hb.process?.[k] ?? NaN
    return {
      service,
      beats: list.length,
      rssStartMiB: Number((rss(first) / 2 ** 20).toFixed(1)),
      rssEndMiB: Number((rss(last) / 2 ** 20).toFixed(1)),
      rssGrowthPct: Number(((rss(last) / rss(first) - 1) * 100).toFixed(2)),
      heapStartMiB: Number((heap(first) / 2 ** 20).toFixed(1)),
      heapEndMiB: Number((heap(last) / 2 ** 20).toFixed(1)),
      heapTotalStartMiB: Number((heapTotal(first) / 2 ** 20).toFixed(1)),
      heapTotalEndMiB: Number((heapTotal(last) / 2 ** 20).toFixed(1)),
      loopP99Ms: quantile(loop, 0.99),
      loopMaxMs: Math.max(...loop),
      fdsStart: gauge(list[0], 'openFds'),
      fdsEnd: gauge(list.at(-1), 'openFds'),
      resourcesStart: gauge(list[0], 'activeResources'),
      resourcesEnd: gauge(list.at(-1), 'activeResources'),
      reconnects: list.at(-1)?.hb.counters['reconnects'],
    }
  })
console.table(results)
console.log(
  JSON.stringify(
    {
      seconds: SECONDS,
      warmupS: WARMUP_S,
      tickMs: Number(TICK_MS),
      disconnectEveryMs: Number(DISCONNECT_EVERY_MS),
      demoExit: code,
      received,
      results,
    },
    null,
    2,
  ),
)
writeFileSync(
  SAMPLES_FILE,
  [
    'service,atMs,rssBytes,heapUsedBytes,heapTotalBytes,externalBytes,eventLoopDelayP99Ms',
    ...[...samples].flatMap(([service, list]) =>
      list.map(
        ({ at, hb }) =>
          `${service},${at - started},${hb.process!.rssBytes},${hb.process!.heapUsedBytes},${hb.process!.heapTotalBytes ?? ''},${hb.process!.externalBytes ?? ''},${hb.process!.eventLoopDelayP99Ms}`,
      ),
    ),
  ].join('\n') + '\n',
)
console.log(`demo output (stored ticks, signals, peak RSS): tail ${LOG_FILE}; every beat's gauges: ${SAMPLES_FILE}`)
await nc.drain()
