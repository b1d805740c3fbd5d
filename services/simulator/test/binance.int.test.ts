import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tickDecoder, type Level } from '@arb/contracts'
import { binance as binanceAdapter } from '@arb/exchanges'
import type { Simulator } from '../src/simulator.js'
import { binance } from '../src/protocols/index.js'
import { connect, runFeedAgainst, sleep, startOne, wsUrlOf } from './helpers.js'

// The real Binance adapter, driven by the real feed, against the simulator's WebSocket streams and
// REST snapshot: the path production takes against stream.binance.com and api.binance.com.

const PAIRS = ['BTC-EUR', 'ETH-EUR']
const RUN_MS = 3000

interface Depth {
  U: number
  u: number
  E: number
  s: string
  b: [string, string][]
  a: [string, string][]
}

/**
 * A book kept the way the order-book page describes it, by price text, written independently of
 * the adapter: the snapshot, then every diff with `u` past it, `U` checked against the book's id.
 */
class WireBook {
  readonly bids = new Map<string, string>()
  readonly asks = new Map<string, string>()
  id: number
  constructor(snapshot: { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] }) {
    for (const [p, q] of snapshot.bids) this.bids.set(p, q)
    for (const [p, q] of snapshot.asks) this.asks.set(p, q)
    this.id = snapshot.lastUpdateId
  }
  apply(e: Depth): boolean {
    if (e.u <= this.id) return false
    expect(e.U, 'a diff event was skipped').toBeLessThanOrEqual(this.id + 1)
    for (const [side, levels] of [
      [this.bids, e.b],
      [this.asks, e.a],
    ] as const) {
      for (const [p, q] of levels) {
        expect(p).toMatch(/^\d+\.\d{8}$/)
        expect(q).toMatch(/^\d+\.\d{8}$/)
        if (Number(q) === 0) side.delete(p)
        else side.set(p, q)
      }
    }
    this.id = e.u
    return true
  }
  top(): { bids: Level[]; asks: Level[] } {
    const sorted = (m: Map<string, string>, dir: number): Level[] =>
      [...m]
        .map(([p, q]): Level => [Number(p), Number(q)])
        .sort((x, y) => dir * (x[0] - y[0]))
        .slice(0, 10)
    return { bids: sorted(this.bids, -1), asks: sorted(this.asks, 1) }
  }
}

