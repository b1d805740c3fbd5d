/**
 * What verifying OKX's CRC32 book checksum costs per update, on the real 2022 recording
 * (packages/exchanges/fixtures/okx/real-btc-usd-220527.jsonl: a 136-level snapshot and the nine
 * updates that follow it, every checksum valid).
 *
 * Two variants of the same frames, both given `prevSeqId`/`seqId` (as OKX sends them now) so that
 * only the checksum differs: "verified" keeps the recorded checksums, "unverified" sets them to 0
 * (what production sends since 2026-06-23, when the session skips the check). One run is a fresh
 * session given the snapshot, then the nine updates; the snapshot alone is timed too and taken
 * off, so the figure is per update: sequence check, apply, tick gate, tick, and (verified) the
 * checksum. Frames are parsed before timing, as the feed hands them over parsed. The median and
 * the best of BENCH_ROUNDS rounds of BENCH_RUNS runs are reported (on a shared, loaded machine the
 * best is the closer to the cost itself). The checksum alone (top 25 a side, string and CRC32) is
 * also timed on the book after the snapshot, and its CRC32 with node:zlib's (the adapter's) and
 * with kraken.ts's table loop.
 *
 *   node --conditions=source --import tsx bench/checksum-okx.bench.ts   # BENCH_RUNS=5000 BENCH_ROUNDS=7
 */
import { cpus, loadavg } from 'node:os'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { okx } from '@arb/exchanges'
import { loadFrames } from '@arb/testkit'
import { L2Book } from '../packages/exchanges/src/book.js'
import { crc32 } from '../packages/exchanges/src/kraken.js'
import { checksum, type LevelEntries } from '../packages/exchanges/src/okx.js'

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5000)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7)
const PAIR = 'BTC-USD-220527'
const T0 = 1_795_564_800_000

const [, snapshotRaw, ...updateRaws] = loadFrames(
  new URL('../packages/exchanges/fixtures/okx/real-btc-usd-220527.jsonl', import.meta.url),
)
const withSeq = (raw: string, prevSeqId: number, seqId: number): string =>
  raw.replace('"checksum":', `"prevSeqId":${prevSeqId},"seqId":${seqId},"checksum":`)
const zeroChecksum = (raw: string): string => raw.replace(/"checksum":-?\d+/, '"checksum":0')

interface Frame {
  readonly raw: string
  readonly parsed: unknown
}
const frame = (raw: string): Frame => ({ raw, parsed: JSON.parse(raw) })
const sequenced = [
  withSeq(snapshotRaw!, -1, 100),
  ...updateRaws.map((raw, i) => withSeq(raw, 100 + 5 * i, 105 + 5 * i)),
]
const variants = {
  verified: sequenced.map(frame),
  unverified: sequenced.map(zeroChecksum).map(frame),
}
const UPDATES = updateRaws.length

/** ns for RUNS fresh sessions given the snapshot and, when `updates`, the nine updates. */
const time = (frames: readonly Frame[], updates: boolean): number => {
  let ts = T0
  const start = process.hrtime.bigint()
  for (let run = 0; run < RUNS; run++) {
    const session = okx.createSession([PAIR])
    const end = updates ? frames.length : 1
    for (let k = 0; k < end; k++) {
      const f = frames[k]!
      const result = session.onFrame(f.parsed, ts++, f.raw)
      if (result.kind !== 'ticks') throw new Error(`frame ${k}: ${result.kind}`)
    }
  }
  return Number(process.hrtime.bigint() - start)
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const perUpdate = (frames: readonly Frame[]): number[] => {
  const out: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const whole = time(frames, true)
    const snapshotOnly = time(frames, false)
    out.push((whole - snapshotOnly) / (RUNS * UPDATES))
  }
  return out
}

// The book after the snapshot, for the checksum on its own.
const book = new L2Book()
const entries: LevelEntries = { bid: new Map(), ask: new Map() }
const snapshotData = (JSON.parse(snapshotRaw!) as { data: { bids: string[][]; asks: string[][] }[] }).data[0]!
for (const [side, levels] of [
  ['bid', snapshotData.bids],
  ['ask', snapshotData.asks],
] as const) {
  for (const entry of levels) {
    book.set(side, Number(entry[0]), Number(entry[1]))
    entries[side].set(Number(entry[0]), entry)
  }
}
const CALLS = RUNS * UPDATES
const timeCalls = (fn: () => number): number => {
  let sink = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) sink ^= fn()
  const ns = Number(process.hrtime.bigint() - start) / CALLS
  if (sink === 0.5) throw new Error('unreachable')
  return ns
}
const text = (() => {
  const parts: string[] = []
  const bids = book.bids.top(25)
  const asks = book.asks.top(25)
  for (let i = 0; i < 25; i++) {
    if (bids[i]) parts.push(`${entries.bid.get(bids[i]![0])![0]}:${entries.bid.get(bids[i]![0])![1]}`)
    if (asks[i]) parts.push(`${entries.ask.get(asks[i]![0])![0]}:${entries.ask.get(asks[i]![0])![1]}`)
  }
  return parts.join(':')
})()
if ((zlibCrc32(text) | 0) !== checksum(book, entries)) throw new Error('checksum differs from zlib CRC32')
if ((zlibCrc32(text) | 0) !== 1054815633) throw new Error('the recorded snapshot checksum does not verify')

// Warm-up: every path compiled before anything is timed.
for (const frames of Object.values(variants)) time(frames, true)
timeCalls(() => checksum(book, entries))

const results = Object.fromEntries(Object.entries(variants).map(([name, frames]) => [name, perUpdate(frames)]))
const checksumRounds = Array.from({ length: ROUNDS }, () => timeCalls(() => checksum(book, entries)))
const tableCrcRounds = Array.from({ length: ROUNDS }, () => timeCalls(() => crc32(text)))
const zlibCrcRounds = Array.from({ length: ROUNDS }, () => timeCalls(() => zlibCrc32(text)))

const fmt = (ns: number) => `${ns.toFixed(0)} ns`
const min = (xs: number[]) => Math.min(...xs)
const row = (label: string, xs: number[]) => `  ${label.padEnd(36)} median ${fmt(median(xs))}, best ${fmt(min(xs))}`
console.log(
  `OKX checksum cost — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, load ${loadavg()[0]!.toFixed(1)}`,
)
console.log(`${RUNS} runs × ${UPDATES} recorded updates, ${ROUNDS} rounds (checksum string ${text.length} chars)`)
console.log(row('per update, checksum verified', results['verified']!))
console.log(row('per update, checksum 0 (skipped)', results['unverified']!))
console.log(
  `  verification adds ${fmt(median(results['verified']!) - median(results['unverified']!))} per update (medians)`,
)
console.log(row('checksum() alone (top 25 + CRC32)', checksumRounds))
console.log(row('CRC32 of the string, node:zlib', zlibCrcRounds))
console.log(row('CRC32 of the string, kraken.ts table', tableCrcRounds))
