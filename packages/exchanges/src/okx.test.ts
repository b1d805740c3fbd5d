import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { L2Book } from './book.js'
import { checksum, MAX_STALE_SNAPSHOTS, okx, pairOf, symbol, type LevelEntries } from './okx.js'
import type { AdapterSession, FrameResult } from './types.js'

const T0 = 1_700_000_000_000
const PAIR = 'BTC-USD-220527'

/** Feeds raw frames to a session the way the feed does (JSON.parse, then onFrame). */
const play = (session: AdapterSession, frames: readonly string[], ts = T0): FrameResult[] =>
  frames.map((raw, i) => session.onFrame(JSON.parse(raw), ts + i, raw))

const ticksOf = (results: readonly FrameResult[]): Tick[] => results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))

// Lines of real-btc-usd-220527.jsonl: ack, snapshot, then nine consecutive updates (SOURCES.md).
const real = () => fixture('okx', 'real-btc-usd-220527')
const [ACK, SNAPSHOT, U1, U2, U3, U4] = [0, 1, 2, 3, 4, 5]
// Lines of doc.jsonl.
const doc = () => fixture('okx', 'doc')
const [D_REQUEST, D_ACK, D_ERROR, D_SNAPSHOT, D_UPDATE, D_BBO, D_REST, D_NOTICE, D_MALFORMED] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8,
]

// Frames derived from the fixtures (SOURCES.md, "Derived in the tests"); levels are never touched.
/** The 2026 sequence fields, inserted before `checksum` as OKX places them. */
const withSeq = (raw: string, prevSeqId: number, seqId: number): string =>
  raw.replace('"checksum":', `"prevSeqId":${prevSeqId},"seqId":${seqId},"checksum":`)
/** What production sends since 2026-06-23: the checksum field, always 0. */
const zeroChecksum = (raw: string): string => raw.replace(/"checksum":-?\d+/, '"checksum":0')
/** The recorded snapshot's book in the REST response shape of GET /api/v5/market/books (doc line 7). */
const restBody = (seqId: number, snapshotRaw = real()[SNAPSHOT]!): unknown => {
  const [data] = (JSON.parse(snapshotRaw) as { data: Record<string, unknown>[] }).data
  return { code: '0', msg: '', data: [{ asks: data!['asks'], bids: data!['bids'], ts: data!['ts'], seqId }] }
}

