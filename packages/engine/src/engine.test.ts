import { describe, expect, it } from 'vitest'
import { signalDecoder, type Level, type Signal, type Tick } from '@arb/contracts'
import { createEngine, type Engine, type EngineOptions, type FeedStatus } from './engine.js'
import { replayer } from './replay.js'

// Injected clock: every time is an offset from T0, carried by the ticks or passed to sweep/status.
const T0 = 1_700_000_000_000

const OPTIONS: EngineOptions = {
  openBps: 5,
  closeBps: 2,
  maxQuoteAgeMs: 2000,
  updateFraction: 0.05,
  // xx, yy, zz trade without fees so the bps in the tables read directly off the prices.
  fees: { xx: 0, yy: 0, zz: 0, coinbase: 0.006, bl3p: 0.0025 },
}

interface Quote {
  ex: string
  at: number
  bid: number
  ask: number
  size?: number
  pair?: string
  seq?: string
  bids?: Level[]
  asks?: Level[]
}

const tick = ({ ex, at, bid, ask, size = 1, pair = 'BTC-EUR', seq, bids, asks }: Quote): Tick => ({
  v: 1,
  exchange: ex,
  pair,
  ...(seq === undefined ? {} : { seq }),
  exchangeTs: null,
  receivedTs: T0 + at,
  bids: bids ?? [[bid, size]],
  asks: asks ?? [[ask, size]],
})

type Step = Quote | { sweep: number } | { status: [string, FeedStatus, number] }

/** One line per event, so a table row states the whole expected story. */
const summary = (s: Signal): string =>
  `${s.state} ${s.pair} ${s.buy.exchange}>${s.sell.exchange}${s.reason === undefined ? '' : `: ${s.reason}`}`

const run = (steps: Step[], engine: Engine = createEngine(OPTIONS)): { events: Signal[]; lines: string[][] } => {
  const events: Signal[] = []
  const lines = steps.map((step) => {
    const out =
      'sweep' in step
        ? engine.sweep(T0 + step.sweep)
        : 'status' in step
          ? engine.setFeedStatus(step.status[0], step.status[1], T0 + step.status[2])
          : engine.onTick(tick(step))
    events.push(...out)
    return out.map(summary)
  })
  return { events, lines }
}

const O = 'opened BTC-EUR xx>yy'
const U = 'updated BTC-EUR xx>yy'
const C = (reason: string) => `closed BTC-EUR xx>yy: ${reason}`

interface Scenario {
  name: string
  steps: Step[]
  /** Events per step, in step order. */
  expected: string[][]
}

