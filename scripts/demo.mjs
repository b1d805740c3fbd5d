// `npm run demo`: the whole system on this machine against the exchange simulator — the real
// adapters, NATS, PostgreSQL, persister, detector and gateway — with prefixed logs. Ctrl-C (or
// DEMO_SECONDS=N) stops every process cleanly and prints what was stored and each peak RSS.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { connect } from '@nats-io/transport-node'
import pg from 'pg'

const root = new URL('..', import.meta.url).pathname
const SIM_PORT = Number(process.env.SIM_PORT ?? 8900)
const GATEWAY_PORT = Number(process.env.PORT ?? 3000)
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const seconds = Number(process.env.DEMO_SECONDS ?? 0)
const base = { NATS_URL, DATABASE_URL, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', LOG_PRETTY: '0' }
const sim = `127.0.0.1:${SIM_PORT}`

// Every exchange the simulator speaks, each at its own path, with the pairs it lists there.
const EXCHANGES = [
  ['coinbase', 'BTC-EUR,BTC-USD'],
  ['bl3p', 'BTC-EUR'],
  ['kraken', 'BTC-EUR,BTC-USD'],
  ['bitstamp', 'BTC-EUR,BTC-USD'],
  ['binance', 'BTC-EUR'],
  ['bitfinex', 'BTC-EUR,BTC-USD'],
  ['gemini', 'BTC-EUR,BTC-USD'],
  ['okx', 'BTC-EUR'],
]

const processes = [
  ['simulator', 'simulator', { PORT: String(SIM_PORT) }],
  ['persister', 'persister', {}],
  ...EXCHANGES.map(([id, pairs]) => [
    `ingest-${id}`,
    'ingestor',
    { EXCHANGE: id, PAIRS: pairs, EXCHANGE_URL: `ws://${sim}/${id}`, EXCHANGE_REST_URL: `http://${sim}/${id}` },
  ]),
  ['detector', 'detector', {}],
  ['gateway', 'gateway', { PORT: String(GATEWAY_PORT) }],
]

const colours = [36, 33, 32, 35, 34, 31]
const levelName = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'service', 'instance', 'v'])
const format = (line) => {
  try {
    const o = JSON.parse(line)
    const fields = Object.entries(o)
      .filter(([k]) => !OMIT.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
      .join(' ')
    return `${levelName[o.level] ?? o.level} ${o.msg ?? ''} ${fields}`.trimEnd()
  } catch {
    return line
  }
}

let stopping = false
// The database outlives a demo: its summary counts only what this run stored.
const startedAt = new Date()
const children = processes.map(([name, service, env], i) => {
  const child = spawn(process.execPath, [`${root}services/${service}/dist/main.js`], {
    env: { ...process.env, ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const tag = `\x1b[${colours[i % colours.length]}m${name.padEnd(16)}\x1b[0m`
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (l) => console.log(`${tag}| ${format(l)}`))
  }
  child.on('exit', (code, signal) => {
    if (stopping) return
    console.log(`${tag}| exited (${signal ?? code}) — stopping the demo`)
    void stop(1)
  })
  return { name, child, peakRssKb: 0 }
})

// VmHWM is the kernel's own peak resident set, so sampling cannot miss a spike.
const samplePeaks = () => {
  for (const c of children) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${c.child.pid}/status`, 'utf8'))
      if (m) c.peakRssKb = Math.max(c.peakRssKb, Number(m[1]))
    } catch {
      // the process has exited; its last sample stands
    }
  }
}
const sampler = setInterval(samplePeaks, 1000)

const nc = await connect({ servers: NATS_URL, maxReconnectAttempts: -1 })
let signals = 0
void (async () => {
  for await (const m of nc.subscribe('arb.signals')) {
    signals++
    const s = m.json()
    const reason = s.reason ? ` reason="${s.reason}"` : ''
    console.log(
      `\x1b[1m${'arb.signals'.padEnd(16)}\x1b[0m| ${s.state.toUpperCase()} ${s.pair} buy ${s.buy.exchange}@${s.buy.price.toFixed(2)} ` +
        `sell ${s.sell.exchange}@${s.sell.price.toFixed(2)} volume=${s.volume.toFixed(4)} net=${s.netProfit.toFixed(2)} (${s.netProfitBps.toFixed(1)} bps)${reason}`,
    )
  }
})()

setTimeout(() => {
  console.log(`\n  gateway: http://127.0.0.1:${GATEWAY_PORT}  (try /ready, /services, /signals)  Ctrl-C stops\n`)
}, 3000)

async function stop(code = 0) {
  if (stopping) return
  stopping = true
  samplePeaks()
  clearInterval(sampler)
  console.log('\ndemo: stopping every process (SIGTERM)')
  await Promise.all(
    children.map(
      ({ child }) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', resolve)
          child.kill('SIGTERM')
          setTimeout(() => child.kill('SIGKILL'), 10_000).unref()
        }),
    ),
  )
  await nc.close()
  try {
    const db = new pg.Client({ connectionString: DATABASE_URL })
    await db.connect()
    const ticks = await db.query(
      'SELECT exchange, count(*)::int AS n FROM ticks WHERE ts >= $1 GROUP BY exchange ORDER BY exchange',
      [startedAt],
    )
    const sig = await db.query(
      'SELECT state, count(*)::int AS n FROM arb_signals WHERE ts >= $1 GROUP BY state ORDER BY state',
      [startedAt],
    )
    await db.end()
    console.log(`demo: ticks stored by this run: ${ticks.rows.map((r) => `${r.exchange} ${r.n}`).join(', ') || 'none'}`)
    console.log(
      `demo: signal events stored by this run: ${sig.rows.map((r) => `${r.state} ${r.n}`).join(', ') || 'none'}; seen live: ${signals}`,
    )
  } catch (err) {
    console.log(`demo: could not read the database summary: ${err.message}`)
  }
  console.log(`demo: peak RSS: ${children.map((c) => `${c.name} ${(c.peakRssKb / 1024).toFixed(0)} MiB`).join(', ')}`)
  process.exit(code)
}
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))
if (seconds > 0) setTimeout(() => void stop(0), seconds * 1000)
