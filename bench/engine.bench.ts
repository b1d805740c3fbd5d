/**
 * Engine throughput and allocation: updates (ticks) per second through `createEngine().onTick`,
 * 8 exchanges × 20 pairs, 10 levels a side, on one JS thread.
 *
 * The ticks are built before timing, so only the engine is measured: per (exchange, pair) a ring
 * of VARIANTS books around a per-pair random-walk price, each exchange a few bps off it; about 0.2%
 * of the books are skewed by 40–80 bps, which crosses after fees, walks deep into both books and
 * opens, updates and closes signals. Every tick re-evaluates the 2·7 = 14 routes its exchange is in.
 *
 * Every tick carries the same receivedTs, an epoch-ms double like a real one: a tick is accepted
 * when it is not older than the book held, so quotes stay fresh, and the loop writes nothing. (An
 * earlier version advanced the time by writing each tick's receivedTs: whenever V8 left that
 * loop in a tier that boxes doubles, the harness's own 16 bytes per update were counted.)
 *
 * Allocation: the heap is sampled around chunks of CHUNK updates; a chunk with no GC in between
 * gives the bytes it allocated (heapUsed after − before). The median over such chunks, divided
 * by CHUNK, is the allocation per update. GCs are counted with a PerformanceObserver.
 *
 *   pnpm bench:engine     # BENCH_SECONDS=5 (per round), BENCH_ROUNDS=5
 */
import { cpus } from 'node:os'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import type { Level, Tick } from '@arb/contracts'
import { createEngine } from '@arb/engine'
import { mulberry32 } from './lib/random.js'

const EXCHANGES = ['aa', 'bb', 'cc', 'dd', 'ee', 'ff', 'gg', 'hh']
const PAIRS = Array.from({ length: 20 }, (_, i) => `C${String(i).padStart(2, '0')}-EUR`)
const LEVELS = 10
const VARIANTS = 64
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5)
const CHUNK = 20_000
const T0 = 1_795_564_800_000

let random = mulberry32(42)

const book = (mid: number, side: 1 | -1): Level[] =>
  Array.from({ length: LEVELS }, (_, k): Level => [
    Math.round(mid * (1 + side * (0.0002 + k * 0.0001)) * 100) / 100,
    Math.round((0.05 + random() * 2) * 10_000) / 10_000,
  ])

/**
 * ticks[i] for update i: exchanges and pairs interleaved, so every route sees updates. A share
 * `skewed` of the books is 40–80 bps off the fair price: those cross the others after fees.
 */
const prepare = (skewed: number): Tick[] => {
  random = mulberry32(42)
  const out: Tick[] = []
  const fair = PAIRS.map((_, p) => 100 * (p + 1))
  for (let v = 0; v < VARIANTS; v++) {
    for (let p = 0; p < PAIRS.length; p++) {
      fair[p] = (fair[p] as number) * (1 + (random() - 0.5) * 0.0004)
      for (const exchange of EXCHANGES) {
        const skewBps = random() < skewed ? (random() < 0.5 ? -1 : 1) * (40 + random() * 40) : (random() - 0.5) * 6
        const mid = (fair[p] as number) * (1 + skewBps / 10_000)
        out.push({
          v: 1,
          exchange,
          pair: PAIRS[p] as string,
          exchangeTs: null,
          receivedTs: T0,
          bids: book(mid, -1),
          asks: book(mid, 1),
        })
      }
    }
  }
  return out
}

const fees = Object.fromEntries(EXCHANGES.map((e, i) => [e, [0.001, 0.0016, 0.002, 0.0026][i % 4] as number]))

let gcs = 0
let gcMs = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcs++
    gcMs += e.duration
  }
}).observe({ entryTypes: ['gc'] })

const fmt = (x: number) => Math.round(x).toLocaleString('en-US')
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1] ?? NaN
}
const scenario = async (name: string, skewed: number) => {
  const ticks = prepare(skewed)
  const engine = createEngine({ openBps: 5, closeBps: 2, maxQuoteAgeMs: 2000, updateFraction: 0.05, fees })
  let events = 0
  const n = ticks.length
  let next = 0
  const run = (count: number): void => {
    let k = next
    let emitted = 0
    for (let i = 0; i < count; i++) {
      const t = ticks[k] as Tick
      k = k + 1 === n ? 0 : k + 1
      emitted += engine.onTick(t).length
    }
    next = k
    events += emitted
  }
  // Warm-up: JIT tiers, and the engine's routes (created on first sight of each book).
  const warmUntil = performance.now() + 2000
  while (performance.now() < warmUntil) run(CHUNK)

  const rates: number[] = []
  const bytesPerUpdate: number[] = []
  const evaluationsBefore = engine.stats.evaluations
  const eventsBefore = events
  const gcsBefore = gcs
  const gcMsBefore = gcMs
  let updates = 0
  const started = performance.now()
  for (let r = 0; r < ROUNDS; r++) {
    let roundUpdates = 0
    const t0 = performance.now()
    const until = t0 + SECONDS * 1000
    while (performance.now() < until) {
      const gcBefore = gcs
      const heapBefore = process.memoryUsage().heapUsed
      run(CHUNK)
      const heapAfter = process.memoryUsage().heapUsed
      // The gc observer reports asynchronously: only a chunk that saw neither a GC nor a shrinking heap counts.
      if (gcs === gcBefore && heapAfter >= heapBefore) bytesPerUpdate.push((heapAfter - heapBefore) / CHUNK)
      roundUpdates += CHUNK
    }
    rates.push(roundUpdates / ((performance.now() - t0) / 1000))
    updates += roundUpdates
  }
  const elapsedS = (performance.now() - started) / 1000
  await new Promise((r) => setTimeout(r, 50)) // let the gc observer catch up
  const result = {
    scenario: name,
    updatesPerSecondMedian: Math.round(median(rates)),
    updatesPerSecondRounds: rates.map(Math.round),
    routeEvaluationsPerUpdate: Math.round(((engine.stats.evaluations - evaluationsBefore) / updates) * 10) / 10,
    eventsPerMillionUpdates: Math.round(((events - eventsBefore) / updates) * 1e6),
    allocatedBytesPerUpdateMedian: Math.round(median(bytesPerUpdate) * 100) / 100,
    chunksWithoutGc: bytesPerUpdate.length,
    gcsPerSecond: Math.round(((gcs - gcsBefore) / elapsedS) * 10) / 10,
    gcTimeShare: `${(((gcMs - gcMsBefore) / (elapsedS * 1000)) * 100).toFixed(2)}%`,
  }
  console.log(JSON.stringify(result))
  return result
}

console.log(
  `engine bench: ${EXCHANGES.length} exchanges × ${PAIRS.length} pairs × ${LEVELS} levels, ${fmt(VARIANTS * EXCHANGES.length * PAIRS.length)} prepared ticks, ${ROUNDS} rounds of ${SECONDS} s, node ${process.version}, ${cpus().length} cores (one JS thread used)`,
)
const quiet = await scenario('quiet: no book crosses another after fees', 0)
const active = await scenario('active: 0.2% of books 40-80 bps off, crossing deep', 0.002)
console.log(
  `\nquiet ${fmt(quiet.updatesPerSecondMedian)} updates/s, ${quiet.allocatedBytesPerUpdateMedian} B/update; active ${fmt(active.updatesPerSecondMedian)} updates/s, ${active.allocatedBytesPerUpdateMedian} B/update, ${fmt(active.eventsPerMillionUpdates)} events per million updates`,
)