const scenarios: Scenario[] = [
  {
    name: 'fees turn a gross gap into no signal',
    steps: [
      { ex: 'coinbase', at: 0, bid: 99, ask: 100 },
      // 50 bps gross, 85 bps of fees
      { ex: 'bl3p', at: 10, bid: 100.5, ask: 101 },
    ],
    expected: [[], []],
  },
  {
    name: 'a gap wider than the fees opens, on the right legs',
    steps: [
      { ex: 'coinbase', at: 0, bid: 99, ask: 100 },
      { ex: 'bl3p', at: 10, bid: 101, ask: 102 },
    ],
    expected: [[], ['opened BTC-EUR coinbase>bl3p']],
  },
  {
    name: 'below OPEN_BPS does not open; at or above it does',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 100.04, ask: 101 },
      { ex: 'yy', at: 20, bid: 100.06, ask: 101 },
    ],
    expected: [[], [], [O]],
  },
  {
    name: 'updated only when volume or profit moves by more than UPDATE_FRACTION',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 101, ask: 102 }, // profit 1
      { ex: 'yy', at: 20, bid: 101.04, ask: 102 }, // +4%
      { ex: 'yy', at: 30, bid: 101.06, ask: 102 }, // +6% over the published 1
      { ex: 'yy', at: 40, bid: 101.06, ask: 102, size: 1.04 }, // volume +4% is not enough either
      { ex: 'yy', at: 50, bid: 101.06, ask: 102, size: 0.9 }, // volume −10%
    ],
    expected: [[], [O], [], [U], [], [U]],
  },
  {
    name: 'hysteresis: stays open between CLOSE_BPS and OPEN_BPS, closes below, reopens only at OPEN_BPS',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 100.1, ask: 101 }, // 10 bps
      { ex: 'yy', at: 20, bid: 100.03, ask: 101 }, // 3 bps: still open (profit moved, so updated)
      { ex: 'yy', at: 30, bid: 100.01, ask: 101 }, // 1 bps
      { ex: 'yy', at: 40, bid: 100.04, ask: 101 }, // 4 bps: not enough to reopen
      { ex: 'yy', at: 50, bid: 100.06, ask: 101 }, // 6 bps
    ],
    expected: [[], [O], [U], [C('spread closed')], [], [O]],
  },
  {
    name: 'a stale quote never opens a signal',
    steps: [
      { ex: 'yy', at: 0, bid: 101, ask: 102 },
      { ex: 'xx', at: 2001, bid: 99, ask: 100 }, // yy is 2001 ms old
      { ex: 'yy', at: 2100, bid: 101, ask: 102 },
    ],
    expected: [[], [], [O]],
  },
  {
    name: 'a stale quote never updates a signal: it closes it',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 0, bid: 101, ask: 102 },
      { ex: 'xx', at: 2500, bid: 98, ask: 99 }, // would be a big update, but yy is 2500 ms old
    ],
    expected: [[], [O], [C('stale quote from yy')]],
  },
  {
    name: 'the sweep closes an open signal when a feed goes silent',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 1000, bid: 101, ask: 102 },
      { sweep: 1500 },
      { sweep: 2000 }, // xx is exactly MAX_QUOTE_AGE_MS old: still usable
      { sweep: 2001 },
      { sweep: 2250 },
    ],
    expected: [[], [O], [], [], [C('stale quote from xx')], []],
  },
  {
    name: 'a disconnected feed closes its signals and opens nothing until it is ok again',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 101, ask: 102 },
      { status: ['yy', 'disconnected', 20] },
      { ex: 'yy', at: 30, bid: 101.5, ask: 102 },
      { status: ['yy', 'ok', 40] },
      { ex: 'yy', at: 50, bid: 101.5, ask: 102 },
    ],
    expected: [[], [O], [C('yy disconnected')], [], [], [O]],
  },
  {
    name: 'a stale feed status closes too, and a status change for another exchange does not',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 101, ask: 102 },
      { status: ['zz', 'disconnected', 20] },
      { status: ['xx', 'stale', 30] },
    ],
    expected: [[], [O], [], [C('xx feed stale')]],
  },
  {
    name: 'a resynchronising feed closes its signals, and its book from before the resync is never used again',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 101, ask: 102 },
      { status: ['yy', 'resyncing', 20] },
      { status: ['yy', 'ok', 30] },
      { ex: 'xx', at: 40, bid: 99, ask: 100 }, // yy's pre-resync book was dropped: nothing to cross with
      { ex: 'yy', at: 50, bid: 101, ask: 102 }, // the first book after the resync
    ],
    expected: [[], [O], [C('yy resynchronising')], [], [], [O]],
  },
  {
    name: 'only the same pair on different exchanges is compared',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100, pair: 'BTC-EUR' },
      { ex: 'yy', at: 10, bid: 101, ask: 102, pair: 'ETH-EUR' },
      { ex: 'xx', at: 20, bid: 105, ask: 106, pair: 'BTC-EUR' }, // same exchange, same pair: a new book, not a cross
      { ex: 'xx', at: 30, bid: 99.5, ask: 100, pair: 'ETH-EUR' }, // buys ETH on xx below yy's bid
    ],
    expected: [[], [], [], ['opened ETH-EUR xx>yy']],
  },
  {
    name: 'both directions are watched',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 101, ask: 102 },
      { ex: 'yy', at: 20, bid: 97, ask: 98 }, // now buy on yy, sell on xx
    ],
    expected: [[], [O], ['opened BTC-EUR yy>xx', C('spread closed')]],
  },
  {
    name: 'a duplicate (same seq, e.g. from a second ingestor replica) or older tick is ignored',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100, seq: '1' },
      { ex: 'yy', at: 10, bid: 100.01, ask: 101, seq: '7' },
      { ex: 'yy', at: 12, bid: 101, ask: 102, seq: '7' },
      { ex: 'yy', at: 5, bid: 101, ask: 102, seq: '8' },
    ],
    expected: [[], [], [], []],
  },
  {
    name: 'an exchange without a configured fee is never compared',
    steps: [
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'nofee', at: 10, bid: 110, ask: 111 },
    ],
    expected: [[], []],
  },
]

