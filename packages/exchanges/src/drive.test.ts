import { describe, expect, it } from 'vitest'
import type { Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { bitstamp } from './bitstamp.js'
import { coinbase } from './coinbase.js'
import {
  applyFrame,
  applySnapshot,
  PROBLEM_CODES,
  SessionDriver,
  singleConnection,
  type DriveProblem,
} from './drive.js'
import { bl3p } from './bl3p.js'
import { kraken } from './kraken.js'
import { okx } from './okx.js'
import type { ExchangeAdapter, FrameResult } from './types.js'

const T0 = 1_700_000_000_000

// Lines of kraken/doc-matic-usd.jsonl (SOURCES.md).
const [ACK, STATUS, HEARTBEAT, SNAPSHOT, UPDATE, PONG] = [0, 1, 2, 3, 4, 5]
const matic = () => fixture('kraken', 'doc-matic-usd')
const corrupted = () => matic()[UPDATE]!.replace('2114181697', '2114181698')

const driver = (adapter: ExchangeAdapter, pairs: string[]) => {
  const ticks: Tick[] = []
  const problems: DriveProblem[] = []
  const fetches: string[][] = []
  const d = new SessionDriver({
    adapter,
    pairs,
    onTicks: (t) => ticks.push(...t),
    onProblem: (p) => problems.push(p),
    onFetch: (p) => fetches.push([...p]),
  })
  return { d, ticks, problems, fetches }
}

/** The adapter's own results for these frames on one fresh session, as its unit tests play them. */
const direct = (adapter: ExchangeAdapter, pairs: string[], frames: readonly string[], ts = T0): FrameResult[] => {
  const session = adapter.createSession(pairs)
  return frames.map((raw, i) => session.onFrame(JSON.parse(raw), ts + i, raw))
}
const ticksOf = (results: readonly FrameResult[]): Tick[] => results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))

describe('applyFrame / applySnapshot', () => {
  it('returns the adapter result, or why there is none, and never throws', () => {
    const session = kraken.createSession(['MATIC-USD'])
    expect(applyFrame(session, matic()[HEARTBEAT]!, T0)).toEqual({ kind: 'control' })
    expect(applyFrame(session, '{"channel":"book"', T0)).toMatchObject({ kind: 'malformed' })
    // Kraken's session has no onSnapshot: the feed counts that as an adapter failure.
    expect(applySnapshot(session, 'MATIC-USD', {}, T0)).toMatchObject({
      kind: 'failed',
      err: new Error('adapter asked for a snapshot but has no onSnapshot'),
    })
    const bug = new Error('adapter bug')
    const throwing = {
      onFrame: () => {
        throw bug
      },
    }
    expect(applyFrame(throwing, '{}', T0)).toEqual({ kind: 'failed', err: bug })
  })

  it('reports a session the adapter cannot create as the adapter failing', () => {
    const { d, problems } = driver(bl3p, ['BTC-EUR', 'ETH-EUR'])
    d.frame('{"asks":[],"bids":[]}', T0)
    expect(problems).toEqual([
      { code: 'ARB_ERR_ADAPTER_FAILED', reason: 'a BL3P session serves exactly one pair', excerpt: 'BTC-EUR,ETH-EUR' },
    ])
    expect(d.counters).toMatchObject({ frames: 0, sessions: 0 })
  })

  it('knows which adapters serve several pairs on one connection', () => {
    expect(singleConnection(kraken, ['BTC-EUR', 'BTC-USD'])).toBe(true)
    expect(singleConnection(bl3p, ['BTC-EUR'])).toBe(true)
    expect(singleConnection(bl3p, ['BTC-EUR', 'ETH-EUR'])).toBe(false)
  })
})

