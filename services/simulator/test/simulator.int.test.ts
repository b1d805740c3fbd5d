import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { crc32 } from 'node:zlib'
import { WebSocket } from 'ws'
import { parseConfig, SimulatorConfig } from '@arb/contracts'
import { createLogger } from '@arb/observability'
import { startSimulator, type Simulator } from '../src/simulator.js'
import {
  bl3p as bl3pExchange,
  coinbase as coinbaseExchange,
  EXCHANGES,
  type SimulatedExchange,
} from '../src/protocols/index.js'

// Real simulator on port 0, real `ws` clients: the same wire the ingestors' adapters read.

type Msg = Record<string, unknown>
const log = createLogger({ service: 'simulator-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })

const start = (env: Record<string, string>, subscribeTimeoutMs?: number, exchanges?: readonly SimulatedExchange[]) =>
  startSimulator({
    config: parseConfig(SimulatorConfig, { PORT: '0', ...env }),
    log,
    ...(subscribeTimeoutMs ? { subscribeTimeoutMs } : {}),
    ...(exchanges ? { exchanges } : {}),
  })

/** Connects and queues every frame, so a test reads them strictly in arrival order. */
const connect = async (url: string) => {
  const ws = new WebSocket(url)
  const queue: Msg[] = []
  let wake: (() => void) | undefined
  ws.on('message', (data) => {
    queue.push(JSON.parse(String(data)) as Msg)
    wake?.()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  )
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws,
    closed,
    close: async () => {
      ws.close()
      await closed
    },
    send: (msg: unknown) => ws.send(JSON.stringify(msg)),
    drain: (): Msg[] => queue.splice(0),
    next: async (timeoutMs = 5000): Promise<Msg> => {
      const deadline = Date.now() + timeoutMs
      while (queue.length === 0) {
        if (Date.now() > deadline) throw new Error(`no message within ${timeoutMs} ms`)
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 20)
        })
      }
      return queue.shift()!
    },
  }
}

/** A Coinbase L2 book kept the way an adapter keeps it: keyed by the exact price strings. */
class L2Book {
  bids = new Map<string, string>()
  asks = new Map<string, string>()
  load(snapshot: Msg) {
    this.bids = new Map(snapshot['bids'] as [string, string][])
    this.asks = new Map(snapshot['asks'] as [string, string][])
  }
  apply(update: Msg) {
    for (const [side, price, size] of update['changes'] as [string, string, string][]) {
      expect(side === 'buy' || side === 'sell').toBe(true)
      expect(price).toMatch(/^\d+\.\d{2}$/)
      expect(size).toMatch(/^\d+\.\d{8}$/)
      const levels = side === 'buy' ? this.bids : this.asks
      if (Number(size) === 0) levels.delete(price)
      else levels.set(price, size)
    }
  }
  best() {
    return {
      bid: Math.max(...[...this.bids.keys()].map(Number)),
      ask: Math.min(...[...this.asks.keys()].map(Number)),
    }
  }
  sorted() {
    const order = (m: Map<string, string>, dir: number) => [...m].sort((a, b) => dir * (Number(a[0]) - Number(b[0])))
    return { bids: order(this.bids, -1), asks: order(this.asks, 1) }
  }
}

const COINBASE_FEE = 0.006
const BL3P_FEE = 0.0025

