import { afterEach, describe, expect, it } from 'vitest'
import { parseConfig, SimulatorConfig, type Tick } from '@arb/contracts'
import { kraken, runFeed, type Feed, type FeedLogger } from '@arb/exchanges'
import { createLogger } from '@arb/observability'
import { eventually } from '@arb/testkit'
import { startSimulator, type Simulator } from '../src/simulator.js'

// DISCONNECT_EVERY_MS drops every client the way a broken link does (no close frame), so the soak
// bench and the fault tests can force reconnects; the real feed must come back each time by itself.

const log = createLogger({ service: 'simulator-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })
const quiet: FeedLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

let sim: Simulator | undefined
let feed: Feed | undefined
afterEach(async () => {
  await feed?.stop()
  await sim?.close()
  feed = sim = undefined
})

describe('simulator DISCONNECT_EVERY_MS', () => {
  it('drops every client on schedule with 1006, and a real feed reconnects and resumes each time', async () => {
    sim = await startSimulator({
      config: parseConfig(SimulatorConfig, { PORT: '0', TICK_MS: '20', DISCONNECT_EVERY_MS: '400' }),
      log,
    })
    const url = sim.endpoints.find((e) => e.exchange === 'kraken')!.url
    const ticks: Tick[] = []
    const closes: number[] = []
    feed = runFeed({
      adapter: kraken,
      pairs: ['BTC-EUR'],
      baseUrl: url,
      log: { ...quiet, warn: (obj) => void ('code' in obj && closes.push(obj.code as number)) },
      onTicks: (t) => ticks.push(...t),
      staleAfterMs: 5000,
      backoffMinMs: 10,
      backoffMaxMs: 50,
    })
    const f = feed
    await eventually(() => (f.counters.reconnects >= 3 ? true : undefined), 10_000, 'three forced reconnects')
    const before = ticks.length
    await eventually(() => (ticks.length > before ? true : undefined), 5000, 'ticks after the reconnects')
    expect(closes.slice(0, 3)).toEqual([1006, 1006, 1006])
    expect(f.counters).toMatchObject({ resyncs: 0, errors: 0, malformed: 0 })
    const health = (await (await fetch(`${sim.httpUrl}/health`)).json()) as { forcedDisconnects: number }
    expect(health.forcedDisconnects).toBeGreaterThanOrEqual(3)
  })

  it('never drops anyone by default', async () => {
    sim = await startSimulator({ config: parseConfig(SimulatorConfig, { PORT: '0', TICK_MS: '20' }), log })
    const url = sim.endpoints.find((e) => e.exchange === 'kraken')!.url
    feed = runFeed({
      adapter: kraken,
      pairs: ['BTC-EUR'],
      baseUrl: url,
      log: quiet,
      onTicks: () => {},
      staleAfterMs: 5000,
      backoffMinMs: 10,
      backoffMaxMs: 50,
    })
    const f = feed
    await eventually(() => (f.counters.frames > 20 ? true : undefined), 10_000, 'frames')
    await new Promise((r) => setTimeout(r, 1000))
    expect(f.counters.reconnects).toBe(0)
  })
})
