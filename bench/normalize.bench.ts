/**
 * Frames per second through the adapters, the CPU-bound path of an ingestor and of
 * `npm run normalize`.
 *
 * Input per exchange: a feed recording (feed-record.v1) of the real adapter's own connection to the
 * simulator (in-process, TICK_MS=1, BTC-EUR, BENCH_RECORD_S seconds, REST snapshots included),
 * written to .data/bench-normalize/<id>.jsonl. The documented and captured fixtures are a handful
 * of frames each, too few to time; the simulator speaks each protocol with the exchange's own
 * integrity data (sequence numbers, checksums), so every frame goes through the full check.
 * Exchanges that batch (Coinbase level2_batch every 50 ms, Binance depth@100ms) send few, large
 * frames: bytesPerFrame says how much each carries, and the recording includes the REST snapshot.
 *
 * Two figures per exchange:
 *   - session: the recording's frames through SessionDriver (parse, book, integrity, tick gate,
 *     tick) in this process, repeated for at least BENCH_MIN_MS, best of BENCH_ROUNDS rounds;
 *   - cli: `normalize --exchange <id>` as a child process on the file, stdout to /dev/null; wall
 *     time minus that of the same command on an empty input (start-up), so it includes reading
 *     lines and writing tick JSON.
 *
 *   node --conditions=source --import tsx bench/normalize.bench.ts   # BENCH_EXCHANGES=kraken,okx
 */
import { spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { parseConfig, SimulatorConfig, type FeedRecord } from '@arb/contracts'
import { adapters, runFeed, SessionDriver, type FeedRecorder } from '@arb/exchanges'
import { createLogger } from '@arb/observability'
import { startSimulator } from '../services/simulator/src/simulator.js'

const RECORD_S = Number(process.env['BENCH_RECORD_S'] ?? 10)
const MIN_MS = Number(process.env['BENCH_MIN_MS'] ?? 1500)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5)
const EXCHANGES = (process.env['BENCH_EXCHANGES'] ?? Object.keys(adapters).join(',')).split(',')
const PAIRS = ['BTC-EUR']
const DIR = '.data/bench-normalize'

const log = createLogger({ service: 'bench', level: 'warn' })
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
mkdirSync(DIR, { recursive: true })

const record = async (exchange: string): Promise<FeedRecord[]> => {
  const sim = await startSimulator({
    config: parseConfig(SimulatorConfig, { PORT: '0', TICK_MS: '1', PAIRS: PAIRS.join(',') }),
    log,
  })
  const records: FeedRecord[] = [
    { v: 1, rec: 'start', ts: Date.now(), exchange, pairs: PAIRS, instance: 'bench' } as FeedRecord,
  ]
  const recorder: FeedRecorder = (r) => void records.push(r)
  const feed = runFeed({
    adapter: adapters[exchange]!,
    pairs: PAIRS,
    baseUrl: `ws://127.0.0.1:${sim.port}/${exchange}`,
    restBaseUrl: `http://127.0.0.1:${sim.port}/${exchange}`,
    log: quiet,
    onTicks: () => {},
    staleAfterMs: 30_000,
    backoffMinMs: 100,
    backoffMaxMs: 1000,
    recorder,
  })
  await new Promise((r) => setTimeout(r, RECORD_S * 1000))
  await feed.stop()
  await sim.close()
  if (feed.counters.resyncs > 0 || feed.counters.errors > 0) {
    throw new Error(`${exchange}: the recording itself had resyncs or errors: ${JSON.stringify(feed.counters)}`)
  }
  return records
}

const timeSessions = (exchange: string, records: readonly FeedRecord[]) => {
  let best = Infinity
  let frames = 0
  let ticks = 0
  for (let round = 0; round < ROUNDS; round++) {
    let n = 0
    let t = 0
    const start = performance.now()
    do {
      const driver = new SessionDriver({ adapter: adapters[exchange]!, pairs: PAIRS, onTicks: () => {} })
      for (const r of records) driver.apply(r)
      n += driver.counters.frames
      t += driver.counters.ticks
      if (driver.counters.resyncs > 0) throw new Error(`${exchange}: resync in replay`)
    } while (performance.now() - start < MIN_MS)
    const nsPerFrame = ((performance.now() - start) * 1e6) / n
    if (nsPerFrame < best) {
      best = nsPerFrame
      frames = n
      ticks = t
    }
  }
  return { nsPerFrame: best, framesPerS: 1e9 / best, ticksPerFrame: ticks / frames }
}

const cli = (exchange: string, file: string): number => {
  const input = openSync(file, 'r')
  const start = performance.now()
  const r = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'services/ingestor/src/cli/normalize.ts', '--exchange', exchange],
    { stdio: [input, 'ignore', 'pipe'] },
  )
  const ms = performance.now() - start
  closeSync(input)
  if (r.status !== 0) throw new Error(`normalize ${exchange} exited ${r.status}: ${String(r.stderr).slice(0, 500)}`)
  return ms
}

const results = []
for (const exchange of EXCHANGES) {
  const records = await record(exchange)
  const file = `${DIR}/${exchange}.jsonl`
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n')
  writeFileSync(`${DIR}/empty.jsonl`, '')
  const frameRecords = records.filter((r) => r.rec === 'frame')
  const frames = frameRecords.length
  const bytes = frameRecords.reduce((n, r) => n + Buffer.byteLength(r.text), 0)
  const session = timeSessions(exchange, records)
  const startup = Math.min(cli(exchange, `${DIR}/empty.jsonl`), cli(exchange, `${DIR}/empty.jsonl`))
  const whole = Math.min(cli(exchange, file), cli(exchange, file))
  results.push({
    exchange,
    framesRecorded: frames,
    bytesPerFrame: Math.round(bytes / frames),
    sessionFramesPerS: Math.round(session.framesPerS),
    sessionUsPerFrame: Number((session.nsPerFrame / 1000).toFixed(2)),
    ticksPerFrame: Number(session.ticksPerFrame.toFixed(2)),
    cliFramesPerS: Math.round(frames / ((whole - startup) / 1000)),
    cliStartupMs: Math.round(startup),
  })
}
console.table(results)
console.log(JSON.stringify({ recordS: RECORD_S, loadavg: loadavg().map((x) => x.toFixed(2)), results }, null, 2))
