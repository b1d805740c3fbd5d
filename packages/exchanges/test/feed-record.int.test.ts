import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { FeedRecord, Tick } from '@arb/contracts'
import { eventually, startReplayServer, type ReplayServer } from '@arb/testkit'
import {
  bitstamp,
  kraken,
  runFeed,
  SessionDriver,
  type DriveProblem,
  type ExchangeAdapter,
  type Feed,
  type FeedOptions,
} from '../src/index.js'
import { captureLog, fixture } from './helpers.js'

/**
 * The feed's recorder against a real `ws` server (and a real HTTP server for REST snapshots): what
 * it records, driven through SessionDriver, gives back exactly the ticks the live feed gave.
 */

let server: ReplayServer | undefined
let rest: Server | undefined
let feed: Feed | undefined

afterEach(async () => {
  await feed?.stop()
  await server?.close()
  await new Promise((resolve) => (rest === undefined ? resolve(undefined) : rest.close(resolve)))
  feed = undefined
  server = undefined
  rest = undefined
})

const record = (options: Omit<FeedOptions, 'log' | 'onTicks' | 'recorder'>) => {
  const records: FeedRecord[] = []
  const ticks: Tick[] = []
  feed = runFeed({
    ...options,
    log: captureLog(),
    onTicks: (t) => ticks.push(...t),
    recorder: (r) => records.push(r),
  })
  return { feed, records, ticks }
}

const replay = (adapter: ExchangeAdapter, records: readonly FeedRecord[]) => {
  const ticks: Tick[] = []
  const problems: DriveProblem[] = []
  const driver = new SessionDriver({
    adapter,
    pairs: [],
    onTicks: (t) => ticks.push(...t),
    onProblem: (p) => problems.push(p),
  })
  for (const r of records) driver.apply(r)
  return { ticks, problems, counters: driver.counters }
}

// Lines of kraken/doc-matic-usd.jsonl (SOURCES.md).
const [ACK, STATUS, HEARTBEAT, SNAPSHOT, UPDATE, , , , MALFORMED] = [0, 1, 2, 3, 4, 5, 6, 7, 8]

describe('feed recorder', () => {
  it('records every frame of every connection, and a replay of it gives the same ticks and problems (Kraken)', async () => {
    const doc = fixture('kraken', 'doc-matic-usd')
    const [update2] = fixture('kraken', 'constructed-matic-update2')
    const corrupted = doc[UPDATE]!.replace('2114181697', '2114181698')
    const first = [doc[ACK]!, doc[STATUS]!, doc[HEARTBEAT]!, doc[SNAPSHOT]!, corrupted]
    const second = [doc[ACK]!, doc[SNAPSHOT]!, doc[UPDATE]!, doc[MALFORMED]!, update2!]
    server = await startReplayServer({ frames: ({ index }) => (index === 0 ? first : second) })
    const live = record({
      adapter: kraken,
      pairs: ['MATIC-USD'],
      baseUrl: server.url,
      staleAfterMs: 10_000,
      backoffMinMs: 10,
      backoffMaxMs: 50,
    })
    await eventually(() => (live.ticks.length === 4 ? true : undefined), 5000, 'four ticks over two connections')
    await live.feed.stop()

    const url = server.url
    expect(live.records.map((r) => [r.rec, 'conn' in r ? r.conn : undefined])).toEqual([
      ['open', 0],
      ...first.map(() => ['frame', 0]),
      ['close', 0],
      ['open', 1],
      ...second.map(() => ['frame', 1]),
      ['close', 1],
    ])
    expect(live.records[0]).toEqual({ v: 1, rec: 'open', conn: 0, ts: expect.any(Number), url, pairs: ['MATIC-USD'] })
    expect(live.records.filter((r) => r.rec === 'frame').map((r) => r.text)).toEqual([...first, ...second])
    expect(live.records[first.length + 1]).toMatchObject({
      rec: 'close',
      reason: 'resync: checksum mismatch for MATIC-USD: got 2114181697, expected 2114181698',
    })

    const replayed = replay(kraken, live.records)
    expect(replayed.ticks).toEqual(live.ticks)
    expect(replayed.problems.map((p) => p.code)).toEqual(['ARB_ERR_CHECKSUM', 'ARB_ERR_MALFORMED_FRAME'])
    const { frames, ticks, malformed, errors, resyncs, lastMessageTs } = live.feed.counters
    expect(replayed.counters).toMatchObject({ frames, ticks, malformed, errors, resyncs, lastMessageTs, sessions: 2 })
  })

  it('records REST snapshots where the session took them, so the replay syncs the book the same way (Bitstamp)', async () => {
    const frames = fixture('bitstamp', 'capture-gala-eur').slice(1) // line 1 is the client's subscribe
    const [body] = fixture('bitstamp', 'capture-gala-eur-rest-snapshot')
    rest = createServer((req, res) => {
      if (req.url !== '/api/v2/order_book/galaeur/') return void res.writeHead(404).end()
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
    await new Promise<void>((resolve) => rest!.listen(0, '127.0.0.1', resolve))
    server = await startReplayServer({ frames, intervalMs: 30, afterFirstMessage: true })
    const live = record({
      adapter: bitstamp,
      pairs: ['GALA-EUR'],
      baseUrl: server.url,
      restBaseUrl: `http://127.0.0.1:${(rest.address() as AddressInfo).port}`,
      staleAfterMs: 10_000,
      backoffMinMs: 10,
      backoffMaxMs: 50,
    })
    const framesRecorded = () => live.records.filter((r) => r.rec === 'frame').length
    await eventually(() => (framesRecorded() === frames.length ? true : undefined), 5000, 'every frame')
    await eventually(() => (live.feed.counters.snapshots === 1 ? true : undefined), 5000, 'the snapshot')
    await live.feed.stop()

    const snapshots = live.records.filter((r) => r.rec === 'snapshot')
    expect(snapshots).toEqual([
      { v: 1, rec: 'snapshot', conn: 0, pair: 'GALA-EUR', receivedTs: expect.any(Number), body: JSON.parse(body!) },
    ])
    expect(live.ticks.length).toBeGreaterThan(0)
    const replayed = replay(bitstamp, live.records)
    expect(replayed.ticks).toEqual(live.ticks)
    expect(replayed.problems).toEqual([])
    expect(replayed.counters).toMatchObject({ snapshots: 1, frames: frames.length, ticks: live.feed.counters.ticks })
  })
})
