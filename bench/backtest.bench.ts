/**
 * Backtest speed: ticks per second read from PostgreSQL and run through the engine.
 *
 * 1. Seeds BENCH_TICKS ticks (default 10,000,000) into a fresh schema made by the storage
 *    migrations: 8 exchanges × 20 pairs, 10 levels a side, 2,500 ticks/s of market time (so 10M
 *    ticks are 67 minutes), per-pair random-walk prices with 0.2% of the books 40–80 bps off so
 *    that signals open and close. Written with the persister's binary COPY (`tickWriter`), the
 *    next batch generated while the previous one is written. The table is made UNLOGGED for the
 *    bench only, to halve the write traffic on this shared disk; reading is not affected.
 * 2. Runs `runBacktest` (services/detector/src/backtest.ts) over the whole range, exactly what
 *    `npm run backtest` does without `--events`: windowed binary COPY reads by (pair, ts), the
 *    engine in the ticks' own time. Prints ticks/s, events, the peak RSS and the summary's head.
 * The schema is dropped at the end (and on Ctrl-C). With BENCH_SCHEMA=<name> the ticks go to that
 * schema instead, are seeded only when it holds fewer than BENCH_TICKS, and are kept for the next
 * run (drop it yourself: `DROP SCHEMA <name> CASCADE`).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres pnpm bench:backtest   # BENCH_TICKS, BENCH_WINDOW_ROWS, BENCH_SCHEMA
 */
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import type { Level } from '@arb/contracts'
import { createPool, migrate, tickWriter, type StoredTick } from '@arb/storage'
import pg from 'pg'
import { freshSchema } from '@arb/testkit'
import { formatSummary, runBacktest } from '../services/detector/src/backtest.js'
import { mulberry32 } from './lib/random.js'

const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const N = Number(process.env['BENCH_TICKS'] ?? 10_000_000)
const WINDOW_ROWS =
  process.env['BENCH_WINDOW_ROWS'] === undefined ? undefined : Number(process.env['BENCH_WINDOW_ROWS'])
const BATCH = 50_000
const TICKS_PER_S = 2500
const EXCHANGES = ['aa', 'bb', 'cc', 'dd', 'ee', 'ff', 'gg', 'hh']
const PAIRS = Array.from({ length: 20 }, (_, i) => `C${String(i).padStart(2, '0')}-EUR`)
const T0 = 1_795_564_800_000
const fmt = (x: number) => Math.round(x).toLocaleString('en-US')

const random = mulberry32(42)
const fair = PAIRS.map((_, p) => 100 * (p + 1))
const side = (mid: number, dir: 1 | -1): Level[] =>
  Array.from({ length: 10 }, (_, k): Level => [
    Math.round(mid * (1 + dir * (0.0002 + k * 0.0001)) * 100) / 100,
    Math.round((0.05 + random() * 2) * 10_000) / 10_000,
  ])

/** Ticks [from, from + count): exchanges and pairs interleaved, receivedTs on a 2,500/s clock. */
const batch = (from: number, count: number): StoredTick[] => {
  const out: StoredTick[] = []
  for (let i = from; i < from + count; i++) {
    const p = Math.floor(i / EXCHANGES.length) % PAIRS.length
    if (i % EXCHANGES.length === 0) fair[p] = (fair[p] as number) * (1 + (random() - 0.5) * 0.0004)
    const skewBps = random() < 0.002 ? (random() < 0.5 ? -1 : 1) * (40 + random() * 40) : (random() - 0.5) * 6
    const mid = (fair[p] as number) * (1 + skewBps / 10_000)
    const receivedTs = T0 + Math.floor((i * 1000) / TICKS_PER_S)
    out.push({
      v: 1,
      exchange: EXCHANGES[i % EXCHANGES.length] as string,
      pair: PAIRS[p] as string,
      seq: String(i),
      exchangeTs: receivedTs - 3,
      receivedTs,
      bids: side(mid, -1),
      asks: side(mid, 1),
    })
  }
  return out
}

