import { describe, expect, it } from 'vitest'
import { createMarket, toDecimalString, type BookView, type Level, type MarketOptions } from './market.js'
import { bl3pProfile, coinbaseProfile } from './protocols/index.js'

const options = (over: Partial<MarketOptions> = {}): MarketOptions => ({
  seed: 42,
  tickMs: 100,
  pairs: ['BTC-EUR', 'ETH-EUR'],
  venues: [coinbaseProfile, bl3pProfile],
  volatilityBps: 2,
  opportunityEveryMs: 2000,
  opportunityMs: 1000,
  netBps: [20, 60],
  ...over,
})

const copy = (b: BookView) => ({
  bids: new Map(b.bids.map((l) => [l.price, l.size])),
  asks: new Map(b.asks.map((l) => [l.price, l.size])),
})

const expectWellFormed = (b: BookView, depth: number) => {
  expect(b.bids).toHaveLength(depth)
  expect(b.asks).toHaveLength(depth)
  const strictly = (levels: readonly Level[], dir: 1 | -1) =>
    levels.every((l, i) => i === 0 || dir * (l.price - levels[i - 1]!.price) > 0)
  expect(strictly(b.bids, -1)).toBe(true)
  expect(strictly(b.asks, 1)).toBe(true)
  expect(b.bids[0]!.price).toBeLessThan(b.asks[0]!.price)
  for (const l of [...b.bids, ...b.asks]) {
    expect(Number.isSafeInteger(l.price) && l.price > 0).toBe(true)
    expect(Number.isSafeInteger(l.size) && l.size > 0).toBe(true)
    expect(l.orders).toBeGreaterThanOrEqual(1)
  }
}

