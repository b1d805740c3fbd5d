import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEngineConfig, signalDecoder, tickDecoder, type Signal, type Tick } from '@arb/contracts'
import { defaultTakerFees } from '@arb/exchanges'
import { createPool, migrate, tickWriter, type Pool, type StoredTick } from '@arb/storage'
import { freshSchema, testDatabaseUrl } from '@arb/testkit'
import { formatSummary, runBacktest, type BacktestSummary } from '../src/backtest.js'
import { engineOptions } from '../src/settings.js'

const root = new URL('../../../', import.meta.url).pathname
const fixtures = new URL('./fixtures/replay/', import.meta.url).pathname
const T0 = 1_795_564_800_000
const engine = engineOptions(parseEngineConfig(readFileSync(`${fixtures}engine.json`, 'utf8')), defaultTakerFees())

/** The replay fixture's valid ticks (its duplicate included: stored under another ts, ignored by the engine). */
const fixtureTicks = (): Tick[] =>
  readFileSync(`${fixtures}ticks.jsonl`, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [tickDecoder.decode(l)]
      } catch {
        return []
      }
    })
const expectedReplay = (): Signal[] =>
  readFileSync(`${fixtures}expected-events.jsonl`, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => signalDecoder.decode(l))

// A crossing that would open signals if the range let it in.
const outside = (at: number): StoredTick[] => [
  {
    v: 1,
    exchange: 'coinbase',
    pair: 'BTC-EUR',
    seq: `o${at}a`,
    exchangeTs: null,
    receivedTs: T0 + at,
    bids: [[49_000, 1]],
    asks: [[49_001, 1]],
  },
  {
    v: 1,
    exchange: 'bl3p',
    pair: 'BTC-EUR',
    seq: `o${at}b`,
    exchangeTs: null,
    receivedTs: T0 + at + 1,
    bids: [[51_000, 1]],
    asks: [[51_001, 1]],
  },
]

let databaseUrl: string
let schema: string
let drop: () => Promise<void>
let pool: Pool

beforeAll(async () => {
  databaseUrl = await testDatabaseUrl()
  ;({ schema, drop } = await freshSchema(databaseUrl))
  pool = createPool(databaseUrl, { schema, max: 2 })
  await migrate(pool)
  const stored = fixtureTicks().map((t) => ({ ...t, seq: t.seq ?? '' }))
  await tickWriter(pool).write([...outside(-60_000), ...stored, ...outside(60_000)])
})

afterAll(async () => {
  await pool?.end()
  await drop?.()
})

const backtest = async (o: { from: number; to: number; pairs?: string[]; windowRows?: number }) => {
  const events: Signal[] = []
  const summary = await runBacktest(pool, { ...o, engine, onEvent: (s) => void events.push(s) })
  return { events, summary }
}

const route = (s: BacktestSummary, pair: string, buy: string, sell: string) =>
  s.routes.find((r) => r.pair === pair && r.buy === buy && r.sell === sell)

describe('backtest against PostgreSQL', () => {
  it('gives the replay’s events for the same ticks, in small windows too, then closes what went stale by the end', async () => {
    const replayed = expectedReplay()
    for (const windowRows of [undefined, 3]) {
      const { events, summary } = await backtest({ from: T0, to: T0 + 10_000, ...(windowRows ? { windowRows } : {}) })
      expect(events.slice(0, replayed.length)).toEqual(replayed)
      // The three signals open at the end of the fixture: closed when their oldest quote went stale.
      expect(
        events.slice(replayed.length).map((e) => [e.state, e.pair, e.buy.exchange, e.sell.exchange, e.ts - T0]),
      ).toEqual([
        ['closed', 'BTC-EUR', 'coinbase', 'kraken', 3601],
        ['closed', 'BTC-EUR', 'coinbase', 'bl3p', 4501],
        ['closed', 'ETH-EUR', 'kraken', 'bl3p', 4601],
      ])
      expect(summary.ticks).toBe(16)
    }
  })

  it('summarises per route: signals, profit at open, durations, balance caps; open ones are counted apart', async () => {
    const { summary } = await backtest({ from: T0, to: T0 + 3500 })
    const cb = route(summary, 'BTC-EUR', 'coinbase', 'bl3p')
    expect(cb).toMatchObject({ quote: 'EUR', signals: 2, openAtEnd: 1, balanceCapped: 0, durationMaxMs: 1901 })
    expect(cb?.netProfitTotal).toBeCloseTo(23.6695 + 33.6445, 6)
    expect(route(summary, 'BTC-EUR', 'coinbase', 'kraken')).toMatchObject({
      signals: 2,
      balanceCapped: 2,
      openAtEnd: 1,
    })
    expect(route(summary, 'ETH-EUR', 'kraken', 'bl3p')).toMatchObject({
      signals: 2,
      balanceCapped: 2,
      openAtEnd: 1,
      durationMedianMs: 200,
    })
    expect(route(summary, 'BTC-EUR', 'kraken', 'bl3p')).toMatchObject({ signals: 1, durationMedianMs: 700 })
    const table = formatSummary(summary)
    expect(table).toMatch(/BTC-EUR\s+coinbase → kraken\s+2\s+1/)
    expect(table).toMatch(/all EUR/)
  })

  it('reads only the range and the pairs asked for', async () => {
    const eth = await backtest({ from: T0, to: T0 + 10_000, pairs: ['ETH-EUR'] })
    expect(new Set(eth.events.map((e) => e.pair))).toEqual(new Set(['ETH-EUR']))
    expect(eth.summary.ticks).toBe(5)
    const early = await backtest({ from: T0 - 120_000, to: T0 })
    expect(early.summary.ticks).toBe(2)
    expect(early.events.map((e) => e.state)).toEqual(['opened', 'closed'])
    const none = await backtest({ from: T0 + 120_000, to: T0 + 180_000 })
    expect(none.summary).toMatchObject({ ticks: 0, events: 0, routes: [] })
  })

  it('runs as `npm run backtest` with --events: JSON lines on stdout, the summary on stderr', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const args = ['--from', new Date(T0).toISOString(), '--to', new Date(T0 + 3500).toISOString()]
        args.push('--pair', 'ETH-EUR', '--config', `${fixtures}engine.json`, '--events', '--json')
        const child = spawn(
          process.execPath,
          ['--conditions=source', '--import', 'tsx', 'services/detector/src/cli/backtest.ts', ...args],
          { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl, DB_SCHEMA: schema } },
        )
        let out = ''
        let err = ''
        child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
        child.once('error', reject)
        child.once('close', (c) => resolve({ code: c, stdout: out, stderr: err }))
      },
    )
    expect(code, stderr).toBe(0)
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => signalDecoder.decode(l))
    expect(events.map((e) => e.state)).toEqual(['opened', 'updated', 'closed', 'opened'])
    const summary = JSON.parse(stderr.trim().split('\n').at(-1) ?? '') as BacktestSummary
    expect(summary).toMatchObject({ ticks: 5, events: 4 })
  })
})