describe('engine lifecycle', () => {
  it.each(scenarios)('$name', ({ steps, expected }) => {
    expect(run(steps).lines).toEqual(expected)
  })
})

describe('minimum profit', () => {
  // 1 unit at 100 → 101: 1 EUR, 100 bps; 0.1 unit: 0.1 EUR, still 100 bps.
  const withMin = () => createEngine({ ...OPTIONS, minProfit: 0.5 })
  it.each([
    ['a wide edge on too small a size does not open', [{ ex: 'yy', at: 10, bid: 101, ask: 102, size: 0.1 }], [[]]],
    ['exactly the minimum opens', [{ ex: 'yy', at: 10, bid: 101, ask: 102, size: 0.5 }], [[O]]],
    [
      'an open signal whose profit falls below the minimum stays open (only CLOSE_BPS closes)',
      [
        { ex: 'yy', at: 10, bid: 101, ask: 102 },
        { ex: 'yy', at: 20, bid: 101, ask: 102, size: 0.1 },
      ],
      [[O], [U]],
    ],
  ] as [string, Quote[], string[][]][])('%s', (_name, steps, expected) => {
    const engine = withMin()
    engine.onTick(tick({ ex: 'xx', at: 0, bid: 99, ask: 100, size: 10 }))
    expect(run(steps, engine).lines).toEqual(expected)
  })
})

/** Figures of the opened event for a crossing of xx's asks (buy) with yy's bids (sell). */
interface Figures {
  name: string
  options?: Partial<EngineOptions>
  asks: Level[]
  bids: Level[]
  expected: Partial<Signal> | undefined
}

const figures: Figures[] = [
  {
    name: 'single level: the smaller best size at the best prices',
    asks: [[100, 2]],
    bids: [[101, 1]],
    expected: {
      volume: 1,
      netProfit: 1,
      netProfitBps: 100,
      grossSpreadBps: 100,
      cappedBy: 'depth',
      curve: [[1, 1]],
    },
  },
  {
    name: 'multi-level: stops at the first unprofitable slice, VWAP prices, curve per slice',
    asks: [
      [100, 1],
      [100.5, 1],
      [102, 5],
    ],
    bids: [
      [103, 1.5],
      [101, 2],
    ],
    expected: {
      volume: 2,
      netProfit: 4.5,
      buy: { exchange: 'xx', price: 100.25, fee: 0 },
      sell: { exchange: 'yy', price: 102.5, fee: 0 },
      netProfitBps: (4.5 / 200.5) * 10_000,
      cappedBy: 'edge',
      curve: [
        [1, 3],
        [1.5, 4.25],
        [2, 4.5],
      ],
    },
  },
  {
    name: 'base balance on the sell exchange caps the size, partially filling a slice',
    options: { balances: { yy: { BTC: 1.25 } } },
    asks: [
      [100, 1],
      [100.5, 1],
    ],
    bids: [[103, 5]],
    expected: {
      volume: 1.25,
      netProfit: 3 + 0.25 * 2.5,
      cappedBy: 'balance',
      curve: [
        [1, 3],
        [1.25, 3.625],
      ],
    },
  },
  {
    name: 'quote balance on the buy exchange caps the size (it is the buy exchange’s EUR that counts)',
    options: { balances: { xx: { EUR: 150.25, BTC: 0 }, yy: { EUR: 0 } } },
    asks: [
      [100, 1],
      [100.5, 1],
    ],
    bids: [[103, 5]],
    expected: { volume: 1.5, netProfit: 3 + 0.5 * 2.5, cappedBy: 'balance' },
  },
  {
    name: 'fees turn a gross gap into no signal',
    options: { fees: { xx: 0.006, yy: 0.0025 } },
    asks: [[100, 1]],
    bids: [[100.5, 1]],
    expected: undefined,
  },
]

