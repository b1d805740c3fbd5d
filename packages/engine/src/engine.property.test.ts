import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { signalDecoder, splitPair, type Level, type Signal, type Tick } from '@arb/contracts'
import { createEngine, type EngineOptions, type FeedStatus } from './engine.js'

const T0 = 1_700_000_000_000
const EXCHANGES = ['xx', 'yy', 'zz'] as const
const PAIRS = ['BTC-EUR', 'ETH-EUR'] as const

const book = (side: 'asks' | 'bids', start: number) =>
  fc
    .array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30_000 })), {
      minLength: 0,
      maxLength: 5,
    })
    .map((steps): Level[] => {
      let cents = start
      return steps.map(([step, size]) => {
        const level: Level = [cents / 100, size / 10_000]
        cents += side === 'asks' ? step : -step
        return level
      })
    })

/** A tick whose book straddles a mid that moves a little, so books of different exchanges cross now and then. */
const tickStep = fc
  .record({
    ex: fc.constantFrom(...EXCHANGES),
    pair: fc.constantFrom(...PAIRS),
    dt: fc.integer({ min: 0, max: 400 }),
    mid: fc.integer({ min: 9_900, max: 10_100 }),
    halfSpread: fc.integer({ min: 1, max: 20 }),
  })
  .chain((t) =>
    fc.record({
      kind: fc.constant('tick' as const),
      ex: fc.constant(t.ex),
      pair: fc.constant(t.pair),
      dt: fc.constant(t.dt),
      bids: book('bids', t.mid - t.halfSpread),
      asks: book('asks', t.mid + t.halfSpread),
    }),
  )
const statusStep = fc.record({
  kind: fc.constant('status' as const),
  ex: fc.constantFrom(...EXCHANGES),
  status: fc.constantFrom<FeedStatus>('ok', 'ok', 'stale', 'resyncing', 'disconnected'),
  dt: fc.integer({ min: 0, max: 500 }),
})
const sweepStep = fc.record({ kind: fc.constant('sweep' as const), dt: fc.integer({ min: 0, max: 3000 }) })
const step = fc.oneof({ arbitrary: tickStep, weight: 8 }, { arbitrary: statusStep, weight: 1 }, sweepStep)
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never

const balance = fc.oneof(fc.constant(undefined), fc.double({ min: 0, max: 3, noNaN: true }))
const options: fc.Arbitrary<EngineOptions> = fc
  .record({
    openBps: fc.integer({ min: 0, max: 20 }),
    gap: fc.integer({ min: 0, max: 5 }),
    minProfit: fc.constantFrom(0, 0, 0.01, 0.1),
    updateFraction: fc.constantFrom(0, 0.05, 0.5),
    fees: fc.record({
      xx: fc.constantFrom(0, 0.001),
      yy: fc.constantFrom(0, 0.0026),
      zz: fc.constantFrom(0, 0.006),
    }),
    xxEur: balance,
    yyBtc: balance,
    zzEth: balance,
  })
  .map((o): EngineOptions => ({
    openBps: o.openBps,
    closeBps: o.openBps - o.gap,
    minProfit: o.minProfit,
    maxQuoteAgeMs: 2000,
    updateFraction: o.updateFraction,
    fees: o.fees,
    balances: {
      xx: o.xxEur === undefined ? {} : { EUR: o.xxEur * 100 },
      yy: o.yyBtc === undefined ? {} : { BTC: o.yyBtc },
      zz: o.zzEth === undefined ? {} : { ETH: o.zzEth },
    } as Record<string, Record<string, number>>,
  }))

interface Run {
  events: Signal[]
  /** For each opened/updated event, the books it was computed from. */
  books: Map<Signal, { asks: readonly Level[]; bids: readonly Level[] }>
}

