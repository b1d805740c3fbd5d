/**
 * What verifying Kraken's v2 CRC32 book checksum costs per update, on the documentation's own
 * MATIC/USD example (packages/exchanges/fixtures/kraken/doc-matic-usd.jsonl: a depth-10 snapshot
 * whose checksum 2439117997 verifies and the update after it, 2114181697).
 *
 * Kraken sends a checksum on every message, so the adapter always verifies; the cost is measured
 * as (a) a whole update through a fresh session (parse of the number texts, apply, truncate,
 * checksum, tick gate, tick), with the snapshot alone timed too and taken off, and (b)
 * `checksum()` alone (top 10 a side, digits text, CRC32) on the book after the snapshot. The share
 * (b)/(a) is what verification costs. Median and best of BENCH_ROUNDS rounds of BENCH_RUNS runs.
 *
 *   node --conditions=source --import tsx bench/checksum-kraken.bench.ts   # BENCH_RUNS=20000 BENCH_ROUNDS=7
 */
import { cpus, loadavg } from 'node:os'
import { kraken, L2Book } from '@arb/exchanges'
import { loadFrames } from '@arb/testkit'
import { checksum } from '../packages/exchanges/src/kraken.js'

const RUNS = Number(process.env['BENCH_RUNS'] ?? 20_000)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7)
const frames = loadFrames(new URL('../packages/exchanges/fixtures/kraken/doc-matic-usd.jsonl', import.meta.url))
const snapshotRaw = frames.find((f) => f.includes('"type":"snapshot"'))!
const updateRaw = frames.find((f) => f.includes('"type":"update"') && f.includes('"channel":"book"'))!
const snapshot = { raw: snapshotRaw, parsed: JSON.parse(snapshotRaw) as unknown }
const update = { raw: updateRaw, parsed: JSON.parse(updateRaw) as unknown }
const T0 = 1_795_564_800_000

const time = (withUpdate: boolean): number => {
  let ts = T0
  const start = process.hrtime.bigint()
  for (let run = 0; run < RUNS; run++) {
    const session = kraken.createSession(['MATIC-USD'])
    if (session.onFrame(snapshot.parsed, ts++, snapshot.raw).kind !== 'ticks') throw new Error('snapshot refused')
    if (withUpdate && session.onFrame(update.parsed, ts++, update.raw).kind !== 'ticks')
      throw new Error('update refused')
  }
  return Number(process.hrtime.bigint() - start)
}

// The book after the snapshot, with the wire texts the checksum reads (4 price, 8 qty decimals).
interface Level {
  price: number
  qty: number
}
const data = (snapshot.parsed as { data: { bids: Level[]; asks: Level[] }[] }).data[0]!
const book = new L2Book()
const text = {
  bid: new Map<number, { price: string; qty: string }>(),
  ask: new Map<number, { price: string; qty: string }>(),
}
for (const [side, levels] of [
  ['bid', data.bids],
  ['ask', data.asks],
] as const) {
  for (const l of levels) {
    book.set(side, l.price, l.qty)
    text[side].set(l.price, { price: String(l.price), qty: String(l.qty) })
  }
}
const state = { book, text, precision: { price: 4, qty: 8 } }
if (checksum(state) !== 2439117997) throw new Error(`checksum ${checksum(state)} does not verify the doc snapshot`)

const timeChecksum = (): number => {
  let sink = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < RUNS; i++) sink ^= checksum(state)
  if (sink === 0.5) throw new Error('unreachable')
  return Number(process.hrtime.bigint() - start) / RUNS
}

time(true)
timeChecksum()
const perUpdate: number[] = []
const alone: number[] = []
for (let round = 0; round < ROUNDS; round++) {
  perUpdate.push((time(true) - time(false)) / RUNS)
  alone.push(timeChecksum())
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (ns: number) => `${ns.toFixed(0)} ns`
console.log(
  `Kraken checksum cost — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, load ${loadavg()[0]!.toFixed(1)}`,
)
console.log(
  `  per update, whole session path      median ${fmt(median(perUpdate))}, best ${fmt(Math.min(...perUpdate))}`,
)
console.log(`  checksum() alone (top 10 + CRC32)    median ${fmt(median(alone))}, best ${fmt(Math.min(...alone))}`)
console.log(`  verification share of an update      ${((median(alone) / median(perUpdate)) * 100).toFixed(0)}%`)
