import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { gemini, pairOf, symbol } from './gemini.js'
import type { AdapterSession, FrameResult } from './types.js'

const T0 = 1_700_000_000_000

/** Feeds raw frames to a session the way the feed does (JSON.parse, then onFrame). */
const play = (session: AdapterSession, frames: readonly string[], ts = T0): FrameResult[] =>
  frames.map((raw, i) => session.onFrame(JSON.parse(raw), ts + i, raw))

const ticksOf = (results: readonly FrameResult[]): Tick[] => results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))

// Lines of real-zecltc.jsonl (SOURCES.md): the ZECLTC initial book, then every ZECLTC frame after it.
const zec = () => fixture('gemini', 'real-zecltc')
const [SNAPSHOT, DEL_887, ADD_897, DEL_886, HEARTBEAT, SIZE_897_B] = [0, 1, 2, 3, 4, 5]
const [BID_886, MALFORMED] = fixture('gemini', 'constructed') as [string, string]

const SNAPSHOT_BIDS = [
  [0.858, 7.023773],
  [0.857, 75.699286],
  [0.853, 16.450222],
  [0.852, 21.552324],
  [0.841, 23.958683],
  [0.76, 434.210526],
  [0.75, 0.022],
  [0.662, 0.022],
  [0.615, 1.707317],
  [0.597, 0.022],
]
const SNAPSHOT_ASKS = [
  [0.886, 7.007149],
  [0.887, 1.576919],
  [0.898, 194.236805],
  [1.111, 0.012612],
  [1.156, 0.01],
  [1.184, 0.01],
  [1.192, 0.01],
  [1.204, 0.02],
  [1.209, 0.01],
  [1.223, 0.01],
]

