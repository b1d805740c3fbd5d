import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tickDecoder, type Level } from '@arb/contracts'
import { bitstamp as bitstampAdapter } from '@arb/exchanges'
import type { Simulator } from '../src/simulator.js'
import { bitstamp } from '../src/protocols/index.js'
import { connect, runFeedAgainst, sleep, startOne, wsUrlOf, type FeedRun } from './helpers.js'

// The real Bitstamp adapter, driven by the real feed, against the simulator's WebSocket and REST
// snapshot: the same path production takes against ws.bitstamp.net and www.bitstamp.net.

const PAIRS = ['BTC-EUR', 'ETH-EUR', 'BTC-USD']
const RUN_MS = 3000

interface RestBook {
  microtimestamp: string
  bids: [string, string][]
  asks: [string, string][]
}

const top10 = (levels: [string, string][]): Level[] => levels.slice(0, 10).map(([p, s]) => [Number(p), Number(s)])

describe('bitstamp simulator', () => {
  let sim: Simulator
  let wsUrl: string
  let restUrl: string

  beforeAll(async () => {
    sim = await startOne(bitstamp, PAIRS)
    wsUrl = wsUrlOf(sim, 'bitstamp')
    restUrl = `${sim.httpUrl}/bitstamp`
  })
  afterAll(() => sim.close())

  it('speaks the captured wire: ack, diffs with rising microtimestamps, heartbeat reply, errors, REST book', async () => {
    const c = await connect(wsUrl)
    c.send('{"event":"bts:subscribe","data":{"channel":"diff_order_book_btceur"}}')
    c.send('{"event":"bts:subscribe","data":{"channel":"diff_order_book_dogeeur"}}')
    c.send('{"event":"bts:heartbeat"}')
    c.send('not json')
    await sleep(500)
    const frames = c.msgs()
    await c.close()
    expect(frames[0]).toEqual({ event: 'bts:subscription_succeeded', channel: 'diff_order_book_btceur', data: {} })
    const controls = frames.filter((f) => f['event'] !== 'data')
    expect(controls.slice(1)).toEqual([
      {
        event: 'bts:error',
        channel: '',
        data: { code: null, message: 'Bad subscription string: diff_order_book_dogeeur.' },
      },
      { event: 'bts:heartbeat', channel: '', data: { status: 'success' } },
      { event: 'bts:error', channel: '', data: { code: null, message: 'Incorrect JSON format.' } },
    ])
    const diffs = frames.filter((f) => f['event'] === 'data')
    expect(diffs.length).toBeGreaterThan(5)
    let last = 0
    for (const d of diffs) {
      expect(Object.keys(d)).toEqual(['data', 'channel', 'event'])
      expect(d['channel']).toBe('diff_order_book_btceur')
      const data = d['data'] as RestBook & { timestamp: string }
      expect(data.microtimestamp).toMatch(/^\d{16}$/)
      expect(data.timestamp).toBe(data.microtimestamp.slice(0, 10))
      expect(Number(data.microtimestamp)).toBeGreaterThan(last)
      last = Number(data.microtimestamp)
      for (const [p, a] of [...data.bids, ...data.asks]) {
        expect(p).toMatch(/^\d+\.\d{2}$/)
        expect(a).toMatch(/^\d+\.\d{8}$/)
      }
    }

    const res = await fetch(`${restUrl}/api/v2/order_book/btceur/`)
    expect(res.status).toBe(200)
    const book = (await res.json()) as RestBook
    expect(Number(book.microtimestamp)).toBeGreaterThanOrEqual(last)
    expect(book.bids.length).toBe(bitstamp.profile.depth)
    expect(Number(book.bids[0]![0])).toBeLessThan(Number(book.asks[0]![0]))
    expect(Number(book.bids[0]![0])).toBeGreaterThan(Number(book.bids[1]![0]))
    expect(Number(book.asks[0]![0])).toBeLessThan(Number(book.asks[1]![0]))
    expect((await fetch(`${restUrl}/api/v2/order_book/dogeeur/`)).status).toBe(404)
  })

  describe('the real adapter through runFeed', () => {
    let run: FeedRun
    const restBooks = new Map<string, RestBook>()

    beforeAll(async () => {
      run = await runFeedAgainst(sim, bitstampAdapter, PAIRS, RUN_MS, {
        // Read while the feed runs, so its ticks up to each book's microtimestamp can be found.
        beforeStop: async () => {
          for (const pair of PAIRS) {
            const res = await fetch(bitstampAdapter.snapshotUrl!(pair, restUrl))
            restBooks.set(pair, (await res.json()) as RestBook)
          }
          // Let the diffs up to those moments reach the adapter.
          await sleep(200)
        },
      })
    })

    it('syncs every pair from one REST snapshot each and ticks with no resync, error or reconnect', () => {
      expect(run.running.status).toBe('connected')
      expect(run.running.counters).toMatchObject({
        resyncs: 0,
        errors: 0,
        malformed: 0,
        reconnects: 0,
        staleTimeouts: 0,
        snapshots: PAIRS.length,
        snapshotFailures: 0,
        rateLimited: 0,
      })
      for (const pair of PAIRS) {
        const mine = run.ticks.filter((t) => t.pair === pair)
        // A step every 20 ms moves the top of most books; well over one tick a second either way.
        expect(mine.length, pair).toBeGreaterThan(RUN_MS / 1000 / 0.2)
        expect(new Set(mine.map((t) => t.seq)).size, pair).toBe(mine.length)
      }
      for (const t of run.ticks) {
        expect(tickDecoder.check(t)).toBe(true)
        expect(t.exchange).toBe('bitstamp')
      }
    })

    it("builds the same top 10 as the simulator's REST book at the same microtimestamp", () => {
      for (const pair of PAIRS) {
        const book = restBooks.get(pair)!
        const atMs = Math.floor(Number(book.microtimestamp) / 1000)
        const upTo = run.ticks.filter((t) => t.pair === pair && t.exchangeTs !== null && t.exchangeTs <= atMs)
        const last = upTo.at(-1)
        expect(last, pair).toBeDefined()
        expect(last!.bids, pair).toEqual(top10(book.bids))
        expect(last!.asks, pair).toEqual(top10(book.asks))
      }
    })
  })
})