const KEEP = process.env['BENCH_SCHEMA']
const { schema, drop } =
  KEEP === undefined
    ? await freshSchema(DATABASE_URL)
    : await (async () => {
        const c = new pg.Client({ connectionString: DATABASE_URL })
        await c.connect()
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${KEEP}`)
        await c.end()
        return { schema: KEEP, drop: async () => console.log(`kept schema ${KEEP}`) }
      })()
const pool = createPool(DATABASE_URL, { schema, max: 2, statementTimeoutMs: 600_000 })
let dropped = false
const cleanup = async () => {
  if (dropped) return
  dropped = true
  await pool.end().catch(() => undefined)
  await drop()
}
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)))

try {
  console.log(
    `backtest bench: ${fmt(N)} ticks, ${EXCHANGES.length} exchanges × ${PAIRS.length} pairs × 10 levels, ${cpus().length} cores, node ${process.version}`,
  )
  await migrate(pool)
  const held = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM ticks')).rows[0]?.n ?? 0)
  if (held > 0 && held !== N) throw new Error(`schema ${schema} holds ${held} ticks, not ${N}: drop it first`)
  await pool.query('ALTER TABLE ticks SET UNLOGGED')
  const writer = tickWriter(pool)
  const seedStart = performance.now()
  let pending: Promise<number> | undefined
  let lastReport = seedStart
  for (let i = held === N ? N : 0; i < N; i += BATCH) {
    const next = batch(i, Math.min(BATCH, N - i))
    await pending
    pending = writer.write(next)
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now()
      console.log(`  seeded ${fmt(i)} (${fmt(i / ((lastReport - seedStart) / 1000))} ticks/s)`)
    }
  }
  await pending
  const seedS = held === N ? NaN : (performance.now() - seedStart) / 1000
  await pool.query('ANALYZE ticks')
  const size = await pool.query<{ mb: string }>(`SELECT round(pg_total_relation_size('ticks') / 1048576.0) AS mb`)
  console.log(
    `seeded ${fmt(N)} ticks in ${seedS.toFixed(1)} s (${fmt(N / seedS)} ticks/s), table with indexes ${size.rows[0]?.mb} MB`,
  )

  const to = T0 + Math.ceil((N * 1000) / TICKS_PER_S) + 1
  const rssBefore = process.memoryUsage().rss
  let rssMax = rssBefore
  let lastProgress = performance.now()
  const summary = await runBacktest(pool, {
    from: T0,
    to,
    engine: {
      openBps: 5,
      closeBps: 2,
      minProfit: 0,
      maxQuoteAgeMs: 2000,
      updateFraction: 0.05,
      fees: Object.fromEntries(EXCHANGES.map((e, i) => [e, [0.001, 0.0016, 0.002, 0.0026][i % 4] as number])),
    },
    ...(WINDOW_ROWS === undefined ? {} : { windowRows: WINDOW_ROWS }),
    onProgress: (p) => {
      rssMax = Math.max(rssMax, process.memoryUsage().rss)
      if (performance.now() - lastProgress < 10_000) return
      lastProgress = performance.now()
      console.log(`  ${fmt(p.ticks)} ticks, ${(p.done * 100).toFixed(1)}% of the range`)
    },
  })
  const rate = summary.ticks / (summary.elapsedMs / 1000)
  console.log(formatSummary(summary).split('\n').slice(0, 8).join('\n'))
  console.log(
    JSON.stringify(
      {
        ticks: summary.ticks,
        events: summary.events,
        seconds: Math.round(summary.elapsedMs / 100) / 10,
        ticksPerSecond: Math.round(rate),
        rssBeforeMb: Math.round(rssBefore / 1048576),
        rssMaxDuringBacktestMb: Math.round(rssMax / 1048576),
        cpuSecondsOfThisProcess: Math.round(process.cpuUsage().user / 1e5 + process.cpuUsage().system / 1e5) / 10,
        seedTicksPerSecond: Math.round(N / seedS),
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup()
}