describe('gemini adapter', () => {
  it('subscribes to l2 for every pair on one connection, exactly as the documented request', () => {
    const [doc, real] = fixture('gemini', 'subscribe') as [string, string]
    expect(gemini.subscribe(['BTC-USD', 'ETH-USD', 'ETH-BTC'])).toEqual([JSON.parse(doc)])
    const cryptofeed = ['BTC-GBP', 'LINK-ETH', 'FIL-USD', 'ZEC-LTC', 'BAT-BTC']
    const more = ['ETH-EUR', 'LTC-ETH', 'GRT-USD', 'ANKR-USD', 'ALCX-USD']
    expect(gemini.subscribe([...cryptofeed, ...more])).toEqual([JSON.parse(real)])
    expect(gemini.subscribe(gemini.defaultPairs)).toEqual([
      { type: 'subscribe', subscriptions: [{ name: 'l2', symbols: ['BTCEUR', 'BTCUSD'] }] },
    ])
    expect(gemini.endpoints(['BTC-EUR', 'BTC-USD'], 'ws://127.0.0.1:1/gemini')).toEqual([
      { url: 'ws://127.0.0.1:1/gemini', pairs: ['BTC-EUR', 'BTC-USD'] },
    ])
    expect(gemini.url).toBe('wss://api.gemini.com/v2/marketdata')
    expect(gemini.takerFee).toBe(0.004)
    expect(gemini.takerFeeSource).toMatch(/api-fee-schedule/)
  })

  it('maps symbols both ways, 4-letter quotes included', () => {
    expect(symbol('BTC-USD')).toBe('BTCUSD')
    expect(symbol('ETH-GUSD')).toBe('ETHGUSD')
    const cases: [string, string][] = [
      ['BTCUSD', 'BTC-USD'],
      ['BTCEUR', 'BTC-EUR'],
      ['BTCUSDT', 'BTC-USDT'],
      ['ETHGUSD', 'ETH-GUSD'],
      ['GUSDUSD', 'GUSD-USD'],
      ['USDTUSD', 'USDT-USD'],
      ['ZECLTC', 'ZEC-LTC'],
      ['LINKETH', 'LINK-ETH'],
      ['ANKRUSD', 'ANKR-USD'],
      ['ETHBTC', 'ETH-BTC'],
      ['btcusd', 'BTC-USD'],
    ]
    for (const [sym, pair] of cases) expect(pairOf(sym)).toBe(pair)
    for (const [sym, pair] of cases.slice(0, -1)) expect(symbol(pair)).toBe(sym)
    expect(pairOf('USD')).toBeUndefined()
    expect(pairOf('BTCXYZ')).toBeUndefined()
  })

  it('builds the real ZECLTC book (2021 capture): initial book, then diffs give the captured best bid/ask', () => {
    const results = play(gemini.createSession(['ZEC-LTC']), zec())
    expect(results.map((r) => r.kind)).toEqual(['ticks', 'ticks', 'ticks', 'ticks', 'control', 'ticks', 'ticks'])
    const [snap, del887, add897, del886, size897b, size897c] = ticksOf(results)
    expect(snap).toMatchObject({ v: 1, exchange: 'gemini', pair: 'ZEC-LTC', exchangeTs: null, receivedTs: T0 })
    expect(snap!.bids).toEqual(SNAPSHOT_BIDS)
    expect(snap!.asks).toEqual(SNAPSHOT_ASKS)
    // 0.887 leaves: the 11th ask (1.232) moves into the top 10.
    expect(del887!.asks).toEqual([...SNAPSHOT_ASKS.filter(([p]) => p !== 0.887), [1.232, 0.02]])
    expect(add897!.asks.slice(0, 3)).toEqual([
      [0.886, 7.007149],
      [0.897, 6.97498],
      [0.898, 194.236805],
    ])
    // The best ask is lifted: 0.897 becomes the top.
    expect(del886!.asks[0]).toEqual([0.897, 6.97498])
    expect(size897b!.asks[0]).toEqual([0.897, 13.94996])
    expect(size897c!.asks[0]).toEqual([0.897, 20.92494])
    for (const t of [del887!, add897!, del886!, size897b!, size897c!]) expect(t.bids).toEqual(SNAPSHOT_BIDS)
    const seqs = ticksOf(results).map((t) => t.seq)
    for (const seq of seqs) expect(seq).toMatch(/^[0-9a-f]{16}$/)
    expect(new Set(seqs).size).toBe(seqs.length)
    for (const t of ticksOf(results)) expect(tickDecoder.check(t)).toBe(true)
  })

  it('asks for a resync when a dropped diff leaves a crossed book, and accepts the same frame when none was dropped', () => {
    const frames = zec()
    const whole = play(gemini.createSession(['ZEC-LTC']), [...frames.slice(SNAPSHOT, DEL_886 + 1), BID_886])
    expect(whole.map((r) => r.kind)).toEqual(['ticks', 'ticks', 'ticks', 'ticks', 'ticks'])
    expect(ticksOf(whole).at(-1)).toMatchObject({ bids: expect.arrayContaining([[0.886, 1]]) })
    expect(ticksOf(whole).at(-1)!.asks[0]).toEqual([0.897, 6.97498])
    // The diff that removed the 0.886 ask is lost: a bid at 0.886 now meets the stale ask.
    const dropped = play(gemini.createSession(['ZEC-LTC']), [frames[SNAPSHOT]!, frames[DEL_887]!, BID_886])
    expect(dropped[2]).toEqual({ kind: 'resync', reason: 'crossed book for ZEC-LTC' })
  })

  it('cannot see a dropped diff that leaves the book uncrossed; the next absolute size repairs the level', () => {
    const frames = zec()
    const lost = play(gemini.createSession(['ZEC-LTC']), [frames[SNAPSHOT]!, frames[DEL_887]!, frames[DEL_886]!])
    expect(ticksOf(lost).at(-1)!.asks[0]).toEqual([0.898, 194.236805])
    const healed = play(gemini.createSession(['ZEC-LTC']), [
      frames[SNAPSHOT]!,
      frames[DEL_887]!,
      frames[DEL_886]!,
      frames[SIZE_897_B]!,
    ])
    const full = play(
      gemini.createSession(['ZEC-LTC']),
      frames.slice(SNAPSHOT, SIZE_897_B + 1).filter((_, i) => i !== HEARTBEAT),
    )
    expect(ticksOf(healed).at(-1)!.asks).toEqual(ticksOf(full).at(-1)!.asks)
  })

  it('asks for a resync on a diff before the initial book, or with unreadable changes', () => {
    const [docUpdate] = fixture('gemini', 'doc-btcusd') as [string, string]
    expect(play(gemini.createSession(['BTC-USD']), [docUpdate])[0]).toEqual({
      kind: 'resync',
      reason: 'l2_updates before the initial book for BTC-USD',
    })
    const frames = zec()
    const bad = frames[ADD_897]!.replace('"0.897"', '"abc"')
    expect(play(gemini.createSession(['ZEC-LTC']), [frames[SNAPSHOT]!, bad])[1]).toEqual({
      kind: 'resync',
      reason: 'bad l2_updates changes for ZEC-LTC',
    })
    const badBook = frames[SNAPSHOT]!.replace('["buy","0.858","7.023773"]', '["bid","0.858","7.023773"]')
    expect(play(gemini.createSession(['ZEC-LTC']), [badBook])[0]!.kind).toBe('resync')
  })

  it('treats heartbeats and trades (real and documented) as control', () => {
    const [, heartbeat, trade] = fixture('gemini', 'real-other') as [string, string, string]
    const [, docTrade] = fixture('gemini', 'doc-btcusd') as [string, string]
    const results = play(gemini.createSession(['ANKR-USD', 'BTC-USD']), [heartbeat, trade, docTrade, zec()[HEARTBEAT]!])
    expect(results).toEqual([{ kind: 'control' }, { kind: 'control' }, { kind: 'control' }, { kind: 'control' }])
  })

  it('ignores unknown fields', () => {
    const frames = zec()
    const snapshot = frames[SNAPSHOT]!.replace('"type":"l2_updates",', '"type":"l2_updates","socket_sequence":7,')
    const update = frames[DEL_887]!.replace('"changes":', '"timestampms":1624493671163,"changes":')
    const heartbeat = frames[HEARTBEAT]!.replace('}', ',"sequence":12}')
    const results = play(gemini.createSession(['ZEC-LTC']), [snapshot, update, heartbeat])
    expect(results.map((r) => r.kind)).toEqual(['ticks', 'ticks', 'control'])
    expect(ticksOf(results)[1]!.asks[1]).toEqual([0.898, 194.236805])
  })

  it('leaves the malformed line to the feed (JSON.parse fails before the adapter)', () => {
    expect(() => JSON.parse(MALFORMED)).toThrow(SyntaxError)
  })

  it.each([
    ['an array', []],
    ['null', null],
    ['a number', 42],
    ['the new API bookTicker (doc)', JSON.parse(fixture('gemini', 'doc-new-api')[0]!) as unknown],
    ['the new API depthUpdate (doc)', JSON.parse(fixture('gemini', 'doc-new-api')[1]!) as unknown],
    ['a candles update', { type: 'candles_1m_updates', symbol: 'ZECLTC', changes: [] }],
    ['a book frame without symbol', { type: 'l2_updates', changes: [] }],
    ['an unsubscribed symbol (real BTCGBP diff)', JSON.parse(fixture('gemini', 'real-other')[0]!) as unknown],
  ])('reports %s as an error and keeps going', (_name, frame) => {
    const session = gemini.createSession(['ZEC-LTC'])
    expect(session.onFrame(frame, T0, JSON.stringify(frame)).kind).toBe('error')
    expect(play(session, zec().slice(0, 2)).map((r) => r.kind)).toEqual(['ticks', 'ticks'])
  })

  it('gives identical seqs to two sessions fed the same frames, chained per symbol', () => {
    const frames = zec()
    const seqs = () =>
      ticksOf(play(gemini.createSession(['ZEC-LTC', 'BTC-GBP']), frames)).map((t) => `${t.pair}:${t.seq ?? ''}`)
    expect(seqs()).toHaveLength(6)
    expect(seqs()).toEqual(seqs())
    // Heartbeats and other symbols' frames in between do not change this symbol's chain.
    const [btcgbp] = fixture('gemini', 'real-other') as [string]
    const interleaved = [frames[SNAPSHOT]!, btcgbp, frames[HEARTBEAT]!, frames[DEL_887]!]
    const a = ticksOf(play(gemini.createSession(['ZEC-LTC']), [frames[SNAPSHOT]!, frames[DEL_887]!]))
    const b = ticksOf(play(gemini.createSession(['ZEC-LTC']), interleaved))
    expect(b.map((t) => t.seq)).toEqual(a.map((t) => t.seq))
  })

  it('emits an unchanged top only once TICK_REFRESH_MS has passed, but counts every book frame as data', () => {
    const frames = zec()
    const session = gemini.createSession(['ZEC-LTC'])
    play(session, frames.slice(SNAPSHOT, SIZE_897_B + 1))
    // The same absolute size again moves nothing.
    const again = frames[SIZE_897_B]!
    expect(session.onFrame(JSON.parse(again), T0 + 500, again)).toEqual({ kind: 'ticks', ticks: [] })
    expect(ticksOf([session.onFrame(JSON.parse(again), T0 + 1500, again)])).toHaveLength(1)
  })
})