let seq = 0
const play = (opts: EngineOptions, steps: Step[]): Run => {
  const engine = createEngine(opts)
  const held = new Map<string, Tick>()
  const events: Signal[] = []
  const books = new Map<Signal, { asks: readonly Level[]; bids: readonly Level[] }>()
  let now = T0
  for (const s of steps) {
    now += s.dt
    if (s.kind === 'sweep') events.push(...engine.sweep(now))
    else if (s.kind === 'status') events.push(...engine.setFeedStatus(s.ex, s.status, now))
    else {
      const tick: Tick = {
        v: 1,
        exchange: s.ex,
        pair: s.pair,
        seq: String(++seq),
        exchangeTs: null,
        receivedTs: now,
        bids: s.bids,
        asks: s.asks,
      }
      held.set(`${s.ex} ${s.pair}`, tick)
      for (const e of engine.onTick(tick)) {
        events.push(e)
        const buy = held.get(`${e.buy.exchange} ${e.pair}`)
        const sell = held.get(`${e.sell.exchange} ${e.pair}`)
        if (buy && sell) books.set(e, { asks: buy.asks, bids: sell.bids })
      }
    }
  }
  return { events, books }
}

const slack = (x: number) => 1e-9 * Math.max(1, Math.abs(x))
const depth = (levels: readonly Level[]) => levels.reduce((s, [, q]) => s + q, 0)

describe('engine properties', () => {
  it('every emitted signal is valid, never loses money, and fits both books and both balances', () => {
    fc.assert(
      fc.property(options, fc.array(step, { minLength: 1, maxLength: 60 }), (opts, steps) => {
        const { events, books } = play(opts, steps)
        for (const e of events) {
          expect(signalDecoder.check(e), JSON.stringify(e)).toBe(true)
          expect(e.netProfit).toBeGreaterThanOrEqual(0)
          if (e.state === 'opened') {
            expect(e.netProfitBps).toBeGreaterThanOrEqual(opts.openBps)
            expect(e.netProfit).toBeGreaterThanOrEqual(opts.minProfit ?? 0)
            expect(e.volume).toBeGreaterThan(0)
          }
          if (e.state === 'closed') continue
          const b = books.get(e)
          expect(b, 'opened/updated come from a tick').toBeDefined()
          expect(e.volume).toBeLessThanOrEqual(depth(b!.asks) + slack(e.volume))
          expect(e.volume).toBeLessThanOrEqual(depth(b!.bids) + slack(e.volume))
          const { base, quote } = splitPair(e.pair)
          const maxBase = opts.balances?.[e.sell.exchange]?.[base] ?? Infinity
          const maxQuote = opts.balances?.[e.buy.exchange]?.[quote] ?? Infinity
          expect(e.volume).toBeLessThanOrEqual(maxBase + slack(e.volume))
          const spent = e.volume * e.buy.price * (1 + e.buy.fee)
          expect(spent).toBeLessThanOrEqual(maxQuote + slack(spent))
          expect(e.curve?.at(-1)).toEqual([e.volume, e.netProfit])
        }
      }),
      { numRuns: 300 },
    )
  })

  it('each signal is opened once, then updated, then closed at most once, with growing ts; one open per route', () => {
    fc.assert(
      fc.property(options, fc.array(step, { minLength: 1, maxLength: 60 }), (opts, steps) => {
        const { events } = play(opts, steps)
        const last = new Map<string, Signal>()
        const openRoute = new Map<string, string>()
        for (const e of events) {
          const route = `${e.pair} ${e.buy.exchange} ${e.sell.exchange}`
          const prev = last.get(e.id)
          if (e.state === 'opened') {
            expect(prev).toBeUndefined()
            expect(openRoute.has(route)).toBe(false)
            openRoute.set(route, e.id)
          } else {
            expect(prev, `${e.state} after nothing`).toBeDefined()
            expect(prev!.state).not.toBe('closed')
            expect(e.ts).toBeGreaterThan(prev!.ts)
            if (e.state === 'closed') {
              expect(e.durationMs).toBe(e.ts - e.openedAt)
              expect(e.peakNetProfit).toBeGreaterThanOrEqual(0)
              openRoute.delete(route)
            }
          }
          last.set(e.id, e)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('is deterministic: the same steps give the same events', () => {
    fc.assert(
      fc.property(options, fc.array(step, { minLength: 1, maxLength: 40 }), (opts, steps) => {
        const before = seq
        const a = play(opts, steps).events
        seq = before
        expect(play(opts, steps).events).toEqual(a)
      }),
      { numRuns: 100 },
    )
  })
})