describe('engine figures', () => {
  it.each(figures)('$name', ({ options, asks, bids, expected }) => {
    const engine = createEngine({ ...OPTIONS, ...options, fees: { ...OPTIONS.fees, ...options?.fees } })
    const { events } = run(
      [
        { ex: 'xx', at: 0, bid: 99, ask: 0, asks },
        { ex: 'yy', at: 10, bid: 0, ask: 110, bids },
      ],
      engine,
    )
    if (expected === undefined) return expect(events).toEqual([])
    expect(events).toHaveLength(1)
    const e = events[0]!
    expect(signalDecoder.check(e), JSON.stringify(e)).toBe(true)
    for (const [k, v] of Object.entries(expected)) {
      if (typeof v === 'number') expect(e[k as keyof Signal], k).toBeCloseTo(v, 9)
      else if (k === 'curve') {
        const curve = v as [number, number][]
        expect(e.curve).toHaveLength(curve.length)
        curve.forEach(([vol, p], i) => {
          expect(e.curve?.[i]?.[0]).toBeCloseTo(vol, 9)
          expect(e.curve?.[i]?.[1]).toBeCloseTo(p, 9)
        })
      } else expect(e[k as keyof Signal], k).toEqual(v)
    }
    return undefined
  })
})

describe('engine events', () => {
  const story: Step[] = [
    { ex: 'xx', at: 0, bid: 99, ask: 100, size: 2 },
    { ex: 'yy', at: 10, bid: 101, ask: 102 },
    { ex: 'yy', at: 20, bid: 101.5, ask: 102 },
    { ex: 'yy', at: 30, bid: 100, ask: 102 },
  ]

  it('are valid Signal v1 messages with figures, openedAt and ts from the tick', () => {
    const { events } = run(story)
    for (const e of events) expect(signalDecoder.check(e), JSON.stringify(e)).toBe(true)
    expect(events[0]).toEqual({
      v: 1,
      id: `BTC-EUR:xx:yy:${T0 + 10}`,
      state: 'opened',
      pair: 'BTC-EUR',
      buy: { exchange: 'xx', price: 100, fee: 0 },
      sell: { exchange: 'yy', price: 101, fee: 0 },
      volume: 1,
      grossSpreadBps: 100,
      netProfit: 1,
      netProfitBps: 100,
      openedAt: T0 + 10,
      ts: T0 + 10,
      cappedBy: 'depth',
      curve: [[1, 1]],
    })
    expect(events.map((e) => [e.state, e.id, e.openedAt, e.ts])).toEqual([
      ['opened', `BTC-EUR:xx:yy:${T0 + 10}`, T0 + 10, T0 + 10],
      ['updated', `BTC-EUR:xx:yy:${T0 + 10}`, T0 + 10, T0 + 20],
      ['closed', `BTC-EUR:xx:yy:${T0 + 10}`, T0 + 10, T0 + 30],
    ])
    // The closing evaluation matched nothing (bid 100 = ask 100); the close carries the signal's life.
    expect(events[2]).toMatchObject({
      reason: 'spread closed',
      volume: 0,
      netProfit: 0,
      durationMs: 20,
      peakNetProfit: 1.5,
      peakNetProfitBps: 150,
    })
    expect(events[2]?.curve).toBeUndefined()
    expect(events[1]?.curve).toEqual([[1, 1.5]])
  })

  it('the peak counts evaluations that published nothing', () => {
    const { events } = run([
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 101, ask: 102 },
      { ex: 'yy', at: 20, bid: 101.04, ask: 102 }, // +4%: no update, but a new peak
      { ex: 'yy', at: 30, bid: 100, ask: 102 },
    ])
    expect(events.map((e) => e.state)).toEqual(['opened', 'closed'])
    expect(events[1]?.peakNetProfit).toBeCloseTo(1.04, 9)
    expect(events[1]?.peakNetProfitBps).toBeCloseTo(104, 9)
  })

  it('ids are deterministic: the same ticks give the same events', () => {
    expect(run(story).events).toEqual(run(story).events)
  })

  it('a signal that closes and reopens within one millisecond gets a new id and distinct ts', () => {
    const { events } = run([
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 101, ask: 102 },
      { ex: 'yy', at: 10, bid: 100, ask: 102, seq: 'a' },
      { ex: 'yy', at: 10, bid: 101, ask: 102, seq: 'b' },
      { ex: 'yy', at: 10, bid: 102, ask: 103, seq: 'c' },
    ])
    const msgIds = events.map((e) => `${e.id}:${e.state}:${e.ts}`)
    expect(events.map((e) => e.state)).toEqual(['opened', 'closed', 'opened', 'updated'])
    expect(new Set(msgIds).size).toBe(4)
    expect(events[2]?.id).not.toBe(events[0]?.id)
  })

  it('a later copy of the same tick (another ingestor replica) keeps the quote fresh without re-evaluating', () => {
    const engine = createEngine(OPTIONS)
    const { lines } = run(
      [
        { ex: 'xx', at: 0, bid: 99, ask: 100, seq: 'a' },
        { ex: 'yy', at: 10, bid: 101, ask: 102, seq: 'b' },
        { ex: 'xx', at: 1500, bid: 99, ask: 100, seq: 'a' },
        { ex: 'yy', at: 1500, bid: 101, ask: 102, seq: 'b' },
        { sweep: 2100 },
        { sweep: 3501 },
      ],
      engine,
    )
    expect(lines).toEqual([[], [O], [], [], [], [C('stale quote from xx')]])
    expect(engine.stats).toEqual({ evaluations: 2, ignoredTicks: 2 })
  })

  it('the sweep stamps the close with its own time', () => {
    const { events } = run([
      { ex: 'xx', at: 0, bid: 99, ask: 100 },
      { ex: 'yy', at: 10, bid: 101, ask: 102 },
      { sweep: 2500 },
    ])
    expect(events[1]).toMatchObject({
      state: 'closed',
      ts: T0 + 2500,
      openedAt: T0 + 10,
      netProfit: 1,
      durationMs: 2490,
      cappedBy: 'depth',
    })
  })

  it('balances cap the volume of the signal', () => {
    const engine = createEngine({ ...OPTIONS, balances: { yy: { BTC: 0.25 }, xx: { EUR: 1000 } } })
    const { events } = run(
      [
        { ex: 'xx', at: 0, bid: 99, ask: 100, size: 5 },
        { ex: 'yy', at: 10, bid: 101, ask: 102, size: 5 },
      ],
      engine,
    )
    expect(events[0]).toMatchObject({ volume: 0.25, netProfit: 0.25, cappedBy: 'balance' })
  })

  it('walks the depth of both books', () => {
    const { events } = run([
      {
        ex: 'xx',
        at: 0,
        bid: 99,
        ask: 0,
        asks: [
          [100, 1],
          [100.5, 1],
          [102, 5],
        ],
      },
      {
        ex: 'yy',
        at: 10,
        bid: 0,
        ask: 104,
        bids: [
          [103, 1.5],
          [101, 2],
        ],
      },
    ])
    expect(events[0]).toMatchObject({ volume: 2, netProfit: 4.5, buy: { price: 100.25 }, sell: { price: 102.5 } })
  })
})

