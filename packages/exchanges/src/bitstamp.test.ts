import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { bitstamp, MAX_BUFFERED_DIFFS, MAX_STALE_SNAPSHOTS, pairOf, symbol } from './bitstamp.js'
import { FrameChain } from './seq.js'
import type { AdapterSession, FrameResult } from './types.js'

const T0 = 1_700_000_000_000
const GALA = 'GALA-EUR'

/** Feeds raw frames to a session the way the feed does (JSON.parse, then onFrame). */
const play = (session: AdapterSession, frames: readonly string[], ts = T0): FrameResult[] =>
  frames.map((raw, i) => session.onFrame(JSON.parse(raw), ts + i, raw))

const ticksOf = (results: readonly FrameResult[]): Tick[] => results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))

const capture = () => fixture('bitstamp', 'capture-gala-eur')
// Lines of capture-gala-eur.jsonl (SOURCES.md).
const [SUBSCRIBE, ACK, STALE_1, STALE_2, NEWER, NEXT, BID_GONE, BID_NEW] = [0, 1, 2, 3, 4, 5, 6, 7]
/** The REST body as the feed hands it over: parsed JSON. */
const restBody = (): Record<string, unknown> =>
  JSON.parse(fixture('bitstamp', 'capture-gala-eur-rest-snapshot')[0]!) as Record<string, unknown>
const other = () => fixture('bitstamp', 'other-frames')
// Lines of other-frames.jsonl.
const [TRADE, ORDER_BOOK, RECONNECT, ERROR, HEARTBEAT, ETH_DIFF, MALFORMED] = [0, 1, 2, 3, 4, 5, 6]

const snapshot = (session: AdapterSession, body: unknown = restBody(), ts = T0 + 100): FrameResult =>
  session.onSnapshot!(GALA, body, ts)

/** A session synced as in the capture: two stale diffs and the first newer one buffered, then the snapshot. */
const synced = () => {
  const session = bitstamp.createSession([GALA])
  const frames = capture()
  play(session, [frames[ACK]!, frames[STALE_1]!, frames[STALE_2]!, frames[NEWER]!])
  const result = snapshot(session)
  return { session, frames, result }
}

