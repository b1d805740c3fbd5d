import { afterEach, describe, expect, it } from 'vitest'
import type { Tick } from '@arb/contracts'
import { eventually, startReplayServer, type ReplayServer, type ReplayServerOptions } from '@arb/testkit'
import { bl3p, coinbase, runFeed, type Feed, type FeedOptions } from '../src/index.js'
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