describe('engine re-evaluation', () => {
  it('a tick re-evaluates only the routes that involve its exchange', () => {
    const engine = createEngine(OPTIONS)
    run(
      [
        { ex: 'xx', at: 0, bid: 99, ask: 100 },
        { ex: 'yy', at: 0, bid: 99, ask: 100 },
        { ex: 'zz', at: 0, bid: 99, ask: 100 },
      ],
      engine,
    )
    const before = engine.stats.evaluations
    engine.onTick(tick({ ex: 'zz', at: 10, bid: 99, ask: 100 }))
    // zz>xx, xx>zz, zz>yy, yy>zz; never xx>yy or yy>xx
    expect(engine.stats.evaluations - before).toBe(4)
  })

  it('a tick from another exchange leaves a route it is not part of alone, even when that route went stale', () => {
    const engine = createEngine(OPTIONS)
    const { lines } = run(
      [
        { ex: 'yy', at: 0, bid: 99, ask: 100 },
        { ex: 'zz', at: 0, bid: 101, ask: 102 },
        { ex: 'xx', at: 3000, bid: 90, ask: 91 }, // only xx>yy, yy>xx, xx>zz, zz>xx are looked at (both stale)
        { sweep: 3000 },
      ],
      engine,
    )
    expect(lines).toEqual([[], ['opened BTC-EUR yy>zz'], [], ['closed BTC-EUR yy>zz: stale quote from yy']])
  })

  it('lists open signals', () => {
    const engine = createEngine(OPTIONS)
    run(
      [
        { ex: 'xx', at: 0, bid: 99, ask: 100 },
        { ex: 'yy', at: 10, bid: 101, ask: 102 },
      ],
      engine,
    )
    expect(engine.openSignals()).toEqual([
      expect.objectContaining({ id: `BTC-EUR:xx:yy:${T0 + 10}`, buy: 'xx', sell: 'yy', netProfitBps: 100 }),
    ])
  })

  it('an exchange never given a status starts with initialFeedStatus', () => {
    const engine = createEngine({ ...OPTIONS, initialFeedStatus: 'disconnected' })
    const { lines } = run(
      [
        { ex: 'xx', at: 0, bid: 99, ask: 100 },
        { ex: 'yy', at: 10, bid: 101, ask: 102 },
        { status: ['xx', 'ok', 20] },
        { status: ['yy', 'ok', 20] },
        { ex: 'yy', at: 30, bid: 101, ask: 102 },
      ],
      engine,
    )
    expect(lines).toEqual([[], [], [], [], [O]])
  })
})

