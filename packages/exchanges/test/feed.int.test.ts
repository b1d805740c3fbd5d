import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Tick } from '@arb/contracts'
import { eventually, startReplayServer, type ReplayServer, type ReplayServerOptions } from '@arb/testkit'
import {
  binance,
  bl3p,
  coinbase,
  runFeed,
  type ExchangeAdapter,
  type Feed,
  type FeedOptions,
  type FeedStatus,
} from '../src/index.js'
import { captureLog, fixture } from './helpers.js'

/**
 * Feed lifecycle against a real `ws` server on 127.0.0.1 (CONVENTIONS.md §8): no mocked sockets.
 * Timings are shortened through the feed's options; the behaviour is the production one.
 */

const [ack, snapshot, ticker, update] = fixture('coinbase', 'real-skl-gbp')
const SKL = [ack!, snapshot!, ticker!, update!]

let server: ReplayServer | undefined
let feed: Feed | undefined

afterEach(async () => {
  await feed?.stop()
  await server?.close()
  feed = undefined
  server = undefined
})

const start = async (
  serverOptions: ReplayServerOptions,
  feedOptions: Partial<FeedOptions> = {},
): Promise<{ server: ReplayServer; feed: Feed; log: ReturnType<typeof captureLog>; ticks: Tick[] }> => {
  server = await startReplayServer(serverOptions)
  const log = captureLog()
  const ticks: Tick[] = []
  feed = runFeed({
    adapter: coinbase,
    pairs: ['SKL-GBP'],
    baseUrl: server.url,
    log,
    onTicks: (t) => ticks.push(...t),
    staleAfterMs: 10_000,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    random: () => 1,
    ...feedOptions,
  })
  return { server, feed, log, ticks }
}