describe('okx adapter', () => {
  it('subscribes to the 400-level books of every pair on one connection; instIds are our pairs', () => {
    expect(okx.subscribe(['BTC-EUR', 'BTC-USDT'])).toEqual([
      {
        op: 'subscribe',
        args: [
          { channel: 'books', instId: 'BTC-EUR' },
          { channel: 'books', instId: 'BTC-USDT' },
        ],
      },
    ])
    // The documented request has the same shape (its `id` is optional).
    const { id: _id, ...request } = JSON.parse(doc()[D_REQUEST]!) as Record<string, unknown>
    expect(okx.subscribe(['BTC-USDT'])).toEqual([request])
    expect(okx.endpoints(['BTC-EUR', 'BTC-USDT'], 'ws://127.0.0.1:1/okx')).toEqual([
      { url: 'ws://127.0.0.1:1/okx', pairs: ['BTC-EUR', 'BTC-USDT'] },
    ])
    for (const id of ['BTC-EUR', 'BTC-USDT', 'BTC-USD']) {
      expect(symbol(id)).toBe(id)
      expect(pairOf(id)).toBe(id)
    }
    expect(okx.url).toBe('wss://ws.okx.com:8443/ws/v5/public')
    expect(okx.defaultPairs).toEqual(['BTC-EUR', 'BTC-USDT'])
    expect(okx.takerFee).toBe(0.001)
    expect(okx.takerFeeSource).toMatch(/^https:\/\/www\.okx\.com\/fees/)
  })

  it('asks for the REST snapshot at the channel depth, and keeps the connection alive with ping/pong text', () => {
    expect(okx.restUrl).toBe('https://www.okx.com')
    expect(okx.snapshotUrl!('BTC-USDT', 'https://www.okx.com/')).toBe(
      'https://www.okx.com/api/v5/market/books?instId=BTC-USDT&sz=400',
    )
    expect(okx.keepalive).toMatchObject({ intervalMs: 20_000, frame: 'ping' })
    expect(okx.keepalive!.intervalMs).toBeLessThan(30_000)
    expect(okx.keepalive!.isReply('pong')).toBe(true)
    expect(okx.keepalive!.isReply(doc()[D_ACK]!)).toBe(false)
  })

  it('computes the checksum string as the documentation examples build it', () => {
    const build = (bids: [string, string][], asks: [string, string][]) => {
      const book = new L2Book()
      const entries: LevelEntries = { bid: new Map(), ask: new Map() }
      for (const [side, levels] of [
        ['bid', bids],
        ['ask', asks],
      ] as const) {
        for (const [px, sz] of levels) {
          book.set(side, Number(px), Number(sz))
          entries[side].set(Number(px), [px, sz])
        }
      }
      return checksum(book, entries)
    }
    const signedCrc = (text: string) => {
      let crc = 0xffffffff
      for (const byte of Buffer.from(text)) {
        crc ^= byte
        for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1
      }
      return (crc ^ 0xffffffff) | 0
    }
    expect(
      build(
        [
          ['3366.1', '7'],
          ['3366', '6'],
        ],
        [
          ['3366.8', '9'],
          ['3368', '8'],
        ],
      ),
    ).toBe(signedCrc('3366.1:7:3366.8:9:3366:6:3368:8'))
    expect(
      build(
        [['3366.1', '7']],
        [
          ['3366.8', '9'],
          ['3368', '8'],
          ['3372', '8'],
        ],
      ),
    ).toBe(signedCrc('3366.1:7:3366.8:9:3368:8:3372:8'))
  })

  it('builds the recorded book: the snapshot and nine updates, every checksum verified', () => {
    const frames = real()
    const results = play(okx.createSession([PAIR]), frames)
    expect(results.map((r) => r.kind)).toEqual(['control', ...Array<string>(10).fill('ticks')])
    const ticks = ticksOf(results)
    const first = ticks[0]!
    expect(first).toMatchObject({ v: 1, exchange: 'okx', pair: PAIR, exchangeTs: 1652459225393, receivedTs: T0 + 1 })
    expect(first.bids.slice(0, 3)).toEqual([
      [30233.6, 3],
      [30219.4, 104],
      [30219.3, 1520],
    ])
    expect(first.asks.slice(0, 3)).toEqual([
      [30238.8, 2],
      [30249.5, 50],
      [30249.6, 29],
    ])
    expect(first.bids).toHaveLength(10)
    const last = ticks.at(-1)!
    expect(last.exchangeTs).toBe(1652459226333)
    expect(last.bids.slice(0, 3)).toEqual([
      [30236.9, 3],
      [30220.7, 4],
      [30220.6, 38],
    ])
    expect(last.asks.slice(0, 3)).toEqual([
      [30243.6, 2],
      [30244.2, 2],
      [30255.4, 50],
    ])
    // No sequence numbers in 2022: seq is the chained frame hash.
    expect(first.seq).toMatch(/^[0-9a-f]{16}$/)
    expect(new Set(ticks.map((t) => t.seq)).size).toBe(ticks.length)
  })

  it('asks for a resync on a corrupted checksum or a corrupted level', () => {
    const frames = real()
    const corrupted = frames[U1]!.replace('-914047754', '-914047755')
    expect(play(okx.createSession([PAIR]), [frames[SNAPSHOT]!, corrupted])[1]).toEqual({
      kind: 'resync',
      reason: `checksum mismatch for ${PAIR}: got -914047754, expected -914047755`,
      cause: 'checksum',
    })
    const level = frames[U1]!.replace('["30261","4","0","1"]', '["30261","5","0","1"]')
    expect(play(okx.createSession([PAIR]), [frames[SNAPSHOT]!, level])[1]).toMatchObject({ cause: 'checksum' })
    const snapshot = frames[SNAPSHOT]!.replace('1054815633', '1054815634')
    expect(play(okx.createSession([PAIR]), [snapshot])[0]).toMatchObject({ kind: 'resync', cause: 'checksum' })
  })

  it('rejects the channel page snapshot example with its own (illustrative) checksum', () => {
    const [result] = play(okx.createSession(['BTC-USDT']), [doc()[D_SNAPSHOT]!])
    expect(result).toMatchObject({ kind: 'resync', cause: 'checksum', reason: /expected -855196043$/ })
  })

  it('asks for a resync when an update is lost: by checksum without seqId, by seqId with it', () => {
    const frames = real()
    const byChecksum = play(okx.createSession([PAIR]), [frames[SNAPSHOT]!, frames[U1]!, frames[U3]!])
    expect(byChecksum.map((r) => r.kind)).toEqual(['ticks', 'ticks', 'resync'])
    expect(byChecksum[2]).toMatchObject({ cause: 'checksum' })

    const seq = [
      withSeq(frames[SNAPSHOT]!, -1, 100),
      withSeq(frames[U1]!, 100, 105),
      withSeq(frames[U2]!, 105, 110),
      withSeq(frames[U3]!, 110, 118),
      withSeq(frames[U4]!, 118, 120),
    ]
    const whole = play(okx.createSession([PAIR]), seq)
    expect(whole.map((r) => r.kind)).toEqual(['ticks', 'ticks', 'ticks', 'ticks', 'ticks'])
    expect(ticksOf(whole).map((t) => t.seq)).toEqual(['100', '105', '110', '118', '120'])
    // Without checksums (production today) the sequence numbers alone catch the loss.
    const dropped = play(okx.createSession([PAIR]), [seq[0]!, seq[1]!, seq[3]!].map(zeroChecksum))
    expect(dropped[2]).toEqual({
      kind: 'resync',
      reason: `sequence gap for ${PAIR}: prevSeqId 110 after seqId 105`,
      cause: 'gap',
    })
  })

  it('accepts the documented no-change keep-alive and sequence reset', () => {
    const frames = real()
    const session = okx.createSession([PAIR])
    play(session, [withSeq(frames[SNAPSHOT]!, -1, 100), withSeq(frames[U1]!, 100, 105)])
    const keepalive = `{"arg":{"channel":"books","instId":"${PAIR}"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1652459285464","checksum":-914047754,"prevSeqId":105,"seqId":105}]}`
    expect(session.onFrame(JSON.parse(keepalive), T0 + 500, keepalive)).toEqual({ kind: 'ticks', ticks: [] })
    // A second later the unchanged top is due a refresh; the book's seqId has not moved.
    const [refresh] = ticksOf([session.onFrame(JSON.parse(keepalive), T0 + 1500, keepalive)])
    expect(refresh).toMatchObject({ seq: '105', exchangeTs: 1652459285464 })
    const reset = [withSeq(frames[U2]!, 105, 3), withSeq(frames[U3]!, 3, 5)]
    expect(ticksOf(play(session, reset, T0 + 2000)).map((t) => t.seq)).toEqual(['3', '5'])
  })

  it('starts the book from the REST snapshot: buffers, drops what the snapshot holds, applies the rest', () => {
    const frames = real()
    const session = okx.createSession([PAIR])
    // U2 posing as an update the snapshot already holds: applied, it would break U1's checksum below.
    const buffered = [withSeq(frames[U2]!, 90, 95), withSeq(frames[U1]!, 95, 105), withSeq(frames[U2]!, 105, 110)]
    expect(play(session, buffered)).toEqual([
      { kind: 'ticks', ticks: [], fetch: [PAIR] },
      { kind: 'ticks', ticks: [] },
      { kind: 'ticks', ticks: [] },
    ])
    const synced = session.onSnapshot!(PAIR, restBody(100), T0 + 10)
    const [tick] = ticksOf([synced])
    expect(tick).toMatchObject({ pair: PAIR, seq: '110', exchangeTs: 1652459225569, receivedTs: T0 + 10 })
    expect(tick!.bids[0]).toEqual([30232.5, 3])
    expect(tick!.asks[0]).toEqual([30238.8, 2])
    // Live again: the next update chains to the last buffered one and its checksum verifies.
    expect(ticksOf(play(session, [withSeq(frames[U3]!, 110, 118)])).map((t) => t.seq)).toEqual(['118'])
    // A snapshot arriving late changes nothing.
    expect(session.onSnapshot!(PAIR, restBody(100), T0 + 20)).toEqual({ kind: 'control' })
  })

  it('fetches the snapshot again while it is older than the first buffered update, then gives up', () => {
    const frames = real()
    const session = okx.createSession([PAIR])
    play(session, [withSeq(frames[U1]!, 95, 105)])
    expect(session.onSnapshot!(PAIR, restBody(94), T0)).toEqual({ kind: 'control', fetch: [PAIR] })
    expect(ticksOf([session.onSnapshot!(PAIR, restBody(95), T0)]).map((t) => t.seq)).toEqual(['105'])

    const stuck = okx.createSession([PAIR])
    play(stuck, [withSeq(frames[U1]!, 95, 105)])
    const results = Array.from({ length: MAX_STALE_SNAPSHOTS }, () => stuck.onSnapshot!(PAIR, restBody(90), T0))
    expect(results.slice(0, -1).every((r) => r.kind === 'control')).toBe(true)
    expect(results.at(-1)).toMatchObject({ kind: 'resync', reason: /5 REST snapshots of BTC-USD-220527 older/ })
  })

  it('after a REST snapshot, skips updates it holds and resyncs when the next one does not reach it', () => {
    const frames = real().map(zeroChecksum)
    const session = okx.createSession([PAIR])
    play(session, [withSeq(frames[U1]!, 95, 99)])
    expect(ticksOf([session.onSnapshot!(PAIR, restBody(100), T0)]).map((t) => t.seq)).toEqual(['100'])
    expect(play(session, [withSeq(frames[U2]!, 99, 100)])).toEqual([{ kind: 'ticks', ticks: [] }])
    expect(play(session, [withSeq(frames[U3]!, 104, 108)])[0]).toEqual({
      kind: 'resync',
      reason: `sequence gap for ${PAIR}: prevSeqId 104 after REST snapshot seqId 100`,
      cause: 'gap',
    })
    // A gap among the buffered updates is caught before any snapshot.
    const buffering = okx.createSession([PAIR])
    expect(play(buffering, [withSeq(frames[U1]!, 95, 99), withSeq(frames[U2]!, 100, 104)])[1]).toMatchObject({
      kind: 'resync',
      cause: 'gap',
    })
  })

  it('syncs the documentation examples: the REST response holds the buffered update', () => {
    const d = doc()
    const session = okx.createSession(['BTC-USDT'])
    expect(play(session, [d[D_UPDATE]!])).toEqual([{ kind: 'ticks', ticks: [], fetch: ['BTC-USDT'] }])
    const [tick] = ticksOf([session.onSnapshot!('BTC-USDT', JSON.parse(d[D_REST]!), T0)])
    expect(tick).toEqual({
      v: 1,
      exchange: 'okx',
      pair: 'BTC-USDT',
      seq: '3235851742',
      exchangeTs: 1629966436396,
      receivedTs: T0,
      bids: [[41006.3, 0.30178218]],
      asks: [[41006.8, 0.60038921]],
    })
    expect(tickDecoder.check(tick)).toBe(true)
  })

  it('takes a WebSocket snapshot as it comes, chained by seqId (checksum 0, as sent since 2026-06-23)', () => {
    const d = doc()
    const session = okx.createSession(['BTC-USDT'])
    const results = play(session, [zeroChecksum(d[D_SNAPSHOT]!), zeroChecksum(d[D_UPDATE]!)])
    const ticks = ticksOf(results)
    expect(results.every((r) => r.kind === 'ticks' && r.fetch === undefined)).toBe(true)
    expect(ticks[0]).toMatchObject({ seq: '123456', bids: expect.any(Array), asks: expect.any(Array) })
    expect(ticks[0]!.bids[0]).toEqual([8476.97, 256])
    expect(ticks[0]!.asks[0]).toEqual([8476.98, 415])
    for (const t of ticks) expect(tickDecoder.check(t)).toBe(true)
    // The update repeats the same levels: the top is unchanged, so no tick before TICK_REFRESH_MS.
    expect(ticks).toHaveLength(1)
  })

  it('asks for a resync on a crossed book, an update before the snapshot, or an unreadable update', () => {
    const d = doc()
    const crossed = zeroChecksum(d[D_SNAPSHOT]!).replace('["8476.97","256","0","12"]', '["8477.5","256","0","12"]')
    expect(play(okx.createSession(['BTC-USDT']), [crossed])[0]).toEqual({
      kind: 'resync',
      reason: 'crossed book for BTC-USDT',
    })
    // 2022 frames have no seqId: an update before its snapshot cannot be placed.
    const [, , update2022] = fixture('okx', 'real-other')
    expect(play(okx.createSession(['BTC-USDT']), [update2022!])[0]).toEqual({
      kind: 'resync',
      reason: 'book update before the snapshot for BTC-USDT',
    })
    const bad = zeroChecksum(d[D_UPDATE]!).replace('"8477.34"', '"x"')
    expect(play(okx.createSession(['BTC-USDT']), [zeroChecksum(d[D_SNAPSHOT]!), bad])[1]).toEqual({
      kind: 'resync',
      reason: 'bad book update for BTC-USDT',
    })
    const unverifiable = zeroChecksum(real()[U1]!)
    expect(play(okx.createSession([PAIR]), [real()[SNAPSHOT]!, unverifiable])[1]).toMatchObject({ kind: 'resync' })
  })

  it('treats acks and new events as control, counts exchange errors, resyncs on a service-upgrade notice', () => {
    const d = doc()
    const [ack2022] = fixture('okx', 'real-other')
    const session = okx.createSession(['BTC-USDT'])
    const connCount = '{"event":"channel-conn-count","channel":"books","connCount":"2","connId":"a4d3ae55"}'
    expect(play(session, [d[D_ACK]!, ack2022!, real()[ACK]!, connCount])).toEqual(Array(4).fill({ kind: 'control' }))
    expect(play(session, [d[D_ERROR]!])[0]).toMatchObject({
      kind: 'error',
      reason: expect.stringMatching(/^exchange error 60012: Invalid request/),
    })
    expect(play(session, [d[D_NOTICE]!])[0]).toEqual({
      kind: 'resync',
      reason: 'exchange notice 64008: The connection will soon be closed for a service upgrade. Please reconnect.',
    })
  })

  it('ignores unknown fields', () => {
    const frames = real()
    const extra = frames[SNAPSHOT]!.replace('"action":"snapshot"', '"action":"snapshot","newField":{"a":1}')
      .replace('"instId":"BTC-USD-220527"}', '"instId":"BTC-USD-220527","instFamily":"BTC-USD"}')
      .replace('"checksum":', '"seqIdHint":7,"checksum":')
    expect(play(okx.createSession([PAIR]), [extra, frames[U1]!]).map((r) => r.kind)).toEqual(['ticks', 'ticks'])
  })

  it('leaves the malformed line to the feed (JSON.parse fails before the adapter)', () => {
    expect(() => JSON.parse(doc()[D_MALFORMED]!)).toThrow(SyntaxError)
  })

  it.each([
    ['an array', []],
    ['null', null],
    ['a channel not subscribed to (tickers, recorded)', JSON.parse(fixture('okx', 'real-other')[1]!) as unknown],
    ['a channel not subscribed to (bbo-tbt, doc)', JSON.parse(fixture('okx', 'doc')[D_BBO]!) as unknown],
    ['an unknown book action', { arg: { channel: 'books', instId: PAIR }, action: 'partial', data: [] }],
    ['a book message without data', { arg: { channel: 'books', instId: PAIR }, action: 'snapshot' }],
    ['an unsubscribed instId', { arg: { channel: 'books', instId: 'ETH-USDT' }, action: 'snapshot', data: [] }],
    ['a bad snapshot', { arg: { channel: 'books', instId: PAIR }, action: 'snapshot', data: [{ asks: 1, bids: [] }] }],
  ])('reports %s as an error and keeps going', (_name, frame) => {
    const session = okx.createSession([PAIR])
    expect(session.onFrame(frame, T0, JSON.stringify(frame)).kind).toBe('error')
    expect(play(session, [real()[SNAPSHOT]!])[0]!.kind).toBe('ticks')
  })

  it('reports a refused REST snapshot as an error and asks again with the next update', () => {
    const frames = real()
    const session = okx.createSession([PAIR])
    play(session, [withSeq(frames[U1]!, 95, 105)])
    expect(session.onSnapshot!(PAIR, { code: '51001', msg: 'Instrument ID does not exist', data: [] }, T0)).toEqual({
      kind: 'error',
      reason: `bad order book snapshot for ${PAIR}: code 51001: Instrument ID does not exist`,
    })
    expect(play(session, [withSeq(frames[U2]!, 105, 110)])).toEqual([{ kind: 'ticks', ticks: [], fetch: [PAIR] }])
  })

  it('gives identical seqs to two sessions fed the same frames', () => {
    const frames = real()
    const seqs = () => ticksOf(play(okx.createSession([PAIR]), frames)).map((t) => t.seq)
    expect(seqs()).toHaveLength(10)
    expect(seqs()).toEqual(seqs())
  })
})