describe('market model', () => {
  it('is deterministic: same seed, same books and steps', () => {
    const a = createMarket(options())
    const b = createMarket(options())
    const c = createMarket(options({ seed: 43 }))
    for (let i = 0; i < 200; i++) expect(b.step()).toEqual(a.step())
    for (let i = 0; i < 200; i++) c.step()
    expect(b.state()).toEqual(a.state())
    expect(b.book('bl3p', 'BTC-EUR')).toEqual(a.book('bl3p', 'BTC-EUR'))
    expect(c.state().pairs[0]!.fair).not.toEqual(a.state().pairs[0]!.fair)
  })

  it('lists configured pairs on Coinbase plus BTC-USD, and only EUR pairs on BL3P', () => {
    const m = createMarket(options({ pairs: ['BTC-EUR', 'ETH-USD'] }))
    expect(m.pairs).toEqual(['BTC-EUR', 'ETH-USD', 'BTC-USD'])
    expect(m.listings('coinbase').map((b) => b.symbol)).toEqual(['BTC-EUR', 'ETH-USD', 'BTC-USD'])
    expect(m.listings('bl3p').map((b) => b.symbol)).toEqual(['BTCEUR'])
    expect(m.book('coinbase', 'BTC-EUR')!.priceDecimals).toBe(2)
    expect(m.book('bl3p', 'BTC-EUR')!.priceDecimals).toBe(5)
  })

  it('never crosses a book and keeps sorted, positive integer levels at full depth', () => {
    const m = createMarket(options({ opportunityEveryMs: 500, opportunityMs: 300 }))
    for (let i = 0; i < 1500; i++) {
      m.step()
      if (i % 7 !== 0) continue
      for (const v of m.venues) for (const b of m.listings(v.id)) expectWellFormed(b, v.depth)
    }
  })

  it('reports every step as the exact diff between the previous and the new book', () => {
    const m = createMarket(options({ opportunityEveryMs: 500, opportunityMs: 300 }))
    const books = m.venues.flatMap((v) => m.listings(v.id))
    const held = new Map(books.map((b) => [`${b.venue}:${b.pair}`, copy(b)]))
    const perBookStep: number[] = []
    for (let i = 0; i < 500; i++) {
      const r = m.step()
      for (const u of r.updates) {
        perBookStep.push(u.changes.length)
        const h = held.get(`${u.venue}:${u.pair}`)!
        for (const c of u.changes) {
          const side = c.side === 'bid' ? h.bids : h.asks
          // A real diff: never "set to what it already was".
          expect(side.get(c.price) ?? 0).not.toBe(c.size)
          if (c.size === 0) side.delete(c.price)
          else side.set(c.price, c.size)
        }
      }
      for (const b of books) expect(held.get(`${b.venue}:${b.pair}`)).toEqual(copy(b))
    }
    // Incremental: a handful of levels per book per step; only a window opening or closing
    // sweeps a whole side.
    const median = perBookStep.sort((a, b) => a - b)[Math.floor(perBookStep.length / 2)]!
    expect(median).toBeGreaterThanOrEqual(2)
    expect(median).toBeLessThanOrEqual(12)
  })

  it('opens arbitrage windows whose edge after both taker fees is 20-60 bps, and only then', () => {
    const m = createMarket(options({ opportunityEveryMs: 1000, opportunityMs: 400 }))
    const fees = coinbaseProfile.takerFee + bl3pProfile.takerFee
    let opened = 0
    let closed = 0
    let stepsInWindow = 0
    for (let i = 0; i < 600; i++) {
      const r = m.step()
      for (const e of r.events) {
        if (e.kind === 'opened') {
          opened += 1
          expect(e.netBps).toBeGreaterThan(19.9)
          expect(e.netBps).toBeLessThan(60.1)
          expect(e.grossBps).toBeCloseTo(e.netBps + fees * 1e4, -1)
          expect(e.window.buy).not.toBe(e.window.sell)
        } else {
          closed += 1
          expect(e.netBps).toBeLessThan(0)
        }
      }
      const w = m.window()
      for (const pair of ['BTC-EUR', 'ETH-EUR']) {
        for (const [buy, sell] of [
          ['coinbase', 'bl3p'],
          ['bl3p', 'coinbase'],
        ] as const) {
          const edge = m.edge(m.book(buy, pair)!, m.book(sell, pair)!)
          if (w && w.pair === pair && w.buy === buy && w.sell === sell) {
            stepsInWindow += 1
            expect(edge.netBps).toBeGreaterThan(19.9)
            expect(edge.netBps).toBeLessThan(60.1)
            expect(edge.topSize * m.state().pairs.find((p) => p.pair === pair)!.fair).toBeGreaterThan(10_000)
          } else {
            expect(edge.netBps).toBeLessThan(0)
          }
        }
      }
    }
    // 60 s of simulated time, one window a second.
    expect(opened).toBe(60)
    expect(closed).toBe(59)
    expect(stepsInWindow).toBe(59 * 4 + 1)
  })

  it('trades at the top of the book with growing trade ids and sequences', () => {
    const m = createMarket(options())
    const last = new Map<string, { id: number; seq: number }>()
    let trades = 0
    for (let i = 0; i < 300; i++) {
      const r = m.step()
      for (const t of r.trades) {
        trades += 1
        const key = `${t.venue}:${t.pair}`
        const prev = last.get(key)
        if (prev) {
          expect(t.tradeId).toBe(prev.id + 1)
          expect(t.sequence).toBeGreaterThan(prev.seq)
        }
        last.set(key, { id: t.tradeId, seq: t.sequence })
        const b = m.book(t.venue, t.pair)!
        expect(b.lastTradeId).toBeGreaterThanOrEqual(t.tradeId)
        expect(t.size).toBeGreaterThan(0)
      }
    }
    // About 2 trades a second per book: 5 books over 30 s.
    expect(trades).toBeGreaterThan(150)
    expect(trades).toBeLessThan(450)
  })

  it('moves the fair price about VOLATILITY_BPS per square-root second', () => {
    const m = createMarket(options({ pairs: ['BTC-EUR'], tickMs: 1000, volatilityBps: 10, opportunityEveryMs: 1e9 }))
    let prev = m.state().pairs[0]!.fair
    let sumSq = 0
    const n = 2000
    for (let i = 0; i < n; i++) {
      m.step()
      const fair = m.state().pairs[0]!.fair
      sumSq += Math.log(fair / prev) ** 2
      prev = fair
    }
    expect(Math.sqrt(sumSq / n) * 1e4).toBeGreaterThan(9)
    expect(Math.sqrt(sumSq / n) * 1e4).toBeLessThan(11)
  })
})

describe('toDecimalString', () => {
  it.each([
    [9_258_391, 2, '92583.91'],
    [5, 2, '0.05'],
    [0, 8, '0.00000000'],
    [45_054_140, 8, '0.45054140'],
    [504_621_000, 5, '5046.21000'],
    [7, 0, '7'],
  ])('%i with %i decimals is %s', (units, decimals, text) => {
    expect(toDecimalString(units, decimals)).toBe(text)
  })
})
