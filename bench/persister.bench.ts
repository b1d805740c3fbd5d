/**
 * Persister throughput against the raw COPY rate of the same table, in one run.
 *
 * 1. Publishes BENCH_TICKS ticks (default 1,000,000; BENCH_LEVELS levels a side, default 10)
 *    into a fresh prefixed TICKS stream, each with its Nats-Msg-Id as the ingestors send them.
 * 2. Times the persister core (services/persister/src/persister.ts: durable pull consumer,
 *    decode and validate, binary COPY to staging + INSERT ... ON CONFLICT, ack after commit)
 *    draining the stream into a fresh schema: ticks/s sustained.
 * 3. Times a server-side `COPY ticks FROM '<file>'` of the same rows in text format (what
 *    `psql \copy` sends) into another fresh schema with the same table and indexes: rows/s.
 *    The binary format the persister uses is timed too, for reference.
 * Prints both, the ratio, and the CPU each process used. Streams, schemas and files are removed.
 *
 *   pnpm bench:persister        # NATS_URL, DATABASE_URL, BENCH_TICKS, BENCH_LEVELS, BENCH_BATCH
 */
import { createWriteStream } from 'node:fs'
import { readdir, readFile, rm } from 'node:fs/promises'
import { once } from 'node:events'
import { spawnSync } from 'node:child_process'
import { cpus } from 'node:os'
import { Session } from 'node:inspector/promises'
import { writeFile } from 'node:fs/promises'
import { jetstreamManager } from '@nats-io/jetstream'
import { createInbox, headers } from '@nats-io/transport-node'
import { connectNats, ensureStreams } from '@arb/bus'
import { topology } from '@arb/contracts'
import { createLogger } from '@arb/observability'
import { createPool, migrate, tickWriter, TickBatch, type StoredTick } from '@arb/storage'
import { freshSchema, uniqueName } from '@arb/testkit'
import { openConsumers, startPersister } from '../services/persister/src/persister.js'
import { copyTextLine, ticks } from './lib/persister-fixtures.js'

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222'
const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const N = Number(process.env['BENCH_TICKS'] ?? 1_000_000)
const LEVELS = Number(process.env['BENCH_LEVELS'] ?? 10)
const BATCH = Number(process.env['BENCH_BATCH'] ?? 5000)
/** Writes a V8 CPU profile of the drain phase to this path (open it in Chrome DevTools). */
const PROFILE = process.env['BENCH_PROFILE']
const PUBLISH_WINDOW = 4000
const DRAIN_TIMEOUT_MS = 180_000
const START_MS = Date.now() - N

const log = createLogger({ service: 'persister', level: process.env['LOG_LEVEL'] ?? 'warn' })
const prefix = uniqueName('bench')
const topo = topology(prefix)
const files = [`/tmp/${prefix}.copy.txt`, `/tmp/${prefix}.copy.bin`]
const cleanups: (() => Promise<unknown>)[] = []
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

/** CPU seconds used so far by every process whose command name is `name` (from /proc). */
const cpuSeconds = async (name: string): Promise<number> => {
  let ticksUsed = 0
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      if (stat.slice(stat.indexOf('(') + 1, close) !== name) continue
      const fields = stat.slice(close + 2).split(' ')
      ticksUsed += Number(fields[11]) + Number(fields[12]) // utime, stime
    } catch {
      /* process ended meanwhile */
    }
  }
  return ticksUsed / 100 // USER_HZ
}

const nodeCpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

