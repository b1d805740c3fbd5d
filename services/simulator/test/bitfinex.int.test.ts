import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { tickDecoder, type Level, type Tick } from '@arb/contracts'
import { bitfinex as bitfinexAdapter } from '@arb/exchanges'
import { bitfinex } from '../src/protocols/bitfinex.js'
import { connect, runFeedAgainst, sleep, startOne, topOf, wsUrlOf, type Msg } from './helpers.js'

// The real Bitfinex adapter, driven by the real feed, against the simulator's Bitfinex v2 wire on port 0.

const PAIRS = ['BTC-EUR', 'BTC-USD']
const SYMBOLS = ['tBTCEUR', 'tBTCUSD']

const start = () => startOne(bitfinex, PAIRS)

// `[PRICE,COUNT,AMOUNT]` with the number texts as sent.
const LEVEL = /\[(-?[\d.e-]+),(\d+),(-?[\d.e-]+)\]/g

/** A P0 book kept by an independent reader of the wire: price text → signed amount text. */
class WireBook {
  readonly bids = new Map<string, string>()
  readonly asks = new Map<string, string>()
  apply(text: string) {
    for (const [, price, count, amount] of text.matchAll(LEVEL)) {
      const side = Number(amount) > 0 ? this.bids : this.asks
      if (count === '0') side.delete(price!)
      else side.set(price!, amount!)
    }
  }
  #sorted(side: Map<string, string>, dir: number) {
    return [...side].sort((a, b) => dir * (Number(a[0]) - Number(b[0])))
  }
  /** Checksum page: top 25 bids and asks interleaved, `price:amount`, signed CRC32. */
  checksum() {
    const bids = this.#sorted(this.bids, -1)
    const asks = this.#sorted(this.asks, 1)
    const parts: string[] = []
    for (let i = 0; i < 25; i++) {
      if (bids[i]) parts.push(...bids[i]!)
      if (asks[i]) parts.push(...asks[i]!)
    }
    return crc32(parts.join(':')) | 0
  }
  top() {
    const levels = (side: Map<string, string>, dir: number): Level[] =>
      this.#sorted(side, dir)
        .slice(0, 10)
        .map(([p, a]): Level => [Number(p), Math.abs(Number(a))])
    return { bids: levels(this.bids, -1), asks: levels(this.asks, 1) }
  }
}