describe('runFeed', () => {
  it('connects, subscribes, and hands the ticks over', async () => {
    const { server, feed, log, ticks } = await start({ frames: SKL, afterFirstMessage: true })
    await eventually(() => (ticks.length === 2 ? true : undefined), 5000, 'two ticks')
    expect(JSON.parse(server.received[0]!.data)).toEqual({
      type: 'subscribe',
      product_ids: ['SKL-GBP'],
      channels: ['ticker', 'level2_batch', 'heartbeat'],
    })
    expect(feed.status()).toBe('connected')
    expect(feed.counters).toMatchObject({ frames: 4, ticks: 2, malformed: 0, errors: 0, reconnects: 0 })
    expect(feed.counters.lastMessageTs).toBeGreaterThan(0)
    expect(log.find('connected')).toHaveLength(1)
    expect(log.find('subscribed')[0]).toMatchObject({ level: 'info', pairs: ['SKL-GBP'], frames: 1 })
  })

  it('reconnects with back-off after the server drops it, resubscribes, and starts a fresh book', async () => {
    const { server, feed, log, ticks } = await start({ frames: SKL, afterFirstMessage: true })
    await eventually(() => (ticks.length === 2 ? true : undefined), 5000, 'first ticks')
    server.drop()
    await server.waitForConnections(2)
    await eventually(() => (ticks.length === 4 ? true : undefined), 5000, 'ticks after reconnect')
    expect(server.received.map((r) => r.connection)).toEqual([0, 1])
    expect(server.received[1]!.data).toBe(server.received[0]!.data)
    // A fresh session: the replayed snapshot is accepted again and gives the same seq.
    expect(ticks[2]!.seq).toBe(ticks[0]!.seq)
    expect(feed.counters.reconnects).toBe(1)
    expect(log.find('reconnecting')[0]).toMatchObject({ level: 'warn', attempt: 1, delayMs: 20, code: 1001 })
    expect(feed.status()).toBe('connected')
  })

  it('counts a malformed frame, an error frame and control frames, and survives them', async () => {
    const frames = fixture('coinbase', 'doc-btc-usd')
    const { feed, log, ticks } = await start({ frames, afterFirstMessage: true }, { pairs: ['BTC-USD'] })
    await eventually(() => (feed.counters.frames === frames.length ? true : undefined), 5000, 'all frames')
    expect(feed.counters).toMatchObject({ malformed: 1, errors: 1, ticks: 2, reconnects: 0 })
    expect(ticks.map((t) => t.bids[0]![0])).toEqual([10101.1, 10101.8])
    expect(log.find('malformed frame')[0]).toMatchObject({
      level: 'warn',
      excerpt: '{"type":"l2update","product_id":"BTC-USD","changes":[["buy","10101.80000000"',
    })
    expect(log.find('bad frame')[0]).toMatchObject({ reason: expect.stringMatching(/Failed to subscribe/) })
    expect(feed.status()).toBe('connected')
  })

  it('reconnects a silent connection after staleAfterMs', async () => {
    const { server, feed, log } = await start({ frames: [] }, { staleAfterMs: 300 })
    await server.waitForConnections(2, 5000)
    expect(feed.counters.staleTimeouts).toBeGreaterThanOrEqual(1)
    expect(log.find('no data, reconnecting')[0]).toMatchObject({ staleAfterMs: 300 })
    expect(log.find('reconnecting')[0]).toMatchObject({ reason: 'stale' })
  })

  it('does not let heartbeats and acks keep a connection without book data alive', async () => {
    // Control frames only, every 50 ms: the stale timer must still fire.
    const { server, feed } = await start({ frames: [ack!, ticker!], intervalMs: 50, loop: true }, { staleAfterMs: 400 })
    await server.waitForConnections(2, 5000)
    expect(feed.counters.staleTimeouts).toBeGreaterThanOrEqual(1)
    expect(feed.counters.frames).toBeGreaterThan(4)
  })

  it('keeps a connection whose book data flows alive past staleAfterMs', async () => {
    // The same update again and again: data every 25 ms, so staleness never sets in.
    const { server, feed } = await start(
      { frames: [snapshot!, ...Array.from({ length: 60 }, () => update!)], intervalMs: 25 },
      { staleAfterMs: 500 },
    )
    await new Promise((r) => setTimeout(r, 1200))
    expect(feed.counters.staleTimeouts).toBe(0)
    expect(server.connectionCount).toBe(1)
  })

  it('reconnects when pongs stop coming back', async () => {
    const { server, feed, log } = await start({ frames: SKL, autoPong: false }, { pingIntervalMs: 100 })
    await server.waitForConnections(2, 5000)
    expect(feed.counters.pongTimeouts).toBeGreaterThanOrEqual(1)
    expect(feed.counters.staleTimeouts).toBe(0)
    expect(log.find('reconnecting')[0]).toMatchObject({ reason: 'pong timeout' })
  })

  it('keeps a connection that answers pings', async () => {
    const { server, feed } = await start({ frames: SKL }, { pingIntervalMs: 50 })
    await new Promise((r) => setTimeout(r, 400))
    expect(feed.counters.pongTimeouts).toBe(0)
    expect(server.connectionCount).toBe(1)
  })

  it('grows the back-off while connections bring no data, caps it, and resets it after a data frame', async () => {
    const { server, feed, log } = await start(
      { frames: [], endAfterFrames: true },
      { backoffMinMs: 20, backoffMaxMs: 80 },
    )
    await server.waitForConnections(6, 5000)
    const delays = () => log.find('reconnecting').map((e) => [e['attempt'], e['delayMs']])
    expect(delays().slice(0, 5)).toEqual([
      [1, 20],
      [2, 40],
      [3, 80],
      [4, 80],
      [5, 80],
    ])
    // The gaps between connections follow the delays (the capped ones at least).
    const gaps = server.connectedAt.slice(1).map((t, i) => t - server.connectedAt[i]!)
    expect(Math.min(...gaps.slice(2, 5))).toBeGreaterThanOrEqual(75)

    // From now on every connection brings a data frame before it closes: the back-off starts over.
    server.setFrames([snapshot!])
    const seen = log.find('reconnecting').length
    await eventually(
      () => (log.find('reconnecting').slice(seen + 1).length >= 2 ? true : undefined),
      5000,
      'reconnects after data',
    )
    const after = log.find('reconnecting').slice(seen + 1, seen + 3)
    expect(after.map((e) => [e['attempt'], e['delayMs']])).toEqual([
      [1, 20],
      [1, 20],
    ])
    expect(log.find('data flowing again').length).toBeGreaterThanOrEqual(1)
    expect(feed.counters.reconnects).toBeGreaterThanOrEqual(7)
  })

  it('reconnects on a resync with a fresh session', async () => {
    const docSnapshot = fixture('coinbase', 'doc-btc-usd')[2]!
    const [crossing] = fixture('coinbase', 'doc-l2update-multi')
    const { server, feed, log, ticks } = await start(
      { frames: [docSnapshot, crossing!], afterFirstMessage: true },
      { pairs: ['BTC-USD'] },
    )
    await server.waitForConnections(2, 5000)
    await eventually(() => (ticks.length >= 2 ? true : undefined), 5000, 'snapshot tick after resync')
    expect(feed.counters.resyncs).toBeGreaterThanOrEqual(1)
    expect(log.find('resync, reconnecting')[0]).toMatchObject({ reason: 'crossed book for BTC-USD' })
    expect(ticks[1]!.bids).toEqual([[10101.1, 0.4505414]])
  })

  it('refuses a frame above maxPayloadBytes and reconnects', async () => {
    const { server, feed } = await start({ frames: [snapshot!] }, { maxPayloadBytes: 1024 })
    await server.waitForConnections(2, 5000)
    expect(feed.counters.frames).toBe(0)
    expect(feed.counters.reconnects).toBeGreaterThanOrEqual(1)
  })

  it('opens one connection per BL3P market on its orderbook path, without subscribing', async () => {
    const [book] = fixture('bl3p', 'orderbook-2017')
    const { server, feed, ticks } = await start({ frames: [book!] }, { adapter: bl3p, pairs: ['BTC-EUR', 'LTC-EUR'] })
    await eventually(() => (ticks.length === 2 ? true : undefined), 5000, 'a tick per market')
    expect([...server.paths].sort()).toEqual(['/1/BTCEUR/orderbook', '/1/LTCEUR/orderbook'])
    expect(server.received).toEqual([])
    expect(ticks.map((t) => t.pair).sort()).toEqual(['BTC-EUR', 'LTC-EUR'])
    expect(feed.connections().map((c) => c.status)).toEqual(['connected', 'connected'])
  })

  it('stops cleanly: sockets closed, timers cancelled, no reconnect', async () => {
    const { server, feed, log } = await start({ frames: SKL, afterFirstMessage: true }, { pingIntervalMs: 50 })
    await eventually(() => (feed.status() === 'connected' ? true : undefined), 5000, 'connected')
    await feed.stop()
    expect(feed.status()).toBe('disconnected')
    await eventually(() => (server.openConnections === 0 ? true : undefined), 2000, 'server sees the close')
    await new Promise((r) => setTimeout(r, 200))
    expect(server.connectionCount).toBe(1)
    expect(log.find('reconnecting')).toHaveLength(0)
  })

  it('stops while waiting to reconnect', async () => {
    const { server, feed } = await start({ frames: [] }, { backoffMinMs: 500, backoffMaxMs: 500 })
    await server.waitForConnections(1)
    server.drop()
    await eventually(() => (feed.status() === 'disconnected' ? true : undefined), 2000, 'disconnected')
    await feed.stop()
    await new Promise((r) => setTimeout(r, 700))
    expect(server.connectionCount).toBe(1)
  })

  it('keeps retrying when nothing listens', async () => {
    // A port that was just listening and is now closed: connection refused.
    const gone = await startReplayServer()
    const url = gone.url
    await gone.close()
    const log = captureLog()
    feed = runFeed({
      adapter: coinbase,
      pairs: ['SKL-GBP'],
      baseUrl: url,
      log,
      onTicks: () => {},
      staleAfterMs: 10_000,
      backoffMinMs: 10,
      backoffMaxMs: 20,
    })
    const running = feed
    await eventually(() => (running.counters.reconnects >= 3 ? true : undefined), 5000, 'three retries')
    expect(log.find('websocket error').length).toBeGreaterThanOrEqual(3)
    expect(running.status()).not.toBe('connected')
  })
})