describe('simulator over real WebSockets', () => {
  let sim: Simulator
  let coinbaseUrl: string
  let bl3pUrl: string

  beforeAll(async () => {
    // Windows far apart: the protocol checks should not race a whole-book sweep.
    sim = await start({ TICK_MS: '20', PAIRS: 'BTC-EUR,ETH-EUR', OPPORTUNITY_EVERY_MS: '600000' }, 400)
    coinbaseUrl = sim.endpoints.find((e) => e.exchange === 'coinbase')!.url
    bl3pUrl = sim.endpoints.find((e) => e.exchange === 'bl3p')!.url
  })
  afterAll(() => sim.close())

  it('serves Coinbase: ack, snapshot, l2updates that apply cleanly, tickers and heartbeats', async () => {
    expect(coinbaseUrl).toBe(`ws://127.0.0.1:${sim.port}/coinbase`)
    const c = await connect(coinbaseUrl)
    c.send({
      type: 'subscribe',
      product_ids: ['BTC-EUR', 'BTC-USD'],
      channels: ['ticker', 'level2_batch', 'heartbeat'],
    })
    expect(await c.next()).toEqual({
      type: 'subscriptions',
      channels: [
        { name: 'ticker', product_ids: ['BTC-EUR', 'BTC-USD'] },
        { name: 'level2_batch', product_ids: ['BTC-EUR', 'BTC-USD'] },
        { name: 'heartbeat', product_ids: ['BTC-EUR', 'BTC-USD'] },
      ],
    })
    const books = new Map<string, L2Book>()
    const heartbeats = new Map<string, Msg[]>()
    const lastTradeId = new Map<string, number>()
    let updates = 0
    let tickers = 0
    const handle = (m: Msg) => {
      const product = m['product_id'] as string
      switch (m['type']) {
        case 'snapshot': {
          const b = books.get(product) ?? new L2Book()
          b.load(m)
          books.set(product, b)
          break
        }
        case 'l2update': {
          const b = books.get(product)
          expect(b, 'l2update before its snapshot').toBeDefined()
          b!.apply(m)
          const { bid, ask } = b!.best()
          expect(bid).toBeLessThan(ask)
          expect(m['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
          updates += 1
          break
        }
        case 'ticker': {
          tickers += 1
          expect(Object.keys(m).sort()).toEqual(
            [
              'type',
              'sequence',
              'product_id',
              'price',
              'open_24h',
              'volume_24h',
              'low_24h',
              'high_24h',
              'volume_30d',
              'best_bid',
              'best_bid_size',
              'best_ask',
              'best_ask_size',
              'side',
              'time',
              'trade_id',
              'last_size',
            ].sort(),
          )
          expect(['buy', 'sell']).toContain(m['side'])
          expect(Number(m['best_bid'])).toBeLessThan(Number(m['best_ask']))
          lastTradeId.set(product, m['trade_id'] as number)
          break
        }
        case 'heartbeat': {
          const list = heartbeats.get(product) ?? []
          list.push(m)
          heartbeats.set(product, list)
          const seen = lastTradeId.get(product)
          if (seen !== undefined) expect(m['last_trade_id']).toBe(seen)
          break
        }
        default:
          throw new Error(`unexpected ${JSON.stringify(m)}`)
      }
    }
    const until = Date.now() + 2600
    while (Date.now() < until) handle(await c.next())
    expect([...books.keys()].sort()).toEqual(['BTC-EUR', 'BTC-USD'])
    expect(updates).toBeGreaterThan(40)
    expect(tickers).toBeGreaterThan(2)
    for (const product of ['BTC-EUR', 'BTC-USD']) {
      const beats = heartbeats.get(product) ?? []
      expect(beats.length).toBeGreaterThanOrEqual(2)
      for (let i = 1; i < beats.length; i++) {
        expect(beats[i]!['sequence'] as number).toBeGreaterThan(beats[i - 1]!['sequence'] as number)
      }
    }

    // Resubscribing on the same socket gives a snapshot ordered after every update already
    // sent, so the book we kept must equal it exactly.
    c.send({ type: 'unsubscribe', channels: [{ name: 'level2_batch', product_ids: ['BTC-EUR'] }] })
    c.send({ type: 'subscribe', channels: [{ name: 'level2_batch', product_ids: ['BTC-EUR'] }] })
    const kept = books.get('BTC-EUR')!
    for (;;) {
      const m = await c.next()
      if (m['type'] === 'snapshot' && m['product_id'] === 'BTC-EUR') {
        const fresh = new L2Book()
        fresh.load(m)
        expect(kept.sorted()).toEqual(fresh.sorted())
        expect(fresh.sorted()).toEqual({ bids: m['bids'], asks: m['asks'] })
        break
      }
      if (m['type'] === 'subscriptions' || m['type'] === 'heartbeat' || m['type'] === 'ticker') continue
      handle(m)
    }

    // A second client's snapshot matches the first client's book up to in-flight updates.
    const d = await connect(coinbaseUrl)
    d.send({ type: 'subscribe', product_ids: ['BTC-EUR'], channels: ['level2_batch'] })
    expect((await d.next())['type']).toBe('subscriptions')
    const other = new L2Book()
    other.load(await d.next())
    const a = kept.best()
    const b = other.best()
    expect(Math.abs(a.bid / b.bid - 1)).toBeLessThan(5e-4)
    expect(Math.abs(a.ask / b.ask - 1)).toBeLessThan(5e-4)
    const same = [...other.bids].filter(([p, s]) => kept.bids.get(p) === s).length
    expect(same / other.bids.size).toBeGreaterThan(0.5)
    await c.close()
    await d.close()
  })

  it('streams unbatched level2 per step as well', async () => {
    const c = await connect(coinbaseUrl)
    c.send({ type: 'subscribe', channels: [{ name: 'level2', product_ids: ['ETH-EUR'] }] })
    expect(await c.next()).toEqual({ type: 'subscriptions', channels: [{ name: 'level2', product_ids: ['ETH-EUR'] }] })
    const book = new L2Book()
    book.load(await c.next())
    for (let i = 0; i < 30; i++) {
      const m = await c.next()
      expect(m['type']).toBe('l2update')
      book.apply(m)
      expect(book.best().bid).toBeLessThan(book.best().ask)
    }
    await c.close()
  })

  it('rejects an unknown product or channel the way Coinbase does', async () => {
    const c = await connect(coinbaseUrl)
    c.send({ type: 'subscribe', product_ids: ['BTC-EUR', 'FOO-BAR'], channels: ['level2_batch'] })
    expect(await c.next()).toEqual({
      type: 'error',
      message: 'Failed to subscribe',
      reason: 'FOO-BAR is not a valid product',
    })
    c.send({ type: 'subscribe', product_ids: ['BTC-EUR'], channels: ['full_book'] })
    expect(await c.next()).toEqual({
      type: 'error',
      message: 'Failed to subscribe',
      reason: 'full_book is not a valid channel',
    })
    await c.close()
  })

  it('closes a Coinbase connection that does not subscribe in time', async () => {
    const c = await connect(coinbaseUrl)
    const t0 = Date.now()
    const { code } = await c.closed
    expect(code).toBe(4001)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300)
  })

  it('serves BL3P full books with integer fields, ~30 levels a side, on connect and on change', async () => {
    const c = await connect(`${bl3pUrl}/1/BTCEUR/orderbook`)
    for (let i = 0; i < 10; i++) {
      const m = await c.next(i === 0 ? 200 : 2000)
      expect(Object.keys(m)).toEqual(['marketplace', 'asks', 'bids'])
      expect(m['marketplace']).toBe('BTCEUR')
      const asks = m['asks'] as Record<string, number>[]
      const bids = m['bids'] as Record<string, number>[]
      expect(asks).toHaveLength(30)
      expect(bids).toHaveLength(30)
      for (const l of [...asks, ...bids]) {
        expect(Object.keys(l)).toEqual(['price_int', 'amount_int', 'count'])
        for (const v of Object.values(l)) expect(Number.isSafeInteger(v) && v > 0).toBe(true)
      }
      expect(asks.every((l, j) => j === 0 || l['price_int']! > asks[j - 1]!['price_int']!)).toBe(true)
      expect(bids.every((l, j) => j === 0 || l['price_int']! < bids[j - 1]!['price_int']!)).toBe(true)
      expect(bids[0]!['price_int']).toBeLessThan(asks[0]!['price_int']!)
      // EUR × 1e5: a BTC price in the tens of thousands of euros.
      expect(bids[0]!['price_int']! / 1e5).toBeGreaterThan(10_000)
    }
    await c.close()
  })

  it('serves BL3P trades and closes unknown markets with 4404', async () => {
    const t = await connect(`${bl3pUrl}/1/ETHEUR/trades`)
    const trade = await t.next(5000)
    expect(Object.keys(trade)).toEqual(['date', 'marketplace', 'price_int', 'type', 'amount_int'])
    expect(trade['marketplace']).toBe('ETHEUR')
    await t.close()
    for (const path of ['/1/FOOBAR/orderbook', '/1/BTCUSD/orderbook', '/2/BTCEUR/orderbook', '/1/BTCEUR/ticker']) {
      const c = await connect(`${bl3pUrl}${path}`)
      expect((await c.closed).code).toBe(4404)
    }
  })

  it('serves Kraken v2: status, acks, book snapshot and updates whose CRC32 checksums verify, heartbeats, pong', async () => {
    const url = sim.endpoints.find((e) => e.exchange === 'kraken')!.url
    expect(url).toBe(`ws://127.0.0.1:${sim.port}/kraken`)
    // Raw frames: the checksum is over the exact number text, which JSON.parse would lose.
    const ws = new WebSocket(url)
    const raws: string[] = []
    ws.on('message', (data) => raws.push(String(data)))
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send(
      JSON.stringify({
        method: 'subscribe',
        params: { channel: 'book', symbol: ['BTC/EUR', 'BTC/USD'], depth: 10 },
        req_id: 1,
      }),
    )
    ws.send(JSON.stringify({ method: 'subscribe', params: { channel: 'book', symbol: ['FOO/BAR'] } }))
    await new Promise((resolve) => setTimeout(resolve, 1500))
    ws.send(JSON.stringify({ method: 'ping', req_id: 101 }))
    await new Promise((resolve) => setTimeout(resolve, 200))

    // An independent checksum (book checksum guide, v2) over books kept by price text.
    const books = new Map<string, { bids: Map<string, string>; asks: Map<string, string> }>()
    const levels = (text: string) =>
      [...text.matchAll(/\{"price":([\d.]+),"qty":([\d.]+)\}/g)].map((m) => [m[1]!, m[2]!])
    const top = (side: Map<string, string>, dir: number) =>
      [...side].sort((a, b) => dir * (Number(a[0]) - Number(b[0]))).slice(0, 10)
    const digits = (t: string) => t.replace('.', '').replace(/^0+/, '')
    const checksum = (b: { bids: Map<string, string>; asks: Map<string, string> }) =>
      crc32([...top(b.asks, 1), ...top(b.bids, -1)].map(([p, q]) => digits(p!) + digits(q!)).join(''))
    const kinds: string[] = []
    let updates = 0
    for (const raw of raws) {
      const m = JSON.parse(raw) as Msg
      kinds.push(String(m['channel'] ?? m['method']))
      if (m['channel'] !== 'book') continue
      const [data] = m['data'] as Msg[]
      const symbol = data!['symbol'] as string
      const [bidText, askText] = raw.split('"asks":') as [string, string]
      if (m['type'] === 'snapshot') books.set(symbol, { bids: new Map(), asks: new Map() })
      const b = books.get(symbol)
      expect(b, 'update before snapshot').toBeDefined()
      for (const [side, text] of [
        [b!.bids, bidText],
        [b!.asks, askText],
      ] as const) {
        for (const [p, q] of levels(text)) {
          expect(p).toMatch(/^\d+\.\d$/)
          expect(q).toMatch(/^\d+\.\d{8}$/)
          if (Number(q) === 0) side.delete(p!)
          else side.set(p!, q!)
        }
        // Truncate to the subscribed depth: levels pushed out of scope get no delete.
        for (const [p] of [...side]
          .sort((x, y) => (side === b!.bids ? -1 : 1) * (Number(x[0]) - Number(y[0])))
          .slice(10))
          side.delete(p)
      }
      expect(checksum(b!)).toBe(data!['checksum'])
      expect(Number(top(b!.bids, -1)[0]![0])).toBeLessThan(Number(top(b!.asks, 1)[0]![0]))
      expect(b!.bids.size).toBe(10)
      expect(b!.asks.size).toBe(10)
      if (m['type'] === 'update') updates += 1
    }
    expect(kinds.slice(0, 5)).toEqual(['status', 'subscribe', 'book', 'subscribe', 'book'])
    const msgs = raws.map((r) => JSON.parse(r) as Msg)
    const ack = msgs[1]
    const refused = msgs.find((m) => m['success'] === false)
    expect(ack).toMatchObject({
      method: 'subscribe',
      success: true,
      req_id: 1,
      result: { channel: 'book', depth: 10, symbol: 'BTC/EUR', snapshot: true },
    })
    expect(refused).toMatchObject({ method: 'subscribe', success: false, error: 'Currency pair not supported FOO/BAR' })
    expect([...books.keys()].sort()).toEqual(['BTC/EUR', 'BTC/USD'])
    expect(updates).toBeGreaterThan(20)
    expect(kinds).toContain('heartbeat')
    expect(raws.map((r) => JSON.parse(r) as Msg).find((m) => m['method'] === 'pong')).toMatchObject({ req_id: 101 })
    ws.close()
    await new Promise((resolve) => ws.once('close', resolve))
  })

  it('answers /health and /state, and refuses unknown paths', async () => {
    const c = await connect(coinbaseUrl)
    c.send({ type: 'subscribe', product_ids: ['BTC-EUR'], channels: ['heartbeat'] })
    const b = await connect(`${bl3pUrl}/1/BTCEUR/orderbook`)
    // Every exchange is listed, and only the two sockets this test holds are open.
    const expectedConnections = Object.fromEntries(
      EXCHANGES.map((e) => [e.profile.id, ['coinbase', 'bl3p'].includes(e.profile.id) ? 1 : 0]),
    )
    // Earlier tests' sockets may still be closing on the server side: poll briefly.
    let h: Msg = {}
    for (let i = 0; i < 50; i++) {
      const health = await fetch(`${sim.httpUrl}/health`)
      expect(health.status).toBe(200)
      h = (await health.json()) as Msg
      if (JSON.stringify(h['connections']) === JSON.stringify(expectedConnections)) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(h['status']).toBe('ok')
    expect(h['uptimeS']).toEqual(expect.any(Number))
    expect(h['connections']).toEqual(expectedConnections)
    expect(h['steps']).toBeGreaterThan(0)
    const state = (await (await fetch(`${sim.httpUrl}/state`)).json()) as Msg
    expect(state['window']).toBeNull()
    expect(state['windowActive']).toBe(false)
    const pairs = state['pairs'] as { pair: string; venues: Record<string, { mid: number }> }[]
    expect(pairs.map((p) => p.pair)).toEqual(['BTC-EUR', 'ETH-EUR', 'BTC-USD', 'BTC-USDT'])
    expect(Object.keys(pairs[0]!.venues)).toEqual(EXCHANGES.map((e) => e.profile.id))
    expect((await fetch(`${sim.httpUrl}/nope`)).status).toBe(404)
    const refused = new WebSocket(`ws://127.0.0.1:${sim.port}/nosuchexchange`)
    refused.on('error', () => undefined)
    const status = await new Promise<number>((resolve) =>
      refused.on('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0)
        req.destroy()
      }),
    )
    expect(status).toBe(404)
    await c.close()
    await b.close()
  })
})

describe('arbitrage windows over the wire', () => {
  it('shows a Coinbase/BL3P window whose edge after fees is positive, then closes it', async () => {
    // Only these two venues, so every window is one this test watches.
    const sim = await start(
      { TICK_MS: '20', OPPORTUNITY_EVERY_MS: '1000', OPPORTUNITY_MS: '500', SEED: '7' },
      undefined,
      [coinbaseExchange, bl3pExchange],
    )
    try {
      const [coinbase, bl3p] = ['coinbase', 'bl3p'].map((id) => sim.endpoints.find((e) => e.exchange === id)!.url)
      const c = await connect(coinbase!)
      c.send({ type: 'subscribe', product_ids: ['BTC-EUR'], channels: ['level2_batch'] })
      const b = await connect(`${bl3p!}/1/BTCEUR/orderbook`)
      const cb = new L2Book()
      let bl: { bid: number; ask: number } | undefined
      let maxNet = -Infinity
      let sawWindowInState = false
      const samples: number[] = []
      const until = Date.now() + 3500
      while (Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 25))
        // Everything both exchanges sent so far, so the two books are compared at the same moment.
        for (const m of c.drain()) {
          if (m['type'] === 'snapshot') cb.load(m)
          else if (m['type'] === 'l2update') cb.apply(m)
        }
        const last = b.drain().at(-1)
        if (last) {
          const best = (side: string) => (last[side] as { price_int: number }[])[0]!.price_int / 1e5
          bl = { bid: best('bids'), ask: best('asks') }
        }
        if (bl && cb.bids.size > 0) {
          const { bid, ask } = cb.best()
          const net = Math.max(
            (bl.bid * (1 - BL3P_FEE) - ask * (1 + COINBASE_FEE)) / ask,
            (bid * (1 - COINBASE_FEE) - bl.ask * (1 + BL3P_FEE)) / bl.ask,
          )
          samples.push(net * 1e4)
          maxNet = Math.max(maxNet, net * 1e4)
        }
        if (!sawWindowInState) {
          const state = (await (await fetch(`${sim.httpUrl}/state`)).json()) as Msg
          sawWindowInState = state['window'] !== null
        }
      }
      expect(sawWindowInState).toBe(true)
      expect(maxNet).toBeGreaterThan(15)
      expect(maxNet).toBeLessThan(65)
      // Most of the time there is nothing to trade.
      expect(samples.filter((s) => s < 0).length / samples.length).toBeGreaterThan(0.3)
      await c.close()
      await b.close()
    } finally {
      await sim.close()
    }
  })
})
