import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { parseConfig, SimulatorConfig, type Tick } from '@arb/contracts'
import { okx as okxAdapter, runFeed, type Feed, type FeedCounters } from '@arb/exchanges'
import { createLogger } from '@arb/observability'
import { eventually } from '@arb/testkit'
import { SIZE_DECIMALS, toDecimalString } from '../src/market.js'
import { okxExchange, type OkxOptions } from '../src/protocols/index.js'
import { startSimulator, type Simulator } from '../src/simulator.js'

// The real OKX adapter, driven by the real feed, against the simulator's OKX wire (WebSocket + REST).

const log = createLogger({ service: 'simulator-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })
const PAIRS = ['BTC-EUR', 'BTC-USDT']
const RUN_MS = 2500

let sim: Simulator | undefined
let feed: Feed | undefined

afterEach(async () => {
  await feed?.stop()
  await sim?.close()
  feed = undefined
  sim = undefined
})

const start = async (options: OkxOptions) => {
  sim = await startSimulator({
    config: parseConfig(SimulatorConfig, {
      PORT: '0',
      TICK_MS: '20',
      PAIRS: PAIRS.join(','),
      OPPORTUNITY_EVERY_MS: '600000',
    }),
    log,
    exchanges: [okxExchange(options)],
  })
  const endpoint = sim.endpoints.find((e) => e.exchange === 'okx')!
  const ticks: Tick[] = []
  feed = runFeed({
    adapter: okxAdapter,
    pairs: PAIRS,
    baseUrl: `${endpoint.url}/ws/v5/public`,
    restBaseUrl: `${sim.httpUrl}/okx`,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    onTicks: (t) => ticks.push(...t),
    staleAfterMs: 10_000,
    backoffMinMs: 50,
    backoffMaxMs: 200,
  })
  await new Promise((resolve) => setTimeout(resolve, RUN_MS))
  return { sim, feed, ticks }
}

const clean = (counters: Readonly<FeedCounters>) =>
  expect(counters).toMatchObject({ resyncs: 0, errors: 0, malformed: 0, reconnects: 0, staleTimeouts: 0 })

const lastOf = (ticks: readonly Tick[], pair: string) => ticks.filter((t) => t.pair === pair).at(-1)

describe('simulated OKX against the real adapter', () => {
  it('production wire (no WS snapshot, checksum 0): books start from REST and match the simulator', async () => {
    const { feed, ticks } = await start({})
    clean(feed.counters)
    expect(feed.counters.snapshots).toBe(PAIRS.length)
    expect(feed.status()).toBe('connected')
    for (const pair of PAIRS) expect(ticks.filter((t) => t.pair === pair).length).toBeGreaterThan(20)
    // seq is OKX's seqId: numeric and strictly increasing per pair.
    for (const pair of PAIRS) {
      const seqs = ticks.filter((t) => t.pair === pair).map((t) => Number(t.seq))
      expect(seqs.every((s, i) => Number.isSafeInteger(s) && (i === 0 || s > seqs[i - 1]!))).toBe(true)
    }
    // Stop the market; every push sent before the close frame reaches the feed before the close.
    const market = sim!.market
    await sim!.close()
    sim = undefined
    await eventually(() => (feed.status() === 'disconnected' ? true : undefined), 5000, 'the feed to see the close')
    for (const pair of PAIRS) {
      const book = market.book('okx', pair)!
      const level = (l: { price: number; size: number }) => [
        Number(toDecimalString(l.price, book.priceDecimals)),
        Number(toDecimalString(l.size, SIZE_DECIMALS)),
      ]
      const tick = lastOf(ticks, pair)!
      expect(tick.bids).toEqual(book.bids.slice(0, 10).map(level))
      expect(tick.asks).toEqual(book.asks.slice(0, 10).map(level))
    }
  })

  it('with checksums: every REST sync and every update verifies against the simulated book', async () => {
    const { feed, ticks } = await start({ checksums: true })
    clean(feed.counters)
    expect(feed.counters.snapshots).toBe(PAIRS.length)
    for (const pair of PAIRS) expect(ticks.filter((t) => t.pair === pair).length).toBeGreaterThan(20)
  })

  it('with the pre-2026 WS snapshot and checksums: no REST request, every push verifies', async () => {
    const { feed, ticks } = await start({ wsSnapshot: true, checksums: true })
    clean(feed.counters)
    expect(feed.counters.snapshots).toBe(0)
    for (const pair of PAIRS) expect(ticks.filter((t) => t.pair === pair).length).toBeGreaterThan(20)
  })

  it('answers ping with pong, refuses unknown instruments, serves the REST book with its seqId', async () => {
    sim = await startSimulator({
      config: parseConfig(SimulatorConfig, { PORT: '0', TICK_MS: '20', PAIRS: 'BTC-EUR' }),
      log,
      exchanges: [okxExchange()],
    })
    const ws = new WebSocket(`${sim.endpoints[0]!.url}/ws/v5/public`)
    const received: string[] = []
    ws.on('message', (data) => received.push(String(data)))
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send('ping')
    ws.send(JSON.stringify({ id: '7', op: 'subscribe', args: [{ channel: 'books', instId: 'DOGE-XYZ' }] }))
    ws.send(JSON.stringify({ id: '8', op: 'subscribe', args: [{ channel: 'books', instId: 'BTC-EUR' }] }))
    await eventually(() => (received.length >= 4 ? true : undefined), 5000, 'replies and a push')
    ws.close()
    expect(received[0]).toBe('pong')
    expect(JSON.parse(received[1]!)).toMatchObject({ id: '7', event: 'error', code: '60018' })
    expect(JSON.parse(received[2]!)).toEqual({
      id: '8',
      event: 'subscribe',
      arg: { channel: 'books', instId: 'BTC-EUR' },
      connId: expect.stringMatching(/^[0-9a-f]{8}$/),
    })
    const push = JSON.parse(received[3]!) as { action: string; data: { checksum: number; seqId: number }[] }
    expect(push).toMatchObject({ arg: { channel: 'books', instId: 'BTC-EUR' }, action: 'update' })
    expect(push.data[0]!.checksum).toBe(0)

    const res = await fetch(`${sim.httpUrl}/okx/api/v5/market/books?instId=BTC-EUR&sz=5`)
    const body = (await res.json()) as { code: string; data: { asks: string[][]; bids: string[][]; seqId: number }[] }
    expect(body.code).toBe('0')
    expect(body.data[0]!.asks).toHaveLength(5)
    expect(body.data[0]!.bids[0]).toEqual([
      expect.stringMatching(/^\d+(\.\d+)?$/),
      expect.any(String),
      '0',
      expect.any(String),
    ])
    expect(body.data[0]!.seqId).toBeGreaterThanOrEqual(push.data[0]!.seqId)
    const unknown = await fetch(`${sim.httpUrl}/okx/api/v5/market/books?instId=DOGE-XYZ`)
    expect(await unknown.json()).toMatchObject({ code: '51001', data: [] })
  })
})
