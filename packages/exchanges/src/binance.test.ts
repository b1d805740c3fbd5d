import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { binance, MAX_BUFFERED_DIFFS, MAX_STALE_SNAPSHOTS, pairOf, streamOf, symbol } from './binance.js'
import type { AdapterSession, FrameResult } from './types.js'

const T0 = 1_700_000_000_000
const XMR = 'XMR-BTC'

/** Feeds raw frames to a session the way the feed does (JSON.parse, then onFrame). */
const play = (session: AdapterSession, frames: readonly string[], ts = T0): FrameResult[] =>
  frames.map((raw, i) => session.onFrame(JSON.parse(raw), ts + i, raw))

const ticksOf = (results: readonly FrameResult[]): Tick[] => results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))

// Lines of the fixtures (SOURCES.md).
const depth = () => fixture('binance', 'real-xmrbtc-depth')
const snapshotBody = () => JSON.parse(fixture('binance', 'real-xmrbtc-snapshot-top')[0]!) as unknown
/** Binance's own best bid and ask by update id (the captured bookTicker frames). */
const bookTicker = new Map(
  fixture('binance', 'real-xmrbtc-bookticker').map((raw) => {
    const { data } = JSON.parse(raw) as { data: { u: number; b: string; B: string; a: string; A: string } }
    return [String(data.u), { bid: [Number(data.b), Number(data.B)], ask: [Number(data.a), Number(data.A)] }]
  }),
)
const [ACK, LIST, ERROR_ID, ERROR_JSON, DOC_DEPTH, SHUTDOWN, BOOK_TICKER, MALFORMED] = fixture('binance', 'doc')

const snapshot = (session: AdapterSession, body: unknown = snapshotBody(), ts = T0 + 100): FrameResult =>
  session.onSnapshot!(XMR, body, ts)

const bestOf = (t: Tick) => ({ bid: t.bids[0], ask: t.asks[0] })