describe('SessionDriver', () => {
  it('turns raw frames into the ticks a fresh session gives, and reports problems with stable codes', () => {
    const frames = matic()
    const { d, ticks, problems } = driver(kraken, ['MATIC-USD'])
    frames.forEach((f, i) => d.frame(f, T0 + i))
    // The last line is the malformed one, which never reaches an adapter.
    expect(ticks).toEqual(ticksOf(direct(kraken, ['MATIC-USD'], frames.slice(0, 8))))
    expect(ticks).toHaveLength(2)
    expect(problems.map((p) => p.code)).toEqual([
      PROBLEM_CODES.error, // ticker: a channel the adapter does not subscribe to
      PROBLEM_CODES.error, // refused subscription
      PROBLEM_CODES.malformed, // cut-off frame
    ])
    expect(problems[2]!.excerpt).toBe(frames[8]!.slice(0, 120))
    expect(d.counters).toMatchObject({ frames: 9, ticks: 2, malformed: 1, errors: 2, resyncs: 0, sessions: 1 })
    expect(d.counters.lastMessageTs).toBe(T0 + UPDATE)
  })

  it('reports a bad Kraken checksum as ARB_ERR_CHECKSUM and starts a fresh session, as a reconnect does', () => {
    const frames = matic()
    const { d, ticks, problems } = driver(kraken, ['MATIC-USD'])
    d.frame(frames[SNAPSHOT]!, T0)
    d.frame(corrupted(), T0 + 1)
    // The old book is gone: the same update on the fresh session is an update before any snapshot.
    d.frame(frames[UPDATE]!, T0 + 2)
    d.frame(frames[SNAPSHOT]!, T0 + 3)
    d.frame(frames[UPDATE]!, T0 + 4)
    expect(problems).toEqual([
      {
        code: 'ARB_ERR_CHECKSUM',
        reason: 'checksum mismatch for MATIC-USD: got 2114181697, expected 2114181698',
        excerpt: corrupted().slice(0, 120),
      },
      {
        code: 'ARB_ERR_RESYNC',
        reason: 'book update before snapshot for MATIC-USD',
        excerpt: frames[UPDATE]!.slice(0, 120),
      },
    ])
    expect(ticks.map((t) => t.receivedTs)).toEqual([T0, T0 + 3, T0 + 4])
    expect(ticks.slice(1)).toEqual(ticksOf(direct(kraken, ['MATIC-USD'], [frames[SNAPSHOT]!, frames[UPDATE]!], T0 + 3)))
    expect(d.counters).toMatchObject({ resyncs: 2, sessions: 3, ignored: 0 })
  })

  it('keeps one session per recorded connection and reads nothing more of one after its resync', () => {
    const frames = matic()
    const { d, ticks, problems } = driver(kraken, ['MATIC-USD'])
    d.apply({ v: 1, rec: 'open', conn: 0, ts: T0, url: 'ws://x', pairs: ['MATIC-USD'] })
    d.apply({ v: 1, rec: 'frame', conn: 0, receivedTs: T0, text: frames[ACK]! })
    d.apply({ v: 1, rec: 'frame', conn: 0, receivedTs: T0 + 1, text: frames[SNAPSHOT]! })
    d.apply({ v: 1, rec: 'frame', conn: 0, receivedTs: T0 + 2, text: corrupted() })
    d.apply({ v: 1, rec: 'frame', conn: 0, receivedTs: T0 + 3, text: frames[PONG]! })
    d.apply({ v: 1, rec: 'close', conn: 0, ts: T0 + 4, code: 1006, reason: 'resync: checksum mismatch' })
    d.apply({ v: 1, rec: 'open', conn: 1, ts: T0 + 5, url: 'ws://x', pairs: ['MATIC-USD'] })
    d.apply({ v: 1, rec: 'frame', conn: 1, receivedTs: T0 + 6, text: frames[SNAPSHOT]! })
    d.apply({ v: 1, rec: 'frame', conn: 1, receivedTs: T0 + 7, text: frames[UPDATE]! })
    d.apply({ v: 1, rec: 'frame', conn: 7, receivedTs: T0 + 8, text: frames[STATUS]! })
    d.apply({ v: 1, rec: 'dropped', ts: T0 + 9, count: 3 })
    expect(ticks.map((t) => t.receivedTs)).toEqual([T0 + 1, T0 + 6, T0 + 7])
    expect(problems.map((p) => [p.code, p.reason])).toEqual([
      ['ARB_ERR_CHECKSUM', 'checksum mismatch for MATIC-USD: got 2114181697, expected 2114181698'],
      ['ARB_ERR_BAD_RECORD', 'connection 7 was never opened'],
      ['ARB_ERR_RECORDING_GAP', 'the recorder dropped 3 records here'],
    ])
    expect(d.counters).toMatchObject({ frames: 5, ignored: 1, sessions: 2, resyncs: 1 })
  })

  it('hands REST snapshots to the session that asked, as the feed does (Bitstamp GALA/EUR capture)', () => {
    const frames = fixture('bitstamp', 'capture-gala-eur')
    const body = JSON.parse(fixture('bitstamp', 'capture-gala-eur-rest-snapshot')[0]!) as unknown
    const { d, ticks, problems, fetches } = driver(bitstamp, ['GALA-EUR'])
    // Line 1 is what the client sent; the server's frames start at the ack.
    frames.slice(1, 5).forEach((f, i) => d.frame(f, T0 + i))
    expect(fetches).toEqual([['GALA-EUR']])
    expect(ticks).toEqual([])
    d.snapshot('GALA-EUR', body, T0 + 10)
    frames.slice(5).forEach((f, i) => d.frame(f, T0 + 11 + i))

    const session = bitstamp.createSession(['GALA-EUR'])
    const expected = [
      ...frames.slice(1, 5).map((f, i) => session.onFrame(JSON.parse(f), T0 + i, f)),
      session.onSnapshot!('GALA-EUR', body, T0 + 10),
      ...frames.slice(5).map((f, i) => session.onFrame(JSON.parse(f), T0 + 11 + i, f)),
    ]
    expect(ticks).toEqual(ticksOf(expected))
    expect(ticks.length).toBeGreaterThan(0)
    expect(problems).toEqual([])
    expect(d.counters).toMatchObject({ snapshots: 1, errors: 0 })
  })

  it('passes over keep-alive replies as the feed does, rather than calling them malformed (OKX `pong`)', () => {
    const { d, problems } = driver(okx, ['BTC-USDT'])
    d.frame('pong', T0)
    expect(problems).toEqual([])
    expect(d.counters).toMatchObject({ frames: 1, malformed: 0, errors: 0 })
  })

  it('reports a snapshot for a session that cannot take one as the adapter failing', () => {
    const { d, problems } = driver(coinbase, ['BTC-USD'])
    d.snapshot('BTC-USD', { bids: [] }, T0)
    expect(problems).toEqual([
      {
        code: 'ARB_ERR_ADAPTER_FAILED',
        reason: 'adapter asked for a snapshot but has no onSnapshot',
        excerpt: '{"bids":[]}',
      },
    ])
    expect(d.counters).toMatchObject({ snapshots: 1, errors: 1 })
  })
})