describe('Bitfinex v2 simulator', () => {
  it('feeds the real adapter through runFeed: ticks for both pairs, no resync, no error, books equal to the wire', async () => {
    const sim = await start()
    const url = wsUrlOf(sim, 'bitfinex')
    expect(url).toBe(`ws://127.0.0.1:${sim.port}/bitfinex`)
    const raw = await connect(url)
    for (const frame of bitfinexAdapter.subscribe(PAIRS)) raw.send(frame)
    const { feed, ticks, running } = await runFeedAgainst(sim, bitfinexAdapter, PAIRS, 3000, {
      // Stops the market, then closes the sockets after everything already sent.
      beforeStop: async () => {
        await sim.close()
        await raw.closed
      },
    })
    expect(running.status).toBe('connected')
    expect(feed.counters).toMatchObject({ resyncs: 0, errors: 0, malformed: 0, staleTimeouts: 0 })
    for (const t of ticks) expect(tickDecoder.check(t), JSON.stringify(t)).toBe(true)

    // The wire, read independently: acks, one connection-wide sequence, a verifying cs after every book message.
    const msgs = raw.msgs<unknown>()
    expect(msgs[0]).toMatchObject({ event: 'info', version: 2, platform: { status: 1 } })
    expect(msgs[1]).toEqual({ event: 'conf', status: 'OK', flags: 196_608 })
    const acks = msgs.filter((m): m is Msg => !Array.isArray(m) && (m as Msg)['event'] === 'subscribed')
    expect(acks.map((a) => a['symbol'])).toEqual(SYMBOLS)
    for (const a of acks) expect(a).toMatchObject({ channel: 'book', prec: 'P0', freq: 'F0', len: '25' })
    const symbolOf = new Map(acks.map((a) => [a['chanId'] as number, a['symbol'] as string]))
    const wire = new Map(SYMBOLS.map((s) => [s, new WireBook()]))
    let seq = 0
    let checksums = 0
    let updates = 0
    let pendingCs = false
    for (const text of raw.raws) {
      const m = JSON.parse(text) as unknown
      if (!Array.isArray(m)) continue
      expect(m.at(-1), 'sequence').toBe(++seq)
      const book = wire.get(symbolOf.get(m[0] as number)!)!
      if (m[1] === 'cs') {
        expect(m[2]).toBe(book.checksum())
        checksums += 1
        pendingCs = false
        continue
      }
      expect(pendingCs, 'a book message without its checksum').toBe(false)
      if (!Array.isArray(m[1]![0])) updates += 1
      book.apply(text.slice(text.indexOf(',') + 1, text.lastIndexOf(',')))
      expect(book.bids.size).toBeLessThanOrEqual(25)
      expect(book.asks.size).toBeLessThanOrEqual(25)
      pendingCs = true
    }
    expect(updates).toBeGreaterThan(50)
    expect(checksums).toBe(updates + 2)

    // The same frames through a fresh session: never a resync, and the wire's books.
    const session = bitfinexAdapter.createSession(PAIRS)
    const replayed: Tick[] = []
    for (const text of raw.raws) {
      const r = session.onFrame(JSON.parse(text), 0, text)
      expect(['ticks', 'control'], JSON.stringify(r)).toContain(r.kind)
      if (r.kind === 'ticks') replayed.push(...r.ticks)
    }

    for (const [i, pair] of PAIRS.entries()) {
      const mine = ticks.filter((t) => t.pair === pair)
      expect(mine.length, pair).toBeGreaterThan(20)
      expect(mine.every((t) => t.exchange === 'bitfinex' && t.exchangeTs === null)).toBe(true)
      const last = mine.at(-1)!
      const book = sim.market.book('bitfinex', pair)!
      expect(book.symbol).toBe(SYMBOLS[i])
      expect({ bids: last.bids, asks: last.asks }).toEqual(topOf(book))
      const lastReplayed = replayed.filter((t) => t.pair === pair).at(-1)!
      expect({ bids: lastReplayed.bids, asks: lastReplayed.asks }).toEqual(wire.get(SYMBOLS[i]!)!.top())
      expect({ bids: lastReplayed.bids, asks: lastReplayed.asks }).toEqual(topOf(book))
    }
  })

  it('answers ping, refuses what it cannot serve, and sends no sequence numbers or checksums without conf', async () => {
    const sim = await start()
    const url = wsUrlOf(sim, 'bitfinex')
    try {
      const c = await connect(`${url}/ws/2`)
      const sub = { event: 'subscribe', channel: 'book', symbol: 'tBTCUSD', prec: 'P0', freq: 'F0', len: '25' }
      c.send({ event: 'ping', cid: 1234 })
      c.send({ ...sub, subId: 7 })
      c.send(sub)
      c.send({ ...sub, symbol: 'tFOOBAR' })
      c.send({ ...sub, symbol: 'tBTCEUR', prec: 'P1' })
      c.send({ ...sub, symbol: 'tBTCEUR', len: '30' })
      c.send({ ...sub, channel: 'trades' })
      c.send({ event: 'nosuchevent' })
      await sleep(300)
      const msgs = c.msgs<unknown>()
      const events = msgs.filter((m): m is Msg => !Array.isArray(m))
      expect(events[0]).toMatchObject({ event: 'info', version: 2 })
      expect(events[1]).toMatchObject({ event: 'pong', cid: 1234 })
      expect(events[2]).toMatchObject({ event: 'subscribed', channel: 'book', symbol: 'tBTCUSD', subId: 7 })
      expect(events.slice(3).map((e) => [e['event'], e['code']])).toEqual([
        ['error', 10301],
        ['error', 10001],
        ['error', 10011],
        ['error', 10012],
        ['error', 10300],
        ['error', 10000],
      ])
      // Without conf: `[chanId, payload]`, no trailing sequence number and no `cs`.
      const channel = msgs.filter((m): m is unknown[] => Array.isArray(m))
      expect(channel.length).toBeGreaterThan(1)
      for (const m of channel) {
        expect(m).toHaveLength(2)
        expect(m[1]).not.toBe('cs')
      }
      const [snapshot] = channel
      const levels = snapshot![1] as [number, number, number][]
      const bids = levels.filter((l) => l[2] > 0)
      const asks = levels.filter((l) => l[2] < 0)
      expect(bids).toHaveLength(25)
      expect(asks).toHaveLength(25)
      expect(bids.map((l) => l[0])).toEqual([...bids.map((l) => l[0])].sort((a, b) => b - a))
      expect(asks.map((l) => l[0])).toEqual([...asks.map((l) => l[0])].sort((a, b) => a - b))
      expect(bids[0]![0]).toBeLessThan(asks[0]![0])
      for (const l of levels) expect(Number.isInteger(l[0]) && l[1] >= 1).toBe(true)
      await c.close()
      const notFound = await connect(`${url}/ws/1`)
      expect(await notFound.closed).toBe(4404)
    } finally {
      await sim.close()
    }
  })
})