/**
 * A real HTTP server on 127.0.0.1 standing in for an exchange's REST API. It answers snapshot
 * requests from a script (the last reply repeats), or holds them until released, and records each
 * request: when it came and whether the client gave up on it.
 */
type Reply = { status: number; body: string; headers?: Record<string, string> } | 'hold'

interface RestRequest {
  readonly path: string
  readonly at: number
  aborted: boolean
}

const startRestServer = async (...script: Reply[]) => {
  const requests: RestRequest[] = []
  const held: { res: ServerResponse; request: RestRequest }[] = []
  const server = createServer((req, res) => {
    const request: RestRequest = { path: req.url ?? '', at: Date.now(), aborted: false }
    requests.push(request)
    res.on('close', () => {
      if (!res.writableFinished) request.aborted = true
    })
    const reply = script[Math.min(requests.length - 1, script.length - 1)]!
    if (reply === 'hold') held.push({ res, request })
    else res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(reply.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    /** Answers every held request that is still open. */
    release(reply: { status: number; body: string }) {
      for (const { res, request } of held.splice(0)) {
        if (!request.aborted) res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body)
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

describe('runFeed REST snapshots (SnapshotFetcher)', () => {
  // The real Binance capture (fixtures/binance/SOURCES.md): XMRBTC diffs 717720856…717720870 and the
  // REST snapshot taken at 717720857.
  const diffs = fixture('binance', 'real-xmrbtc-depth')
  const [snapshotText] = fixture('binance', 'real-xmrbtc-snapshot-top')
  const ok = { status: 200, body: snapshotText! }
  const SNAPSHOT_PATH = '/api/v3/depth?symbol=XMRBTC&limit=1000'
  let rest: Awaited<ReturnType<typeof startRestServer>> | undefined

  afterEach(async () => {
    await feed?.stop()
    await rest?.close()
    rest = undefined
  })

  const startBinance = async (
    frames: readonly string[],
    script: Reply[],
    serverOptions: Partial<ReplayServerOptions> = {},
    feedOptions: Partial<FeedOptions> = {},
  ) => {
    rest = await startRestServer(...script)
    const statuses: FeedStatus[] = []
    const started = await start(
      { frames, afterFirstMessage: true, ...serverOptions },
      {
        adapter: binance,
        pairs: ['XMR-BTC'],
        restBaseUrl: rest.url,
        onStatus: (status) => statuses.push(status),
        ...feedOptions,
      },
    )
    return { ...started, rest, statuses }
  }

  const lastSeq = (ticks: readonly Tick[]) => ticks.at(-1)?.seq

  it('fetches the snapshot the session asks for, applies it, and the diffs after it become ticks', async () => {
    const { server, feed, log, ticks, rest } = await startBinance(diffs, [ok], { intervalMs: 30 })
    await eventually(() => (lastSeq(ticks) === '717720870' ? true : undefined), 5000, 'the last diff as a tick')
    expect(JSON.parse(server.received[0]!.data)).toEqual({ method: 'SUBSCRIBE', params: ['xmrbtc@depth@100ms'], id: 1 })
    expect(rest.requests.map((r) => r.path)).toEqual([SNAPSHOT_PATH])
    expect(feed.counters).toMatchObject({ snapshots: 1, snapshotFailures: 0, rateLimited: 0, resyncs: 0, errors: 0 })
    expect(log.find('snapshot applied')).toEqual([expect.objectContaining({ pair: 'XMR-BTC', result: 'ticks' })])
    // Diffs after the snapshot each moved the book: ticks in update-id order, ending on the captured book.
    const seqs = ticks.map((t) => Number(t.seq))
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(ticks.length).toBeGreaterThanOrEqual(2)
    expect(ticks.at(-1)!.bids[0]).toEqual([0.005773, 16.196])
    expect(ticks.at(-1)!.asks[0]).toEqual([0.00578, 37.51])
    expect(feed.status()).toBe('connected')
  })

  it('waits out HTTP 429 for as long as Retry-After says, counts it, then succeeds', async () => {
    const { feed, log, ticks, rest } = await startBinance(diffs, [
      { status: 418, body: '{"code":-1003,"msg":"banned"}' },
      { status: 429, body: '{"code":-1003,"msg":"Too many requests"}', headers: { 'retry-after': '1' } },
      ok,
    ])
    await eventually(() => (ticks.length > 0 ? true : undefined), 10_000, 'a tick after the rate limit')
    expect(rest.requests).toHaveLength(3)
    expect(feed.counters).toMatchObject({ rateLimited: 2, snapshotFailures: 0, snapshots: 1 })
    const retries = log.find('snapshot failed, retrying')
    // 418 without Retry-After: the back-off (20 ms at attempt 1, random = 1); 429: Retry-After wins.
    expect(retries.map((e) => [e['attempt'], e['delayMs']])).toEqual([
      [1, 20],
      [2, 1000],
    ])
    expect(retries[1]!['reason']).toMatch(/^HTTP 429 from http:\/\/127\.0\.0\.1:\d+\/api\/v3\/depth/)
    expect(rest.requests[2]!.at - rest.requests[1]!.at).toBeGreaterThanOrEqual(990)
    expect(lastSeq(ticks)).toBe('717720870')
  })

  it('counts HTTP 500 and a body that is not JSON as snapshot failures and retries with back-off', async () => {
    const { feed, log, ticks, rest } = await startBinance(
      diffs,
      [{ status: 500, body: 'internal error' }, { status: 200, body: '{"lastUpdateId":' }, ok],
      {},
      { backoffMinMs: 60, backoffMaxMs: 1000 },
    )
    await eventually(() => (ticks.length > 0 ? true : undefined), 5000, 'a tick after the failures')
    expect(rest.requests).toHaveLength(3)
    expect(feed.counters).toMatchObject({ snapshotFailures: 2, rateLimited: 0, snapshots: 1, resyncs: 0 })
    const retries = log.find('snapshot failed, retrying')
    expect(retries.map((e) => [e['attempt'], e['delayMs']])).toEqual([
      [1, 60],
      [2, 120],
    ])
    expect(retries[0]!['reason']).toMatch(/HTTP 500 .*: internal error$/)
    expect(retries[1]!['reason']).toMatch(/^not JSON from .*: \{"lastUpdateId":$/)
    expect(rest.requests[1]!.at - rest.requests[0]!.at).toBeGreaterThanOrEqual(55)
    expect(rest.requests[2]!.at - rest.requests[1]!.at).toBeGreaterThanOrEqual(115)
    expect(feed.status()).toBe('connected')
  })

  it('is syncing while the snapshot is pending, buffers the diffs, and is connected once it applies', async () => {
    const { feed, ticks, rest, statuses } = await startBinance(diffs, ['hold'])
    await eventually(() => (rest.requests.length === 1 ? true : undefined), 5000, 'the snapshot request')
    await eventually(() => (feed.counters.frames === diffs.length ? true : undefined), 5000, 'every diff')
    expect(feed.status()).toBe('syncing')
    expect(feed.connections()[0]!.status).toBe('syncing')
    expect(ticks).toEqual([])
    rest.release(ok)
    await eventually(() => (ticks.length > 0 ? true : undefined), 5000, 'the tick of the sync')
    // Every buffered diff after the snapshot was applied at once.
    expect(ticks.map((t) => t.seq)).toEqual(['717720870'])
    expect(feed.status()).toBe('connected')
    expect(statuses).toEqual(['connecting', 'connected', 'syncing', 'connected'])
  })

  it('cancels the snapshot request when the connection closes; the next connection fetches its own', async () => {
    const { server, feed, log, ticks, rest } = await startBinance(diffs, ['hold', ok])
    await eventually(() => (rest.requests.length === 1 ? true : undefined), 5000, 'the snapshot request')
    server.drop()
    await eventually(() => (rest.requests[0]!.aborted ? true : undefined), 5000, 'the request aborted')
    await eventually(() => (lastSeq(ticks) === '717720870' ? true : undefined), 5000, 'ticks on the next connection')
    expect(server.connectionCount).toBe(2)
    expect(rest.requests).toHaveLength(2)
    // The cancelled request is neither a failure nor applied.
    expect(feed.counters).toMatchObject({ snapshots: 1, snapshotFailures: 0, rateLimited: 0, reconnects: 1 })
    expect(log.find('snapshot failed, retrying')).toEqual([])
  })

  it('backs off before fetching again a snapshot the session found too old', async () => {
    // The connection sees the diffs from 717720862 on, but every snapshot says 717720857: the
    // session asks again until MAX_STALE_SNAPSHOTS (5), then resyncs.
    const { feed, log, rest } = await startBinance(diffs.slice(2), [ok], {}, { backoffMinMs: 40, backoffMaxMs: 1000 })
    await eventually(() => (feed.counters.resyncs >= 1 ? true : undefined), 5000, 'the resync')
    const firstConnection = rest.requests.slice(0, 5)
    expect(
      log
        .find('snapshot applied')
        .slice(0, 5)
        .map((e) => e['result']),
    ).toEqual(['control', 'control', 'control', 'control', 'resync'])
    const gaps = firstConnection.slice(1).map((r, i) => r.at - firstConnection[i]!.at)
    expect(gaps.map((g, i) => g >= 40 * 2 ** i - 5)).toEqual([true, true, true, true])
    expect(feed.counters.snapshotFailures).toBe(0)
  })

  it('counts an adapter that throws on a snapshot as an error and starts over instead of syncing forever', async () => {
    const throwing: ExchangeAdapter = {
      ...binance,
      createSession: (pairs) => {
        const session = binance.createSession(pairs)
        return {
          onFrame: (frame, receivedTs, raw) => session.onFrame(frame, receivedTs, raw),
          onSnapshot: () => {
            throw new Error('boom')
          },
        }
      },
    }
    const { server, feed, log } = await startBinance(diffs, [ok], {}, { adapter: throwing })
    await server.waitForConnections(2, 5000)
    expect(log.find('adapter failed on a snapshot')[0]).toMatchObject({ level: 'error', pair: 'XMR-BTC' })
    expect(feed.counters.errors).toBeGreaterThanOrEqual(1)
    expect(feed.counters.resyncs).toBeGreaterThanOrEqual(1)
    expect(feed.counters.snapshots).toBe(0)
  })

  it('counts an adapter whose snapshot URL throws as a snapshot failure and keeps retrying', async () => {
    const noUrl: ExchangeAdapter = {
      ...binance,
      snapshotUrl: () => {
        throw new Error('no such market')
      },
    }
    const { feed, log } = await startBinance(diffs, [ok], {}, { adapter: noUrl })
    await eventually(() => (feed.counters.snapshotFailures >= 3 ? true : undefined), 5000, 'three failures')
    expect(log.find('snapshot failed, retrying')[0]!['reason']).toBe('XMR-BTC: no such market')
    expect(feed.status()).toBe('syncing')
  })
})
