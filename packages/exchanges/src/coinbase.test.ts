import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { coinbase } from './coinbase.js'
import type { AdapterSession, FrameResult } from './types.js'

const T0 = 1_700_000_000_000

/** Feeds raw frames to a session the way the feed does (JSON.parse, then onFrame). */
const play = (session: AdapterSession, frames: readonly string[], ts = T0): FrameResult[] =>
  frames.map((raw, i) => session.onFrame(JSON.parse(raw), ts + i, raw))

const ticksOf = (results: readonly FrameResult[]): Tick[] => results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))

describe('coinbase adapter', () => {
  it('subscribes to ticker, level2_batch and heartbeat on one connection', () => {
    expect(coinbase.subscribe(['BTC-EUR', 'BTC-USD'])).toEqual([
      { type: 'subscribe', product_ids: ['BTC-EUR', 'BTC-USD'], channels: ['ticker', 'level2_batch', 'heartbeat'] },
    ])
    expect(coinbase.endpoints(['BTC-EUR', 'BTC-USD'], 'ws://127.0.0.1:1')).toEqual([
      { url: 'ws://127.0.0.1:1', pairs: ['BTC-EUR', 'BTC-USD'] },
    ])
    expect(coinbase.defaultPairs).toEqual(['BTC-EUR', 'BTC-USD'])
    expect(coinbase.takerFee).toBe(0.006)
  })

  it('builds the book from a real snapshot and update (SKL-GBP, 2021 capture)', () => {
    const [ack, snapshot, ticker, update] = fixture('coinbase', 'real-skl-gbp')
    const session = coinbase.createSession(['SKL-GBP'])
    const results = play(session, [ack!, snapshot!, ticker!, update!])
    expect(results.map((r) => r.kind)).toEqual(['control', 'ticks', 'control', 'ticks'])
    const [first, second] = ticksOf(results)
    expect(first).toMatchObject({ v: 1, exchange: 'coinbase', pair: 'SKL-GBP', exchangeTs: null, receivedTs: T0 + 1 })
    expect(first!.bids).toEqual([
      [0.5742, 1029.5],
      [0.5741, 1268.2],
      [0.5733, 511],
      [0.5722, 530],
      [0.5721, 645],
      [0.572, 18044.4],
      [0.5719, 12634.7],
      [0.5691, 5],
      [0.569, 7523],
      [0.5689, 500],
    ])
    expect(first!.asks).toEqual([
      [0.5762, 2865.9],
      [0.5767, 6327.2],
      [0.5771, 150],
      [0.5781, 5788],
      [0.5783, 1735],
      [0.5785, 9525],
      [0.5787, 8064.8],
      [0.5788, 9361],
      [0.5793, 12644.7],
      [0.5812, 31627.9],
    ])
    // The update shrinks the best ask; the rest of the top is unchanged.
    expect(second!.asks[0]).toEqual([0.5762, 335])
    expect(second!.asks.slice(1)).toEqual(first!.asks.slice(1))
    expect(second!.bids).toEqual(first!.bids)
    expect(second!.exchangeTs).toBe(Date.UTC(2021, 3, 17, 16, 43, 37, 78))
    expect(first!.seq).toMatch(/^[0-9a-f]{16}$/)
    expect(second!.seq).not.toBe(first!.seq)
    for (const t of [first!, second!]) expect(tickDecoder.check(t)).toBe(true)
  })

  it('plays the documented BTC-USD messages: acks and heartbeats are control, an error frame is an error', () => {
    const frames = fixture('coinbase', 'doc-btc-usd')
    // Line 5 is the deliberately malformed frame: the feed's JSON.parse rejects it before any adapter sees it.
    expect(() => JSON.parse(frames[4]!)).toThrow(SyntaxError)
    const session = coinbase.createSession(['BTC-USD'])
    const results = play(
      session,
      frames.filter((_, i) => i !== 4),
    )
    expect(results.map((r) => r.kind)).toEqual(['control', 'control', 'ticks', 'control', 'ticks', 'error'])
    const [snap, upd] = ticksOf(results)
    expect(snap).toMatchObject({ bids: [[10101.1, 0.4505414]], asks: [[10102.55, 0.57753524]], exchangeTs: null })
    expect(upd).toMatchObject({
      bids: [
        [10101.8, 0.162567],
        [10101.1, 0.4505414],
      ],
      asks: [[10102.55, 0.57753524]],
      exchangeTs: Date.parse('2019-08-14T20:42:27.265Z'),
    })
    expect(results[5]).toEqual({
      kind: 'error',
      reason: 'exchange error: Failed to subscribe: GIBBERISH-USD is not a valid product',
    })
  })

  it('asks for a resync when an update crosses the book', () => {
    const snapshot = fixture('coinbase', 'doc-btc-usd')[2]!
    const [multi] = fixture('coinbase', 'doc-l2update-multi')
    const results = play(coinbase.createSession(['BTC-USD']), [snapshot, multi!])
    expect(results[1]).toEqual({ kind: 'resync', reason: 'crossed book for BTC-USD' })
  })

  it('asks for a resync on an update before any snapshot, or with unreadable changes', () => {
    const update = fixture('coinbase', 'doc-btc-usd')[5]!
    expect(play(coinbase.createSession(['BTC-USD']), [update])[0]).toEqual({
      kind: 'resync',
      reason: 'l2update before snapshot for BTC-USD',
    })
    const session = coinbase.createSession(['BTC-USD'])
    play(session, [fixture('coinbase', 'doc-btc-usd')[2]!])
    const bad = {
      type: 'l2update',
      product_id: 'BTC-USD',
      changes: [['buy', 'abc', '1']],
      time: '2019-08-14T20:42:27Z',
    }
    expect(session.onFrame(bad, T0, JSON.stringify(bad)).kind).toBe('resync')
  })

  it.each([
    ['an array', []],
    ['a number', 42],
    ['null', null],
    ['an unknown type', { type: 'status', products: [] }],
    ['a book message without product', { type: 'snapshot', bids: [], asks: [] }],
    ['an unsubscribed product', { type: 'snapshot', product_id: 'ETH-USD', bids: [], asks: [] }],
    ['bad snapshot levels', { type: 'snapshot', product_id: 'BTC-USD', bids: [['x', '1']], asks: [] }],
  ])('reports %s as an error and keeps going', (_name, frame) => {
    const session = coinbase.createSession(['BTC-USD'])
    expect(session.onFrame(frame, T0, JSON.stringify(frame)).kind).toBe('error')
    const snapshot = fixture('coinbase', 'doc-btc-usd')[2]!
    expect(play(session, [snapshot])[0]!.kind).toBe('ticks')
  })

  it('emits an unchanged top only once TICK_REFRESH_MS has passed, but counts every book frame as data', () => {
    const frames = fixture('coinbase', 'doc-btc-usd')
    const session = coinbase.createSession(['BTC-USD'])
    play(session, [frames[2]!, frames[5]!]) // snapshot, update
    const again = session.onFrame(JSON.parse(frames[5]!), T0 + 500, frames[5]!)
    expect(again).toEqual({ kind: 'ticks', ticks: [] })
    const later = session.onFrame(JSON.parse(frames[5]!), T0 + 1500, frames[5]!)
    expect(ticksOf([later])).toHaveLength(1)
  })

  it('gives identical seqs to two sessions fed the same frames, and agrees with a late joiner after one frame', () => {
    const real = fixture('coinbase', 'real-skl-gbp')
    const seqs = (frames: string[]) => ticksOf(play(coinbase.createSession(['SKL-GBP']), frames)).map((t) => t.seq)
    expect(seqs(real)).toEqual(seqs(real))

    // Constructed (not exchange text): a second replica's own snapshot, then the same two updates.
    const snapshot = real[1]!
    const otherSnapshot = snapshot.replace('["0.5742","1029.5"]', '["0.5742","1000.0"]')
    const update1 = real[3]!
    const update2 = update1.replace('"335.0"', '"300.0"').replace('37.078325Z', '37.128325Z')
    const a = seqs([snapshot, update1, update2])
    const b = seqs([otherSnapshot, update1, update2])
    expect(b[0]).not.toBe(a[0])
    expect(b[1]).not.toBe(a[1]) // chained to a different snapshot
    expect(b[2]).toBe(a[2])
  })
})