describe('replay time', () => {
  it('nextExpiry is when the oldest quote of an open signal becomes too old', () => {
    const engine = createEngine(OPTIONS)
    expect(engine.nextExpiry()).toBe(Infinity)
    run(
      [
        { ex: 'xx', at: 0, bid: 99, ask: 100 },
        { ex: 'yy', at: 10, bid: 101, ask: 102 },
      ],
      engine,
    )
    expect(engine.nextExpiry()).toBe(T0 + 2001)
  })

  it('a replayer closes a signal at the exact moment its quote went stale, before the next tick', () => {
    const r = replayer(createEngine(OPTIONS))
    const states = (q: Quote) =>
      r.onTick(tick(q)).map((e) => `${e.state}@${e.ts - T0}${e.reason ? ` ${e.reason}` : ''}`)
    expect(states({ ex: 'xx', at: 0, bid: 99, ask: 100 })).toEqual([])
    expect(states({ ex: 'yy', at: 10, bid: 101, ask: 102 })).toEqual(['opened@10'])
    expect(states({ ex: 'yy', at: 1500, bid: 101, ask: 102 })).toEqual([])
    // xx has been silent since 0: stale at 2001, long before this tick at 5000.
    expect(states({ ex: 'yy', at: 5000, bid: 101, ask: 102 })).toEqual(['closed@2001 stale quote from xx'])
    expect(r.flush(T0 + 10_000)).toEqual([])
  })

  it('flush closes what went stale by the end of the data and leaves the rest open', () => {
    const r = replayer(createEngine(OPTIONS))
    r.onTick(tick({ ex: 'xx', at: 0, bid: 99, ask: 100 }))
    r.onTick(tick({ ex: 'yy', at: 10, bid: 101, ask: 102 }))
    expect(r.flush(T0 + 2000)).toEqual([])
    expect(r.flush(T0 + 2001).map((e) => e.state)).toEqual(['closed'])
  })
})
