import { describe, expect, it } from 'vitest'
import { tickDecoder, type Level } from '@arb/contracts'
import { gemini as geminiAdapter } from '@arb/exchanges'
import { gemini } from '../src/protocols/index.js'
import { connect, runFeedAgainst, sleep, startOne, topOf, wsUrlOf } from './helpers.js'

// The real Gemini adapter, driven by the real feed, against the simulator's Gemini v2 wire on port 0.

const PAIRS = ['BTC-EUR', 'BTC-USD']
const SYMBOLS = ['BTCEUR', 'BTCUSD']

const start = () => startOne(gemini, PAIRS)

/** A v2 book kept by an independent reader of the wire, by exact price text. */
class WireBook {
  readonly bids = new Map<string, string>()
  readonly asks = new Map<string, string>()
  apply(changes: [string, string, string][]) {
    for (const [side, price, qty] of changes) {
      expect(side === 'buy' || side === 'sell').toBe(true)
      expect(price).toMatch(/^\d+\.\d{2}$/)
      // Gemini prints quantities without trailing zeros.
      expect(qty).toMatch(/^(0|[1-9]\d*)(\.\d*[1-9])?$/)
      const levels = side === 'buy' ? this.bids : this.asks
      if (Number(qty) === 0) levels.delete(price)
      else levels.set(price, qty)
    }
  }
  top() {
    const order = (m: Map<string, string>, dir: number): Level[] =>
      [...m]
        .map(([p, q]): Level => [Number(p), Number(q)])
        .sort((a, b) => dir * (a[0] - b[0]))
        .slice(0, 10)
    return { bids: order(this.bids, -1), asks: order(this.asks, 1) }
  }
}

describe('Gemini v2 simulator', () => {
  it('feeds the real adapter through runFeed: ticks for both pairs, no resync, no error, books equal to the wire', async () => {
    const sim = await start()
    const url = wsUrlOf(sim, 'gemini')
    expect(url).toBe(`ws://127.0.0.1:${sim.port}/gemini`)
    const raw = await connect(url)
    raw.send(geminiAdapter.subscribe(PAIRS)[0])
    // Past one 5 s heartbeat.
    const { feed, ticks, running } = await runFeedAgainst(sim, geminiAdapter, PAIRS, 5600, {
      // Stops the market, then closes the sockets after everything already sent.
      beforeStop: async () => {
        await sim.close()
        await raw.closed
      },
    })
    expect(running.status).toBe('connected')
    expect(feed.counters).toMatchObject({ resyncs: 0, errors: 0, malformed: 0, staleTimeouts: 0 })
    for (const t of ticks) expect(tickDecoder.check(t), JSON.stringify(t)).toBe(true)
    const frames = raw.msgs()
    const wire = new Map(SYMBOLS.map((s) => [s, new WireBook()]))
    const initials = new Set<string>()
    let updates = 0
    for (const m of frames) {
      if (m['type'] !== 'l2_updates') continue
      const symbol = m['symbol'] as string
      if (Array.isArray(m['trades'])) {
        expect(m['auction_events']).toEqual([])
        expect(initials.has(symbol)).toBe(false)
        initials.add(symbol)
      } else {
        expect(initials.has(symbol), 'diff before the initial book').toBe(true)
        updates += 1
      }
      wire.get(symbol)!.apply(m['changes'] as [string, string, string][])
    }
    expect([...initials].sort()).toEqual(SYMBOLS)
    expect(updates).toBeGreaterThan(50)
    const kinds = new Set(frames.map((m) => m['type']))
    expect([...kinds].sort()).toEqual(['heartbeat', 'l2_updates', 'trade'])

    for (const [i, pair] of PAIRS.entries()) {
      const mine = ticks.filter((t) => t.pair === pair)
      expect(mine.length, pair).toBeGreaterThan(20)
      expect(mine.every((t) => t.exchange === 'gemini' && t.exchangeTs === null)).toBe(true)
      const last = mine.at(-1)!
      const book = sim.market.book('gemini', pair)!
      expect(book.symbol).toBe(SYMBOLS[i])
      expect({ bids: last.bids, asks: last.asks }).toEqual(topOf(book))
      expect({ bids: last.bids, asks: last.asks }).toEqual(wire.get(SYMBOLS[i]!)!.top())
    }
  })

  it('sends no ack, one initial book per symbol, and refuses what it cannot serve', async () => {
    const sim = await start()
    const url = wsUrlOf(sim, 'gemini')
    try {
      const c = await connect(`${url}/v2/marketdata`)
      c.send({ type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['BTCUSD'] }] })
      // Subscribing again to the same symbol does not resend its book.
      c.send({ type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['BTCUSD', 'BTCEUR'] }] })
      await sleep(400)
      const msgs = c.msgs()
      const first = msgs[0]!
      expect(first).toMatchObject({ type: 'l2_updates', symbol: 'BTCUSD', auction_events: [] })
      expect(Array.isArray(first['trades'])).toBe(true)
      const changes = first['changes'] as [string, string, string][]
      const bids = changes.filter((ch) => ch[0] === 'buy').map((ch) => Number(ch[1]))
      const asks = changes.filter((ch) => ch[0] === 'sell').map((ch) => Number(ch[1]))
      expect(bids).toEqual([...bids].sort((a, b) => b - a))
      expect(asks).toEqual([...asks].sort((a, b) => a - b))
      expect(bids[0]!).toBeLessThan(asks[0]!)
      const initials = msgs.filter((m) => Array.isArray(m['trades'])).map((m) => m['symbol'])
      expect(initials).toEqual(['BTCUSD', 'BTCEUR'])
      c.send({ type: 'unsubscribe', subscriptions: [{ name: 'l2', symbols: ['BTCUSD', 'BTCEUR'] }] })
      await sleep(100)
      const after = c.raws.length
      await sleep(300)
      const late = c.msgs().slice(after)
      expect(late.filter((m) => m['type'] === 'l2_updates')).toEqual([])
      await c.close()

      const unknown = await connect(url)
      unknown.send({ type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['FOOBAR'] }] })
      expect(await unknown.closed).toBe(1008)
      const candles = await connect(url)
      candles.send({ type: 'subscribe', subscriptions: [{ name: 'candles_1m', symbols: ['BTCUSD'] }] })
      expect(await candles.closed).toBe(1008)
      const notFound = await connect(`${url}/v1/marketdata/BTCUSD`)
      expect(await notFound.closed).toBe(4404)
    } finally {
      await sim.close()
    }
  })
})
