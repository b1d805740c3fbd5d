import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { checksumDigits, crc32, kraken, pairOf, symbol } from './kraken.js'
import type { AdapterSession, FrameResult } from './types.js'

const T0 = 1_700_000_000_000

/** Feeds raw frames to a session the way the feed does (JSON.parse, then onFrame). */
const play = (session: AdapterSession, frames: readonly string[], ts = T0): FrameResult[] =>
  frames.map((raw, i) => session.onFrame(JSON.parse(raw), ts + i, raw))

const ticksOf = (results: readonly FrameResult[]): Tick[] => results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))

const matic = () => fixture('kraken', 'doc-matic-usd')
// Lines of doc-matic-usd.jsonl (SOURCES.md).
const [ACK, STATUS, HEARTBEAT, SNAPSHOT, UPDATE, PONG, TICKER, REFUSED, MALFORMED] = [0, 1, 2, 3, 4, 5, 6, 7, 8]

describe('kraken adapter', () => {
  it('subscribes to the depth-10 book of every pair on one connection, BTC/EUR ↔ BTC-EUR', () => {
    expect(kraken.subscribe(['BTC-EUR', 'BTC-USD'])).toEqual([
      { method: 'subscribe', params: { channel: 'book', symbol: ['BTC/EUR', 'BTC/USD'], depth: 10 } },
    ])
    expect(kraken.endpoints(['BTC-EUR', 'BTC-USD'], 'ws://127.0.0.1:1/kraken')).toEqual([
      { url: 'ws://127.0.0.1:1/kraken', pairs: ['BTC-EUR', 'BTC-USD'] },
    ])
    expect(symbol('BTC-EUR')).toBe('BTC/EUR')
    expect(pairOf('BTC/EUR')).toBe('BTC-EUR')
    expect(kraken.url).toBe('wss://ws.kraken.com/v2')
    expect(kraken.takerFee).toBe(0.004)
    expect(kraken.takerFeeSource).toMatch(/^unverified/)
  })

  it('computes CRC-32 as zlib does, and the checksum digits as the guide does', () => {
    expect(crc32('hello')).toBe(907060870)
    expect(checksumDigits('45285.2', 1)).toBe('452852')
    expect(checksumDigits('0.00100000', 8)).toBe('100000')
    expect(checksumDigits('0.566', 4)).toBe('5660')
    expect(checksumDigits('18097.1547', 8)).toBe('1809715470000')
  })

  it('builds the documented MATIC/USD book: snapshot (2439117997) then update (2114181697) verify', () => {
    const frames = matic()
    const results = play(kraken.createSession(['MATIC-USD']), frames.slice(0, 6))
    expect(results.map((r) => r.kind)).toEqual(['control', 'control', 'control', 'ticks', 'ticks', 'control'])
    const [snap, upd] = ticksOf(results)
    expect(snap).toMatchObject({ v: 1, exchange: 'kraken', pair: 'MATIC-USD', exchangeTs: null, receivedTs: T0 + 3 })
    expect(snap!.bids[0]).toEqual([0.5666, 4831.75496356])
    expect(snap!.asks[0]).toEqual([0.5668, 4410.79769741])
    expect(snap!.bids).toHaveLength(10)
    expect(snap!.asks.at(-1)).toEqual([0.5677, 36304.0847022])
    expect(upd!.bids.at(-1)).toEqual([0.5657, 1098.3947558])
    expect(upd!.bids.slice(0, 9)).toEqual(snap!.bids.slice(0, 9))
    expect(upd!.asks).toEqual(snap!.asks)
    expect(upd!.exchangeTs).toBe(Date.parse('2023-10-06T17:35:55.440Z'))
    expect(upd!.seq).toMatch(/^[0-9a-f]{16}$/)
    expect(upd!.seq).not.toBe(snap!.seq)
    for (const t of [snap!, upd!]) expect(tickDecoder.check(t)).toBe(true)
  })

  it('verifies the checksum guide worked example (BTC/USD, 3310070434)', () => {
    const [snapshot] = fixture('kraken', 'doc-btc-usd')
    const [result] = play(kraken.createSession(['BTC-USD']), [snapshot!])
    const [t] = ticksOf([result!])
    expect(t).toMatchObject({ pair: 'BTC-USD', bids: expect.any(Array), asks: expect.any(Array) })
    expect(t!.bids[0]).toEqual([45283.5, 0.1])
    expect(t!.asks[0]).toEqual([45285.2, 0.001])
  })

  it('asks for a resync on a corrupted checksum', () => {
    const frames = matic()
    const corrupted = frames[UPDATE]!.replace('2114181697', '2114181698')
    const results = play(kraken.createSession(['MATIC-USD']), [frames[SNAPSHOT]!, corrupted])
    expect(results[1]).toEqual({
      kind: 'resync',
      reason: 'checksum mismatch for MATIC-USD: got 2114181697, expected 2114181698',
      cause: 'checksum',
    })
    // A corrupted level (not the checksum) is caught the same way.
    const level = frames[UPDATE]!.replace('1098.3947558', '1098.3947559')
    expect(play(kraken.createSession(['MATIC-USD']), [frames[SNAPSHOT]!, level])[1]!.kind).toBe('resync')
  })

  it('asks for a resync when an update was dropped, and accepts the chain when none was', () => {
    const frames = matic()
    const [update2] = fixture('kraken', 'constructed-matic-update2')
    const whole = play(kraken.createSession(['MATIC-USD']), [frames[SNAPSHOT]!, frames[UPDATE]!, update2!])
    expect(whole.map((r) => r.kind)).toEqual(['ticks', 'ticks', 'ticks'])
    expect(ticksOf(whole)[2]!.asks[0]).toEqual([0.5669, 4655.40412487])
    const dropped = play(kraken.createSession(['MATIC-USD']), [frames[SNAPSHOT]!, update2!])
    expect(dropped[1]).toMatchObject({
      kind: 'resync',
      reason: expect.stringMatching(/^checksum mismatch for MATIC-USD/),
      cause: 'checksum',
    })
  })

  it('asks for a resync on an update before any snapshot, or with unreadable levels', () => {
    const frames = matic()
    expect(play(kraken.createSession(['MATIC-USD']), [frames[UPDATE]!])[0]).toEqual({
      kind: 'resync',
      reason: 'book update before snapshot for MATIC-USD',
    })
    const bad = frames[UPDATE]!.replace('"price":0.5657', '"price":"x"')
    expect(play(kraken.createSession(['MATIC-USD']), [frames[SNAPSHOT]!, bad])[1]).toEqual({
      kind: 'resync',
      reason: 'bad book update for MATIC-USD',
    })
  })

  it('treats acks, status, heartbeats and pongs as control; a refused subscribe is an error', () => {
    const frames = matic()
    const session = kraken.createSession(['MATIC-USD'])
    expect(play(session, [frames[ACK]!, frames[STATUS]!, frames[HEARTBEAT]!, frames[PONG]!])).toEqual([
      { kind: 'control' },
      { kind: 'control' },
      { kind: 'control' },
      { kind: 'control' },
    ])
    expect(play(session, [frames[REFUSED]!])[0]).toEqual({
      kind: 'error',
      reason: 'exchange error: subscribe: Currency pair not supported BTCCC/USD',
    })
  })

  it('leaves the malformed line to the feed (JSON.parse fails before the adapter)', () => {
    expect(() => JSON.parse(matic()[MALFORMED]!)).toThrow(SyntaxError)
  })

  it('ignores unknown fields', () => {
    const frames = matic()
    const extra = frames[SNAPSHOT]!.replace('"type":"snapshot"', '"type":"snapshot","sequence_hint":7').replace(
      '"checksum":',
      '"new_field":{"price":1},"checksum":',
    )
    const [r] = play(kraken.createSession(['MATIC-USD']), [extra])
    expect(r!.kind).toBe('ticks')
  })

  it.each([
    ['an array', []],
    ['null', null],
    ['a channel not subscribed to (ticker)', JSON.parse(matic()[TICKER]!) as unknown],
    ['an unknown channel', { channel: 'level3', type: 'snapshot', data: [] }],
    ['an unknown book type', { channel: 'book', type: 'delta', data: [] }],
    ['a book message without data', { channel: 'book', type: 'snapshot' }],
    [
      'an unsubscribed symbol',
      { channel: 'book', type: 'snapshot', data: [{ symbol: 'ETH/USD', bids: [], asks: [] }] },
    ],
    ['a bad snapshot', { channel: 'book', type: 'snapshot', data: [{ symbol: 'MATIC/USD', bids: 1, asks: [] }] }],
  ])('reports %s as an error and keeps going', (_name, frame) => {
    const session = kraken.createSession(['MATIC-USD'])
    expect(session.onFrame(frame, T0, JSON.stringify(frame)).kind).toBe('error')
    expect(play(session, [matic()[SNAPSHOT]!])[0]!.kind).toBe('ticks')
  })

  it('gives identical seqs to two sessions fed the same frames', () => {
    const frames = matic()
    const seqs = () =>
      ticksOf(
        play(
          kraken.createSession(['MATIC-USD']),
          frames.slice(0, 7).filter((_, i) => i !== TICKER),
        ),
      ).map((t) => t.seq)
    expect(seqs()).toHaveLength(2)
    expect(seqs()).toEqual(seqs())
  })

  it('emits an unchanged top only once TICK_REFRESH_MS has passed, but counts every book frame as data', () => {
    const frames = matic()
    const session = kraken.createSession(['MATIC-USD'])
    play(session, [frames[SNAPSHOT]!])
    // A heartbeat-like empty update: no level moves, the checksum is the snapshot's.
    const empty =
      '{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[],"asks":[],"checksum":2439117997}]}'
    expect(session.onFrame(JSON.parse(empty), T0 + 500, empty)).toEqual({ kind: 'ticks', ticks: [] })
    expect(ticksOf([session.onFrame(JSON.parse(empty), T0 + 1500, empty)])).toHaveLength(1)
  })
})