describe('bitstamp adapter', () => {
  it('subscribes to diff_order_book_<symbol> per pair, exactly as the capture sent it; btceur ↔ BTC-EUR', () => {
    expect(bitstamp.subscribe([GALA]).map((f) => JSON.stringify(f))).toEqual([capture()[SUBSCRIBE]])
    expect(bitstamp.subscribe(['BTC-EUR', 'BTC-USD'])).toEqual([
      { event: 'bts:subscribe', data: { channel: 'diff_order_book_btceur' } },
      { event: 'bts:subscribe', data: { channel: 'diff_order_book_btcusd' } },
    ])
    expect(bitstamp.endpoints(['BTC-EUR', 'BTC-USD'], 'ws://127.0.0.1:1/bitstamp')).toEqual([
      { url: 'ws://127.0.0.1:1/bitstamp', pairs: ['BTC-EUR', 'BTC-USD'] },
    ])
    expect(symbol('BTC-EUR')).toBe('btceur')
    expect(symbol('GALA-EUR')).toBe('galaeur')
    expect(pairOf('btceur')).toBe('BTC-EUR')
    expect(pairOf('galaeur')).toBe('GALA-EUR')
    expect(pairOf('usdtusd')).toBe('USDT-USD')
    expect(pairOf('btcusdt')).toBe('BTC-USDT')
    expect(pairOf('ethbtc')).toBe('ETH-BTC')
    expect(pairOf('eur')).toBeUndefined()
    expect(pairOf('btcxyz')).toBeUndefined()
    expect(bitstamp.url).toBe('wss://ws.bitstamp.net')
    expect(bitstamp.restUrl).toBe('https://www.bitstamp.net')
    expect(bitstamp.snapshotUrl!('BTC-EUR', 'https://www.bitstamp.net')).toBe(
      'https://www.bitstamp.net/api/v2/order_book/btceur/',
    )
    expect(bitstamp.snapshotUrl!('BTC-EUR', 'http://127.0.0.1:1/bitstamp/')).toBe(
      'http://127.0.0.1:1/bitstamp/api/v2/order_book/btceur/',
    )
    expect(bitstamp.takerFee).toBe(0.004)
    expect(bitstamp.takerFeeSource).toMatch(/^unverified/)
  })

  it('syncs GALA/EUR as captured: buffers, asks for one snapshot, drops the two older diffs, applies the newer', () => {
    const session = bitstamp.createSession([GALA])
    const frames = capture()
    const buffered = play(session, [frames[ACK]!, frames[STALE_1]!, frames[STALE_2]!, frames[NEWER]!])
    expect(buffered).toEqual([
      { kind: 'control' },
      { kind: 'ticks', ticks: [], fetch: [GALA] },
      { kind: 'ticks', ticks: [] },
      { kind: 'ticks', ticks: [] },
    ])
    const [t] = ticksOf([snapshot(session)])
    expect(t).toMatchObject({ v: 1, exchange: 'bitstamp', pair: GALA, receivedTs: T0 + 100 })
    // The applied diff's microtimestamp, not the snapshot's (1641343696956…).
    expect(t!.exchangeTs).toBe(1_641_343_698_540)
    expect(t!.bids.slice(0, 3)).toEqual([
      [0.38083, 41095.89],
      [0.38082, 1162.25090469],
      [0.38032, 2325.15025092],
    ])
    // Ask 0.38190 was deleted by the newer diff.
    expect(t!.asks.slice(0, 3)).toEqual([
      [0.38172, 2622.60000526],
      [0.38173, 15834.5849609],
      [0.38213, 2325.35937537],
    ])
    expect(t!.bids).toHaveLength(10)
    expect(t!.asks).toHaveLength(10)
    expect(tickDecoder.check(t)).toBe(true)
    // Only the snapshot and the newer diff are in the chain: the stale ones were never applied.
    const chain = new FrameChain()
    chain.next(JSON.stringify(restBody()))
    expect(t!.seq).toBe(chain.next(frames[NEWER]!))
  })

  it('does not apply a buffered diff older than the snapshot (a stale diff altered to show it)', () => {
    const frames = capture()
    const altered = frames[STALE_2]!.replace('41095.89000000', '1.00000000')
    const session = bitstamp.createSession([GALA])
    play(session, [frames[STALE_1]!, altered, frames[NEWER]!])
    const [t] = ticksOf([snapshot(session)])
    expect(t!.bids[0]).toEqual([0.38083, 41095.89])
  })

  it('keeps building from the captured diffs: ask 0.38177 joins, bid 0.38082 goes, bid 0.38069 joins', () => {
    const { session, frames } = synced()
    const results = play(session, [frames[NEXT]!, frames[BID_GONE]!, frames[BID_NEW]!], T0 + 200)
    expect(results.map((r) => r.kind)).toEqual(['ticks', 'ticks', 'ticks'])
    const [next, gone, added] = ticksOf(results)
    expect(next!.asks.slice(0, 3)).toEqual([
      [0.38172, 2622.60000526],
      [0.38173, 15834.5849609],
      [0.38177, 1162.56488323],
    ])
    expect(next!.exchangeTs).toBe(1_641_343_698_652)
    expect(gone!.bids.slice(0, 2)).toEqual([
      [0.38083, 41095.89],
      [0.38032, 2325.15025092],
    ])
    expect(added!.bids.slice(0, 3)).toEqual([
      [0.38083, 41095.89],
      [0.38069, 1162.66401548],
      [0.38032, 2325.15025092],
    ])
    expect(added!.exchangeTs).toBe(1_641_343_699_109)
    expect(new Set([next!.seq, gone!.seq, added!.seq]).size).toBe(3)
    for (const t of [next!, gone!, added!]) expect(tickDecoder.check(t)).toBe(true)
  })

  it('fetches again when the REST snapshot is older than the first buffered diff', () => {
    const frames = capture()
    const session = bitstamp.createSession([GALA])
    // Subscribed later: the first diff it sees is 1641343698540505, after the snapshot's 1641343696956853.
    expect(play(session, [frames[NEWER]!])).toEqual([{ kind: 'ticks', ticks: [], fetch: [GALA] }])
    expect(snapshot(session)).toEqual({ kind: 'control', fetch: [GALA] })
    // Still buffering, and the fetch is already asked for.
    expect(play(session, [frames[NEXT]!])).toEqual([{ kind: 'ticks', ticks: [] }])
    // Constructed: the captured book after NEWER (ask 0.38190 gone), stamped with NEWER's microtimestamp.
    const body = restBody()
    body['microtimestamp'] = '1641343698540505'
    body['asks'] = (body['asks'] as [string, string][]).filter(([p]) => p !== '0.38190')
    const [t] = ticksOf([snapshot(session, body)])
    // NEWER is in that snapshot (equal microtimestamp, dropped); NEXT is applied.
    expect(t!.asks.slice(0, 3)).toEqual([
      [0.38172, 2622.60000526],
      [0.38173, 15834.5849609],
      [0.38177, 1162.56488323],
    ])
    expect(t!.exchangeTs).toBe(1_641_343_698_652)
  })

  it(`gives up with a resync after ${MAX_STALE_SNAPSHOTS} snapshots older than the stream`, () => {
    const session = bitstamp.createSession([GALA])
    play(session, [capture()[NEWER]!])
    const results = Array.from({ length: MAX_STALE_SNAPSHOTS }, () => snapshot(session))
    expect(results.slice(0, -1).every((r) => r.kind === 'control' && r.fetch?.[0] === GALA)).toBe(true)
    expect(results.at(-1)).toEqual({
      kind: 'resync',
      reason: `${MAX_STALE_SNAPSHOTS} REST snapshots of GALA-EUR older than the stream`,
    })
  })

  it(`keeps the newest ${MAX_BUFFERED_DIFFS} diffs while waiting, so an old snapshot is then fetched again`, () => {
    const frames = capture()
    const session = bitstamp.createSession([GALA])
    play(session, [frames[STALE_1]!, frames[STALE_2]!])
    // Constructed: NEXT restamped, enough of them to push the two captured diffs out of the buffer.
    const filler = Array.from({ length: MAX_BUFFERED_DIFFS }, (_, i) =>
      frames[NEXT]!.replace('1641343698652890', String(1641343698652890 + i)),
    )
    play(session, filler)
    expect(snapshot(session)).toEqual({ kind: 'control', fetch: [GALA] })
  })

  it('skips a diff already in the book after the sync (at or before its microtimestamp)', () => {
    const { session, frames, result } = synced()
    const [before] = ticksOf([result])
    expect(play(session, [frames[STALE_1]!, frames[NEWER]!], T0 + 200)).toEqual([
      { kind: 'ticks', ticks: [] },
      { kind: 'ticks', ticks: [] },
    ])
    const [after] = ticksOf(play(session, [frames[NEXT]!], T0 + 300))
    expect(after!.bids).toEqual(before!.bids)
  })

  it('reports a bad snapshot body as an error, and the next diff asks for another', () => {
    const frames = capture()
    const session = bitstamp.createSession([GALA])
    play(session, [frames[NEWER]!])
    expect(snapshot(session, { bids: [], asks: [] })).toEqual({
      kind: 'error',
      reason: 'bad order book snapshot for GALA-EUR',
    })
    expect(play(session, [frames[NEXT]!])).toEqual([{ kind: 'ticks', ticks: [], fetch: [GALA] }])
    expect(session.onSnapshot!('BTC-EUR', restBody(), T0)).toMatchObject({ kind: 'error' })
  })

  it('asks for a resync on a crossed book or an unreadable diff', () => {
    const frames = capture()
    // Altered: NEXT's ask moved below the best bid 0.38083, as a lost diff could leave it.
    const crossed = frames[NEXT]!.replace('0.38177', '0.38000')
    expect(play(synced().session, [crossed])[0]).toEqual({ kind: 'resync', reason: 'crossed book for GALA-EUR' })
    const unreadable = frames[NEXT]!.replace('"1162.56488323"', '"x"')
    expect(play(synced().session, [unreadable])[0]).toEqual({
      kind: 'resync',
      reason: 'bad order book diff for GALA-EUR',
    })
    // Before the sync too: a lost buffered diff would leave a hole in the book.
    const buffering = bitstamp.createSession([GALA])
    expect(play(buffering, [unreadable])[0]!.kind).toBe('resync')
  })

  it('treats acks and heartbeat replies as control, bts:request_reconnect as a resync, bts:error as an error', () => {
    const o = other()
    const session = bitstamp.createSession([GALA])
    expect(play(session, [capture()[ACK]!, o[HEARTBEAT]!])).toEqual([{ kind: 'control' }, { kind: 'control' }])
    expect(play(session, [o[RECONNECT]!])[0]).toEqual({
      kind: 'resync',
      reason: 'exchange asked to reconnect (bts:request_reconnect)',
    })
    expect(play(session, [o[ERROR]!])[0]).toEqual({
      kind: 'error',
      reason: 'exchange error: Incorrect JSON format.',
    })
    const withCode = { event: 'bts:error', channel: '', data: { code: 4009, message: 'Connection is unauthorized.' } }
    expect(session.onFrame(withCode, T0, JSON.stringify(withCode))).toEqual({
      kind: 'error',
      reason: 'exchange error 4009: Connection is unauthorized.',
    })
  })

  it('ignores unknown fields', () => {
    const frames = capture()
    const session = bitstamp.createSession([GALA])
    const extra = frames[NEWER]!.replace('"bids":[]', '"sequence_hint":7,"bids":[]').replace(
      '"event":"data"',
      '"event":"data","new_field":{"x":1}',
    )
    play(session, [frames[STALE_1]!, extra])
    const body = { ...restBody(), group: 1 }
    const [t] = ticksOf([snapshot(session, body)])
    expect(t!.asks[0]).toEqual([0.38172, 2622.60000526])
  })

  it.each([
    ['an array', []],
    ['null', null],
    ['an unknown event', { event: 'bts:something_new', channel: '', data: {} }],
    ['a trade (live_trades, not subscribed)', JSON.parse(other()[TRADE]!) as unknown],
    ['order_book_btcusd (not subscribed)', JSON.parse(other()[ORDER_BOOK]!) as unknown],
    ['a diff of a pair not subscribed (ETH/USD)', JSON.parse(other()[ETH_DIFF]!) as unknown],
    ['data without a channel', { event: 'data', data: {} }],
  ])('reports %s as an error and keeps going', (_name, frame) => {
    const session = bitstamp.createSession([GALA])
    expect(session.onFrame(frame, T0, JSON.stringify(frame)).kind).toBe('error')
    expect(play(session, [capture()[NEWER]!])[0]).toEqual({ kind: 'ticks', ticks: [], fetch: [GALA] })
  })

  it('leaves the malformed line to the feed (JSON.parse fails before the adapter)', () => {
    expect(() => JSON.parse(other()[MALFORMED]!)).toThrow(SyntaxError)
  })

  it('gives identical seqs to two sessions fed the same frames, and converges after a different snapshot', () => {
    const frames = capture()
    const live = [frames[NEXT]!, frames[BID_GONE]!, frames[BID_NEW]!]
    const seqs = () => {
      const { session, result } = synced()
      return [...ticksOf([result]), ...ticksOf(play(session, live, T0 + 200))].map((t) => t.seq)
    }
    expect(seqs()).toHaveLength(4)
    expect(seqs()).toEqual(seqs())
    // A replica that connected later: its snapshot (constructed, the book after NEWER) differs from ours,
    // so its first tick id differs, and from the second common diff on the ids and books agree.
    const late = bitstamp.createSession([GALA])
    play(late, [frames[NEWER]!, frames[NEXT]!])
    const body = restBody()
    body['microtimestamp'] = '1641343698540505'
    body['asks'] = (body['asks'] as [string, string][]).filter(([p]) => p !== '0.38190')
    const lateTicks = [...ticksOf([snapshot(late, body)]), ...ticksOf(play(late, live.slice(1), T0 + 200))]
    const { session } = synced()
    const ours = ticksOf(play(session, live, T0 + 200))
    expect(lateTicks[0]!.seq).not.toBe(ours[0]!.seq)
    expect(lateTicks[0]!.bids).toEqual(ours[0]!.bids)
    expect(lateTicks[0]!.asks).toEqual(ours[0]!.asks)
    expect(lateTicks.slice(1).map((t) => t.seq)).toEqual(ours.slice(1).map((t) => t.seq))
    expect(lateTicks.slice(1).map((t) => [t.bids, t.asks])).toEqual(ours.slice(1).map((t) => [t.bids, t.asks]))
  })

  it('emits an unchanged top only once TICK_REFRESH_MS has passed, but counts every diff as data', () => {
    const { session, frames } = synced()
    // Altered: NEXT moved to a level far below the top 10 asks.
    const deep = frames[NEXT]!.replace('0.38177', '9.50000')
    expect(play(session, [deep], T0 + 500)).toEqual([{ kind: 'ticks', ticks: [] }])
    const deeper = deep.replace('1641343698652890', '1641343698652891').replace('1162.56488323', '1.00000000')
    expect(ticksOf(play(session, [deeper], T0 + 1100))).toHaveLength(1)
  })
})