const main = async () => {
  console.log(`persister bench: ${fmt(N)} ticks, ${LEVELS} levels a side, batch ${BATCH}, ${cpus().length} cores`)
  const nc = await connectNats(NATS_URL, log, 'bench-persister')
  const jsm = await jetstreamManager(nc)
  cleanups.push(() => nc.close())
  await ensureStreams(nc, topo, { ticksMaxAgeMs: 3_600_000, dedupWindowMs: 120_000 }, log, { update: true })
  cleanups.push(
    () => jsm.streams.delete(topo.ticksStream),
    () => jsm.streams.delete(topo.signalsStream),
  )

  // 1. Publish: core publishes with a reply inbox, acks counted by one subscription, a window
  // in flight (TOOLCHAIN.md: js.publish builds a promise and a timer per message and is the
  // slower path for a bulk load).
  let acked = 0
  let failed = 0
  let release: (() => void) | undefined
  const inbox = createInbox()
  nc.subscribe(inbox, {
    callback: (_err, msg) => {
      if (msg.string().includes('"error"')) failed++
      else acked++
      release?.()
    },
  })
  let t0 = performance.now()
  let sent = 0
  for (const t of ticks(N, LEVELS, START_MS)) {
    const h = headers()
    h.set('Nats-Msg-Id', `${t.exchange}:${t.pair}:${t.seq}`)
    nc.publish(topo.tick(t.exchange, t.pair), JSON.stringify(t), { reply: inbox, headers: h })
    sent++
    while (sent - acked - failed >= PUBLISH_WINDOW) await new Promise<void>((r) => (release = r))
  }
  while (acked + failed < N) await new Promise<void>((r) => (release = r))
  const publishS = (performance.now() - t0) / 1000
  if (failed > 0) throw new Error(`${failed} publishes failed`)
  const info = await jsm.streams.info(topo.ticksStream)
  console.log(
    `published ${fmt(info.state.messages)} messages (${fmt(info.state.bytes / info.state.messages)} bytes each) in ${publishS.toFixed(1)} s: ${fmt(N / publishS)} msgs/s`,
  )

  // 2. Drain with the persister core.
  const target = await freshSchema(DATABASE_URL)
  const pool = createPool(DATABASE_URL, { schema: target.schema })
  cleanups.push(async () => {
    await pool.end()
    await target.drop()
  })
  await migrate(pool)
  const consumers = await openConsumers(nc, topo, { consumerName: 'bench', batchSize: BATCH })
  const profiler = PROFILE ? new Session() : undefined
  if (profiler) {
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.start')
  }
  const cpu0 = { node: nodeCpuSeconds(), pg: await cpuSeconds('postgres'), nats: await cpuSeconds('nats-server') }
  t0 = performance.now()
  const persister = startPersister({
    ...consumers,
    tickWriter: tickWriter(pool),
    signalWriter: { write: () => Promise.resolve(0) },
    batch: { size: BATCH, maxWaitMs: 250 },
    log,
  })
  let stopped: Promise<void> | undefined
  const stop = () => (stopped ??= persister.stop())
  cleanups.push(stop)
  const c = persister.ticks.counters
  while (c.inserted + c.duplicates < N) {
    if (performance.now() - t0 > DRAIN_TIMEOUT_MS) throw new Error(`drain timed out at ${c.inserted} rows`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const drainS = (performance.now() - t0) / 1000
  const cpu = {
    node: nodeCpuSeconds() - cpu0.node,
    pg: (await cpuSeconds('postgres')) - cpu0.pg,
    nats: (await cpuSeconds('nats-server')) - cpu0.nats,
  }
  if (profiler && PROFILE) {
    const { profile } = await profiler.post('Profiler.stop')
    await writeFile(PROFILE, JSON.stringify(profile))
    profiler.disconnect()
  }
  await stop()
  const stored = (await pool.query('SELECT count(*)::int AS n FROM ticks')).rows[0].n as number
  if (stored !== N || c.invalid !== 0) throw new Error(`stored ${stored} of ${N} (invalid ${c.invalid})`)
  const persisterRate = N / drainS
  console.log(
    `persister: ${fmt(N)} rows in ${drainS.toFixed(1)} s = ${fmt(persisterRate)} ticks/s over ${c.batches} batches ` +
      `(CPU s: node ${cpu.node.toFixed(1)}, postgres ${cpu.pg.toFixed(1)}, nats-server ${cpu.nats.toFixed(1)}; ` +
      `µs/tick: ${((cpu.node * 1e6) / N).toFixed(1)} / ${((cpu.pg * 1e6) / N).toFixed(1)} / ${((cpu.nats * 1e6) / N).toFixed(1)})`,
  )

  // 3. Raw COPY of the same rows into the same table shape.
  t0 = performance.now()
  await writeCopyFiles()
  console.log(`copy files written in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const text = await rawCopy(files[0] as string, 'text')
  const binary = await rawCopy(files[1] as string, 'binary')
  console.log(`raw COPY text (psql \\copy format): ${fmt(text)} rows/s`)
  console.log(`raw COPY binary (the persister's format): ${fmt(binary)} rows/s`)
  console.log(
    `RESULT persister ${fmt(persisterRate)} ticks/s, raw COPY ${fmt(text)} rows/s, ratio ${(persisterRate / text).toFixed(2)} ` +
      `(goal >= 0.50; vs binary COPY ${(persisterRate / binary).toFixed(2)})`,
  )
}

const writeCopyFiles = async () => {
  const txt = createWriteStream(files[0] as string, { mode: 0o644 })
  const bin = createWriteStream(files[1] as string, { mode: 0o644 })
  const HEADER = 19
  let chunk: StoredTick[] = []
  let lines = ''
  let first = true
  const flush = async (last: boolean) => {
    const batch = new TickBatch(chunk.length)
    for (const t of chunk) batch.add(t)
    const b = batch.bytes()
    // One header and one trailer for the whole file: strip them from the batches in between.
    const body = b.subarray(first ? 0 : HEADER, last ? b.length : b.length - 2)
    first = false
    chunk = []
    const write = (to: typeof txt, data: string | Buffer) => (to.write(data) ? undefined : once(to, 'drain'))
    await Promise.all([write(txt, lines), write(bin, body)])
    lines = ''
  }
  for (const t of ticks(N, LEVELS, START_MS)) {
    chunk.push(t)
    lines += copyTextLine(t)
    if (chunk.length === 10_000) await flush(false)
  }
  await flush(true)
  await Promise.all([new Promise((r) => txt.end(r)), new Promise((r) => bin.end(r))])
}

/** rows/s of one COPY into a fresh, migrated schema; server-side, or psql \copy when the server cannot read /tmp. */
const rawCopy = async (file: string, format: 'text' | 'binary'): Promise<number> => {
  const s = await freshSchema(DATABASE_URL)
  cleanups.push(s.drop)
  const pool = createPool(DATABASE_URL, { schema: s.schema, max: 1, statementTimeoutMs: 0 })
  try {
    await migrate(pool)
    let t0 = performance.now()
    try {
      await pool.query(`COPY ticks FROM '${file}' (FORMAT ${format})`)
    } catch (err) {
      console.log(`server-side COPY failed (${(err as Error).message}); using psql \\copy`)
      t0 = performance.now()
      const r = spawnSync(
        'psql',
        [DATABASE_URL, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${s.schema}.ticks FROM '${file}' (FORMAT ${format})`],
        { stdio: 'inherit' },
      )
      if (r.status !== 0) throw new Error('psql \\copy failed', { cause: err })
    }
    const seconds = (performance.now() - t0) / 1000
    const n = (await pool.query('SELECT count(*)::int AS n FROM ticks')).rows[0].n as number
    if (n !== N) throw new Error(`COPY stored ${n} of ${N}`)
    return N / seconds
  } finally {
    await pool.end()
  }
}

const cleanup = async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => console.error('cleanup:', err))
  for (const f of files) await rm(f, { force: true })
}
// Ctrl-C or a timeout still removes the streams, schemas and files (a million ticks is ~1 GB of them).
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanup().finally(() => process.exit(130)))

const started = performance.now()
try {
  await main()
} finally {
  await cleanup()
  console.log(`bench finished in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}