describe('binance simulator', () => {
  let sim: Simulator
  let wsUrl: string
  let restUrl: string

  beforeAll(async () => {
    sim = await startOne(binance, PAIRS)
    wsUrl = wsUrlOf(sim, 'binance')
    restUrl = `${sim.httpUrl}/binance`
  })
  afterAll(() => sim.close())

  it('speaks the documented wire: SUBSCRIBE ack, gap-free 100 ms and 1 s diffs, list, errors, REST depth', async () => {
    expect(wsUrl).toBe(`ws://127.0.0.1:${sim.port}/binance`)
    const c = await connect(`${wsUrl}/ws`)
    c.send({ method: 'SUBSCRIBE', params: ['btceur@depth@100ms', 'etheur@depth'], id: 1 })
    await sleep(1500)
    c.send({ method: 'LIST_SUBSCRIPTIONS', id: 3 })
    c.send({ method: 'PING', id: 4 })
    c.send({ method: 'SUBSCRIBE', params: ['btceur@depth'], id: -1.5 })
    c.send('not json')
    await sleep(200)
    const msgs = c.msgs()
    expect(msgs[0]).toEqual({ result: null, id: 1 })
    expect(msgs).toContainEqual({ result: ['btceur@depth@100ms', 'etheur@depth'], id: 3 })
    expect(msgs).toContainEqual({
      code: 2,
      msg: 'Invalid request: unknown variant `PING`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`',
    })
    expect(msgs).toContainEqual({ code: 2, msg: 'Invalid request: request ID must be an unsigned integer' })
    expect(msgs).toContainEqual({ code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' })

    const events = msgs.filter((m) => m['e'] === 'depthUpdate') as unknown as Depth[]
    const btc = events.filter((e) => e.s === 'BTCEUR')
    const eth = events.filter((e) => e.s === 'ETHEUR')
    // 100 ms for btceur (about 14 in 1.5 s), 1000 ms for etheur (one or two).
    expect(btc.length).toBeGreaterThanOrEqual(8)
    expect(eth.length).toBeGreaterThanOrEqual(1)
    expect(eth.length).toBeLessThanOrEqual(2)
    for (const list of [btc, eth]) {
      for (let i = 0; i < list.length; i++) {
        expect(list[i]!.U).toBeLessThanOrEqual(list[i]!.u)
        if (i > 0) expect(list[i]!.U).toBe(list[i - 1]!.u + 1)
      }
    }
    expect(Object.keys(btc[0]!)).toEqual(['e', 'E', 's', 'U', 'u', 'b', 'a'])
    expect(Math.abs(btc[0]!.E - Date.now())).toBeLessThan(5000)

    const res = await fetch(`${restUrl}/api/v3/depth?symbol=BTCEUR&limit=5`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] }
    expect(Object.keys(body)).toEqual(['lastUpdateId', 'bids', 'asks'])
    expect(body.bids).toHaveLength(5)
    expect(body.asks).toHaveLength(5)
    expect(body.lastUpdateId).toBeGreaterThanOrEqual(btc.at(-1)!.u)
    expect(Number(body.bids[0]![0])).toBeLessThan(Number(body.asks[0]![0]))
    // BTC in euros on a 0.01 grid, printed with 8 decimals.
    expect(body.bids[0]![0]).toMatch(/^\d{5,6}\.\d{2}000000$/)
    expect((await fetch(`${restUrl}/api/v3/depth?symbol=BTCEUR`).then((r) => r.json())) as unknown).toMatchObject({
      bids: expect.any(Array),
    })
    const unknown = await fetch(`${restUrl}/api/v3/depth?symbol=FOOBAR`)
    expect(unknown.status).toBe(400)
    expect(await unknown.json()).toEqual({ code: -1121, msg: 'Invalid symbol.' })
    expect((await fetch(`${restUrl}/api/v3/depth`)).status).toBe(400)
    expect((await fetch(`${restUrl}/api/v3/ticker`)).status).toBe(404)
    await c.close()
  })

  it('serves a raw stream named in the path, and closes unknown paths with 4404', async () => {
    const raw = await connect(`${wsUrl}/ws/btceur@depth@100ms`)
    await sleep(400)
    expect(raw.msgs().filter((m) => m['e'] === 'depthUpdate').length).toBeGreaterThanOrEqual(2)
    await raw.close()
    for (const path of ['/ws/foobar@depth', '/ws/btceur@trade', '/stream2']) {
      const c = await connect(`${wsUrl}${path}`)
      expect(await c.closed).toBe(4404)
    }
  })

  it('syncs the real adapter through the real feed: ticks, no resyncs or errors, the same book as the wire', async () => {
    // An independent observer of the same streams: its book is rebuilt from the wire alone.
    const observer = await connect(`${wsUrl}/ws`)
    observer.send({ method: 'SUBSCRIBE', params: ['btceur@depth@100ms', 'etheur@depth@100ms'], id: 7 })
    await sleep(50)
    const observed = new Map<string, Awaited<ReturnType<typeof fetch>>>()
    for (const sym of ['BTCEUR', 'ETHEUR']) observed.set(sym, await fetch(`${restUrl}/api/v3/depth?symbol=${sym}`))

    const { ticks, running } = await runFeedAgainst(sim, binanceAdapter, PAIRS, RUN_MS)
    expect(running.status).toBe('connected')
    // Syncing while a snapshot is pending (both pairs' usually in one go), never disconnected.
    expect(running.statuses.slice(0, 3)).toEqual(['connecting', 'connected', 'syncing'])
    expect(running.statuses.at(-1)).toBe('connected')
    expect(running.statuses).not.toContain('disconnected')
    expect(running.counters).toMatchObject({
      snapshots: 2,
      snapshotFailures: 0,
      rateLimited: 0,
      resyncs: 0,
      errors: 0,
      malformed: 0,
      reconnects: 0,
    })
    for (const pair of PAIRS) {
      expect(ticks.filter((t) => t.pair === pair).length, pair).toBeGreaterThan(10)
    }
    for (const t of ticks) expect(tickDecoder.check(t)).toBe(true)

    // The observer's book after each event, by update id, compared with the adapter's ticks.
    const tops = new Map<string, { bids: Level[]; asks: Level[] }>()
    for (const [sym, res] of observed) {
      const book = new WireBook((await res.json()) as ConstructorParameters<typeof WireBook>[0])
      for (const m of observer.msgs()) {
        const e = m as unknown as Depth
        if (m['e'] !== 'depthUpdate' || e.s !== sym) continue
        if (book.apply(e)) tops.set(`${sym}:${e.u}`, book.top())
      }
    }
    await observer.close()
    let compared = 0
    for (const t of ticks) {
      const top = tops.get(`${t.pair.replace('-', '')}:${t.seq}`)
      if (top === undefined) continue
      expect({ bids: t.bids, asks: t.asks }, `${t.pair} at ${t.seq}`).toEqual(top)
      compared++
    }
    // Every tick after the observer's snapshot has a matching wire state.
    expect(compared).toBeGreaterThan(20)
    expect(compared).toBeGreaterThanOrEqual(ticks.length - 2)
  })
})
