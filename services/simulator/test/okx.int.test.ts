import { afterEach, describe, expect, it } from 'vitest'
import type { Tick } from '@arb/contracts'
import { okx as okxAdapter, type Feed, type FeedCounters } from '@arb/exchanges'
import { eventually } from '@arb/testkit'
import { okxExchange, type OkxOptions } from '../src/protocols/index.js'
import type { Simulator } from '../src/simulator.js'
import { connect, runFeedAgainst, startOne, topOf, wsUrlOf } from './helpers.js'

// The real OKX adapter, driven by the real feed, against the simulator's OKX wire (WebSocket + REST).

const PAIRS = ['BTC-EUR', 'BTC-USDT']
const RUN_MS = 2500

let sim: Simulator | undefined

afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const start = async (options: OkxOptions, beforeStop?: (feed: Feed) => Promise<void>) => {
  const started = await startOne(okxExchange(options), PAIRS)
  sim = started
  const run = await runFeedAgainst(started, okxAdapter, PAIRS, RUN_MS, { path: '/ws/v5/public', beforeStop })
  return { ...run, market: started.market }
}

const clean = (counters: Readonly<FeedCounters>) =>
  expect(counters).toMatchObject({ resyncs: 0, errors: 0, malformed: 0, reconnects: 0, staleTimeouts: 0 })

const lastOf = (ticks: readonly Tick[], pair: string) => ticks.filter((t) => t.pair === pair).at(-1)

describe('simulated OKX against the real adapter', () => {
  it('production wire (no WS snapshot, checksum 0): books start from REST and match the simulator', async () => {
    const { ticks, running, market } = await start({}, async (feed) => {
      // Stop the market; every push sent before the close frame reaches the feed before the close.
      await sim!.close()
      sim = undefined
      await eventually(() => (feed.status() === 'disconnected' ? true : undefined), 5000, 'the feed to see the close')
    })
    clean(running.counters)
    expect(running.counters.snapshots).toBe(PAIRS.length)
    expect(running.status).toBe('connected')
    for (const pair of PAIRS) expect(ticks.filter((t) => t.pair === pair).length).toBeGreaterThan(20)
    // seq is OKX's seqId: numeric and strictly increasing per pair.
    for (const pair of PAIRS) {
      const seqs = ticks.filter((t) => t.pair === pair).map((t) => Number(t.seq))
      expect(seqs.every((s, i) => Number.isSafeInteger(s) && (i === 0 || s > seqs[i - 1]!))).toBe(true)
    }
    for (const pair of PAIRS) {
      const tick = lastOf(ticks, pair)!
      expect({ bids: tick.bids, asks: tick.asks }).toEqual(topOf(market.book('okx', pair)!))
    }
  })

  it('with checksums: every REST sync and every update verifies against the simulated book', async () => {
    const { ticks, running } = await start({ checksums: true })
    clean(running.counters)
    expect(running.counters.snapshots).toBe(PAIRS.length)
    for (const pair of PAIRS) expect(ticks.filter((t) => t.pair === pair).length).toBeGreaterThan(20)
  })

  it('with the pre-2026 WS snapshot and checksums: no REST request, every push verifies', async () => {
    const { ticks, running } = await start({ wsSnapshot: true, checksums: true })
    clean(running.counters)
    expect(running.counters.snapshots).toBe(0)
    for (const pair of PAIRS) expect(ticks.filter((t) => t.pair === pair).length).toBeGreaterThan(20)
  })

  it('answers ping with pong, refuses unknown instruments, serves the REST book with its seqId', async () => {
    sim = await startOne(okxExchange(), ['BTC-EUR'])
    const c = await connect(`${wsUrlOf(sim, 'okx')}/ws/v5/public`)
    c.send('ping')
    c.send({ id: '7', op: 'subscribe', args: [{ channel: 'books', instId: 'DOGE-XYZ' }] })
    c.send({ id: '8', op: 'subscribe', args: [{ channel: 'books', instId: 'BTC-EUR' }] })
    await eventually(() => (c.raws.length >= 4 ? true : undefined), 5000, 'replies and a push')
    await c.close()
    const received = c.raws
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
