import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { bl3p } from './bl3p.js'
import type { FrameResult } from './types.js'

const T0 = 1_700_000_000_000
const ticksOf = (r: FrameResult): readonly Tick[] => (r.kind === 'ticks' ? r.ticks : [])

describe('bl3p adapter', () => {
  it('opens one orderbook connection per market and sends no subscribe', () => {
    expect(bl3p.endpoints(['BTC-EUR', 'LTC-EUR'], 'wss://api.bl3p.eu/')).toEqual([
      { url: 'wss://api.bl3p.eu/1/BTCEUR/orderbook', pairs: ['BTC-EUR'] },
      { url: 'wss://api.bl3p.eu/1/LTCEUR/orderbook', pairs: ['LTC-EUR'] },
    ])
    expect(bl3p.subscribe(['BTC-EUR'])).toEqual([])
    expect(() => bl3p.createSession(['BTC-EUR', 'LTC-EUR'])).toThrow(RangeError)
  })

  it('turns a full orderbook (2017 capture) into the top 10 of each side', () => {
    const [raw] = fixture('bl3p', 'orderbook-2017')
    const result = bl3p.createSession(['BTC-EUR']).onFrame(JSON.parse(raw!), T0, raw!)
    const [tick] = ticksOf(result)
    expect(tick).toMatchObject({ v: 1, exchange: 'bl3p', pair: 'BTC-EUR', exchangeTs: null, receivedTs: T0 })
    expect(tick!.bids).toEqual([
      [5013.31, 1],
      [5003.45, 5],
      [4993.32, 1.25],
      [4991.68999, 0.49999999],
      [4983.32, 8.75],
      [4983.2, 0.44],
      [4979.82, 3.5],
      [4976.29, 15],
      [4970, 0.41356338],
      [4950.00001, 1.20303493],
    ])
    expect(tick!.asks).toEqual([
      [5046.21, 2.525],
      [5049.23, 1.475],
      [5050, 0.20486543],
      [5050.85, 6.301],
      [5058.71, 1],
      [5064.3, 4.592],
      [5064.34, 3.721],
      [5073.41, 5],
      [5077.37, 1.25],
      [5087.50999, 1.21073509],
    ])
    expect(tickDecoder.check(tick)).toBe(true)
  })

  it('reports a trade message as an error (the malformed line never reaches the adapter)', () => {
    const [trade, malformed] = fixture('bl3p', 'other-frames')
    expect(bl3p.createSession(['BTC-EUR']).onFrame(JSON.parse(trade!), T0, trade!).kind).toBe('error')
    expect(() => JSON.parse(malformed!)).toThrow(SyntaxError)
  })

  // Constructed frames (the docs' optional fields, and broken books); see exchange-samples/bl3p.md.
  it('accepts the optional count and marketplace fields, and rejects another market', () => {
    const book = {
      marketplace: 'BTCEUR',
      asks: [{ price_int: 802466000, amount_int: 6193344, count: 1 }],
      bids: [{ price_int: 802000000, amount_int: 100000000, count: 3 }],
    }
    const session = bl3p.createSession(['BTC-EUR'])
    expect(ticksOf(session.onFrame(book, T0, JSON.stringify(book)))[0]).toMatchObject({
      bids: [[8020, 1]],
      asks: [[8024.66, 0.06193344]],
    })
    const ltc = { ...book, marketplace: 'LTCEUR' }
    expect(session.onFrame(ltc, T0, JSON.stringify(ltc)).kind).toBe('error')
  })

  it.each([
    ['a crossed book', { asks: [{ price_int: 100, amount_int: 1 }], bids: [{ price_int: 200, amount_int: 1 }] }],
    ['a string price', { asks: [{ price_int: '100', amount_int: 1 }], bids: [] }],
    ['a negative amount', { asks: [{ price_int: 100, amount_int: -1 }], bids: [] }],
    ['a level that is not an object', { asks: [[100, 1]], bids: [] }],
    ['not an object', [1, 2]],
  ])('reports %s as an error', (_name, frame) => {
    expect(bl3p.createSession(['BTC-EUR']).onFrame(frame, T0, JSON.stringify(frame)).kind).toBe('error')
  })

  it('gives the same seq to two sessions from their second common frame on', () => {
    const [raw] = fixture('bl3p', 'orderbook-2017')
    // Constructed successors: the capture with its best ask taken, twice over.
    const next1 = raw!.replace('{"price_int":504621000,"amount_int":252500000},', '')
    const next2 = next1.replace('{"price_int":504923000,"amount_int":147500000},', '')
    const seqs = (frames: string[]) => {
      const session = bl3p.createSession(['BTC-EUR'])
      return frames.map((f, i) => ticksOf(session.onFrame(JSON.parse(f), T0 + i * 2000, f))[0]?.seq)
    }
    const early = seqs([raw!, next1, next2])
    const late = seqs([next1, next2])
    expect(early).toEqual(seqs([raw!, next1, next2]))
    expect(late[1]).toBe(early[2])
    expect(late[0]).not.toBe(early[1])
  })
})