describe('binance adapter', () => {
  it('subscribes to every pair’s 100 ms diff stream with one SUBSCRIBE, BTCEUR ↔ BTC-EUR', () => {
    expect(binance.subscribe(['BTC-EUR', 'XMR-BTC'])).toEqual([
      { method: 'SUBSCRIBE', params: ['btceur@depth@100ms', 'xmrbtc@depth@100ms'], id: 1 },
    ])
    expect(binance.endpoints(['BTC-EUR', 'XMR-BTC'], 'ws://127.0.0.1:1/binance')).toEqual([
      { url: 'ws://127.0.0.1:1/binance', pairs: ['BTC-EUR', 'XMR-BTC'] },
    ])
    // At most 1024 streams a connection.
    const many = Array.from({ length: 1500 }, (_, i) => `A${i}-EUR`)
    expect(binance.endpoints(many, 'wss://x/ws').map((e) => e.pairs.length)).toEqual([1024, 476])
    expect(symbol('BTC-EUR')).toBe('BTCEUR')
    expect(streamOf('BTC-EUR')).toBe('btceur@depth@100ms')
    expect(pairOf('BTCEUR')).toBe('BTC-EUR')
    expect(pairOf('BTCUSDT')).toBe('BTC-USDT')
    expect(pairOf('XMRBTC')).toBe('XMR-BTC')
    expect(pairOf('BTCFDUSD')).toBe('BTC-FDUSD')
    expect(pairOf('EUR')).toBeUndefined()
    expect(pairOf('BTCXYZ')).toBeUndefined()
    expect(binance.url).toBe('wss://stream.binance.com:9443/ws')
    expect(binance.restUrl).toBe('https://api.binance.com')
    expect(binance.snapshotUrl!('BTC-EUR', 'https://api.binance.com')).toBe(
      'https://api.binance.com/api/v3/depth?symbol=BTCEUR&limit=1000',
    )
    expect(binance.snapshotUrl!('BTC-EUR', 'http://127.0.0.1:9/binance/')).toBe(
      'http://127.0.0.1:9/binance/api/v3/depth?symbol=BTCEUR&limit=1000',
    )
    expect(binance.takerFee).toBe(0.001)
    expect(binance.takerFeeSource).toMatch(/^unverified/)
  })

  it('syncs the real capture in its real order: buffered diff dropped, snapshot, then every diff applies', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    // The first diff is buffered and asks for the snapshot.
    expect(play(session, [frames[0]!])).toEqual([{ kind: 'ticks', ticks: [], fetch: [XMR] }])
    const synced = snapshot(session)
    const [first] = ticksOf([synced])
    // u = lastUpdateId: the buffered diff is already in the snapshot.
    expect(first).toMatchObject({ v: 1, exchange: 'binance', pair: XMR, seq: '717720857', exchangeTs: null })
    expect(first!.bids.slice(0, 3)).toEqual([
      [0.005773, 16.196],
      [0.005772, 8.409],
      [0.005771, 3.353],
    ])
    expect(first!.asks[0]).toEqual([0.005779, 3.1])
    expect(first!.bids).toHaveLength(10)

    const results = play(session, frames.slice(1), T0 + 1000)
    expect(results.every((r) => r.kind === 'ticks')).toBe(true)
    const ticks = ticksOf(results)
    const bySeq = new Map(ticks.map((t) => [t.seq, t]))
    // Every tick agrees with the best bid and ask Binance itself published at that update id.
    for (const u of ['717720862', '717720864', '717720866']) {
      const t = bySeq.get(u)
      expect(t, `tick at ${u}`).toBeDefined()
      expect(bestOf(t!)).toEqual(bookTicker.get(u))
    }
    // The diff at 717720863 is below the top 10 and within TICK_REFRESH_MS: no tick.
    expect(bySeq.has('717720863')).toBe(false)
    const last = ticks.at(-1)!
    expect(last.seq).toBe('717720870')
    expect(last.exchangeTs).toBe(1628952398169)
    expect(last.bids).toEqual([
      [0.005773, 16.196],
      [0.005772, 8.409],
      [0.005771, 3.353],
      [0.00577, 12.995],
      [0.005769, 34.623],
      [0.005768, 9.356],
      [0.005767, 1.306],
      [0.005766, 21.779],
      [0.005765, 6.1],
      [0.005764, 0.603],
    ])
    expect(last.asks.slice(0, 6)).toEqual([
      [0.00578, 37.51],
      [0.005781, 80.818],
      [0.005782, 10],
      [0.005783, 5.7],
      [0.005784, 3.866],
      [0.005785, 0.697],
    ])
    for (const t of [first!, ...ticks]) expect(tickDecoder.check(t)).toBe(true)
  })

  it('drops the stale buffered diff and applies the newer ones when the snapshot comes late', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    expect(play(session, frames.slice(0, 3))).toEqual([
      { kind: 'ticks', ticks: [], fetch: [XMR] },
      { kind: 'ticks', ticks: [] },
      { kind: 'ticks', ticks: [] },
    ])
    const [t] = ticksOf([snapshot(session)])
    expect(t!.seq).toBe('717720862')
    expect(t!.exchangeTs).toBe(1628952396368)
    expect(bestOf(t!)).toEqual(bookTicker.get('717720862'))
    // The book continues from there.
    const next = ticksOf(play(session, [frames[3]!, frames[4]!], T0 + 200)).at(-1)
    expect(next!.seq).toBe('717720864')
    expect(bestOf(next!)).toEqual(bookTicker.get('717720864'))
  })

  it('keeps a snapshot whose lastUpdateId is just before the first buffered diff', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    play(session, [frames[1]!])
    const [t] = ticksOf([snapshot(session)])
    expect(t!.seq).toBe('717720861')
  })

  it('fetches again when the snapshot is older than the first buffered diff, and resyncs if that persists', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    // Connected later: the first diff it sees starts at 717720862, after the snapshot's 717720857 + 1.
    expect(play(session, [frames[2]!])).toEqual([{ kind: 'ticks', ticks: [], fetch: [XMR] }])
    expect(snapshot(session)).toEqual({ kind: 'control', fetch: [XMR] })
    // Still buffering: no ticks, and the fetch is not asked for again by the diffs.
    expect(play(session, [frames[3]!])).toEqual([{ kind: 'ticks', ticks: [] }])
    for (let i = 2; i < MAX_STALE_SNAPSHOTS; i++) expect(snapshot(session)).toEqual({ kind: 'control', fetch: [XMR] })
    expect(snapshot(session)).toEqual({
      kind: 'resync',
      reason: `${MAX_STALE_SNAPSHOTS} snapshots in a row older than the stream for XMR-BTC`,
    })
  })

  it('asks for a resync when a diff was dropped after the sync', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    play(session, [frames[0]!])
    snapshot(session)
    const results = play(session, [frames[1]!, frames[2]!, frames[4]!])
    expect(results[2]).toEqual({
      kind: 'resync',
      reason: 'update ids skipped for XMR-BTC: book at 717720862, next event starts at 717720864',
      cause: 'gap',
    })
  })

  it('asks for a resync when the buffered diffs have a gap', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    play(session, [frames[0]!, frames[1]!, frames[3]!])
    expect(snapshot(session)).toMatchObject({ kind: 'resync', cause: 'gap' })
  })

  it('ignores a diff it has already applied', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    play(session, [frames[0]!])
    snapshot(session)
    const results = play(session, [frames[1]!, frames[2]!, frames[1]!, frames[3]!])
    expect(results.map((r) => r.kind)).toEqual(['ticks', 'ticks', 'ticks', 'ticks'])
    expect(results[2]).toEqual({ kind: 'ticks', ticks: [] })
  })

  it('buffers at most MAX_BUFFERED_DIFFS per pair, dropping the oldest', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    // Two real diffs, then synthetic ones continuing their ids, until the two real ones fall out.
    play(session, [frames[0]!, frames[1]!])
    const extra = Array.from({ length: MAX_BUFFERED_DIFFS }, (_, i) =>
      JSON.stringify({
        e: 'depthUpdate',
        E: 1628952396368,
        s: 'XMRBTC',
        U: 717720862 + i,
        u: 717720862 + i,
        b: [],
        a: [],
      }),
    )
    expect(play(session, extra).every((r) => r.kind === 'ticks' && r.ticks.length === 0)).toBe(true)
    // The first buffered diff now starts at 717720862: the 717720857 snapshot is too old.
    expect(snapshot(session)).toEqual({ kind: 'control', fetch: [XMR] })
  })

  it('builds the documented REST book when the snapshot is newer than every buffered diff', () => {
    const session = binance.createSession(['BNB-BTC'])
    expect(play(session, [DOC_DEPTH!])).toEqual([{ kind: 'ticks', ticks: [], fetch: ['BNB-BTC'] }])
    const [body] = fixture('binance', 'doc-rest-depth')
    const [t] = ticksOf([session.onSnapshot!('BNB-BTC', JSON.parse(body!), T0)])
    expect(t).toMatchObject({ pair: 'BNB-BTC', seq: '1027024', bids: [[4, 431]], asks: [[4.000002, 12]] })
  })

  it('asks for each pair’s snapshot once, on that pair’s first diff', () => {
    const frames = depth()
    const docDepth = DOC_DEPTH!
    const session = binance.createSession([XMR, 'BNB-BTC'])
    expect(play(session, [frames[0]!, docDepth, frames[1]!, docDepth])).toEqual([
      { kind: 'ticks', ticks: [], fetch: [XMR] },
      { kind: 'ticks', ticks: [], fetch: ['BNB-BTC'] },
      { kind: 'ticks', ticks: [] },
      { kind: 'ticks', ticks: [] },
    ])
    // A snapshot of a synced pair changes nothing.
    snapshot(session)
    expect(snapshot(session)).toEqual({ kind: 'control' })
  })

  it('treats the subscribe and list replies as control, refused requests as errors, serverShutdown as resync', () => {
    const session = binance.createSession([XMR])
    expect(play(session, [ACK!, LIST!])).toEqual([{ kind: 'control' }, { kind: 'control' }])
    expect(play(session, [ERROR_ID!, ERROR_JSON!])).toEqual([
      { kind: 'error', reason: 'exchange error 2: Invalid request: request ID must be an unsigned integer' },
      { kind: 'error', reason: 'exchange error 3: Invalid JSON: expected value at line %s column %s' },
    ])
    expect(play(session, [SHUTDOWN!])[0]).toMatchObject({
      kind: 'resync',
      reason: expect.stringMatching(/^serverShutdown/),
    })
    // The raw (unwrapped) form too.
    expect(session.onFrame({ e: 'serverShutdown', E: 1770123456789 }, T0, '').kind).toBe('resync')
  })

  it('leaves the malformed line to the feed (JSON.parse fails before the adapter)', () => {
    expect(() => JSON.parse(MALFORMED!)).toThrow(SyntaxError)
  })

  it('ignores unknown fields in diffs and snapshots', () => {
    const frames = depth()
    const session = binance.createSession([XMR])
    const extra = frames[0]!.replace('"e":"depthUpdate",', '"e":"depthUpdate","pu":717720855,"x":{"y":1},')
    expect(play(session, [extra])[0]).toEqual({ kind: 'ticks', ticks: [], fetch: [XMR] })
    const body = { ...(snapshotBody() as object), E: 1628952396200, T: 1628952396200 }
    expect(ticksOf([snapshot(session, body)])[0]!.seq).toBe('717720857')
  })

  it.each([
    ['an array', []],
    ['null', null],
    ['a stream this adapter does not subscribe to (bookTicker)', 'BOOK_TICKER'],
    ['an unknown event', { e: 'kline', s: 'XMRBTC' }],
    ['a diff for an unsubscribed symbol', { e: 'depthUpdate', s: 'ETHBTC', U: 1, u: 1, b: [], a: [] }],
  ])('reports %s as an error and keeps going', (_name, frame) => {
    const session = binance.createSession([XMR])
    const value = frame === 'BOOK_TICKER' ? (JSON.parse(BOOK_TICKER!) as unknown) : frame
    expect(session.onFrame(value, T0, JSON.stringify(value)).kind).toBe('error')
    // The session still works afterwards.
    expect(play(session, [depth()[0]!])[0]!.kind).toBe('ticks')
  })

  it.each([
    ['a non-integer update id', (raw: string) => raw.replace('"U":717720858', '"U":"717720858"')],
    ['U after u', (raw: string) => raw.replace('"U":717720858', '"U":717720899')],
    ['an unreadable price', (raw: string) => raw.replace('"0.00577000"', '"x"')],
    ['levels that are not a list', (raw: string) => raw.replace('"a":[["0.00578500","0.69700000"]]', '"a":{}')],
  ])('asks for a resync on a diff with %s', (_name, corrupt) => {
    const frames = depth()
    const session = binance.createSession([XMR])
    play(session, [frames[0]!])
    snapshot(session)
    expect(play(session, [corrupt(frames[1]!)])[0]).toEqual({ kind: 'resync', reason: 'bad depthUpdate for XMR-BTC' })
  })

  it('asks for a resync on an unreadable snapshot or a crossed book', () => {
    const frames = depth()
    const bad = binance.createSession([XMR])
    play(bad, [frames[0]!])
    expect(snapshot(bad, { lastUpdateId: 'x', bids: [], asks: [] })).toMatchObject({ kind: 'resync' })
    const crossed = binance.createSession([XMR])
    play(crossed, [frames[0]!])
    snapshot(crossed)
    const crossing = frames[1]!.replace('["0.00577000","12.99500000"]', '["0.00579000","12.99500000"]')
    expect(play(crossed, [crossing])[0]).toEqual({ kind: 'resync', reason: 'crossed book for XMR-BTC' })
  })
})
