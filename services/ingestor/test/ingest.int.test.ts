import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream'
import { connectNats, DEFAULT_STREAM_SETTINGS, ensureStreams, jsPublisher, type NatsConnection } from '@arb/bus'
import { ConfigError, tickDecoder, topology, type Tick, type Topology } from '@arb/contracts'
import { bl3p, coinbase, type ExchangeAdapter } from '@arb/exchanges'
import { createLogger, type Logger } from '@arb/observability'
import { eventually, loadFrames, startReplayServer, testNatsUrl, uniqueName, type ReplayServer } from '@arb/testkit'
import { resolvePairs, startIngest, type Ingest } from '../src/ingest.js'

/**
 * Replay server → ingest core → real JetStream (NATS_URL), each test on its own NATS_PREFIX and
 * therefore its own stream, deleted afterwards.
 */

const log: Logger = createLogger({ service: 'ingestor-test', level: process.env['LOG_LEVEL'] ?? 'silent' })
const fixtures = new URL('../../../packages/exchanges/fixtures/', import.meta.url)
const SKL = loadFrames(new URL('coinbase/real-skl-gbp.jsonl', fixtures))
const BL3P_BOOK = loadFrames(new URL('bl3p/orderbook-2017.jsonl', fixtures))

let nc: NatsConnection
let topo: Topology
let server: ReplayServer | undefined
const running: Ingest[] = []

beforeEach(async () => {
  nc = await connectNats(await testNatsUrl(), log, 'ingestor-test')
  topo = topology(uniqueName('ing'))
  await ensureStreams(nc, topo, DEFAULT_STREAM_SETTINGS, log)
})

afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()))
  await server?.close()
  server = undefined
  const jsm = await jetstreamManager(nc)
  await jsm.streams.delete(topo.ticksStream)
  await jsm.streams.delete(topo.signalsStream)
  await nc.drain()
})

const ingest = (adapter: ExchangeAdapter, pairs: string[], url: string): Ingest => {
  const i = startIngest({
    adapter,
    pairs,
    baseUrl: url,
    publisher: jsPublisher(nc, log),
    topo,
    log,
    settings: { staleAfterMs: 10_000, backoffMinMs: 50, backoffMaxMs: 500 },
  })
  running.push(i)
  return i
}

/** Every message in the test's TICKS stream, in stream order. */
const storedTicks = async (): Promise<StoredMsg[]> => {
  const jsm = await jetstreamManager(nc)
  const { state } = await jsm.streams.info(topo.ticksStream)
  const out: StoredMsg[] = []
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(topo.ticksStream, { seq })
    if (m) out.push(m)
  }
  return out
}

const waitForStored = (count: number): Promise<StoredMsg[]> =>
  eventually(
    async () => {
      const msgs = await storedTicks()
      return msgs.length >= count ? msgs : undefined
    },
    10_000,
    `${count} ticks in the stream`,
  )

describe('ingestor core', () => {
  it('publishes Coinbase ticks to ticks.coinbase.<pair> with Nats-Msg-Id = exchange:pair:seq', async () => {
    server = await startReplayServer({ frames: SKL, afterFirstMessage: true })
    const core = ingest(coinbase, ['SKL-GBP'], server.url)
    const msgs = await waitForStored(2)
    const ticks: Tick[] = msgs.map((m) => tickDecoder.decode(m.data))
    expect(msgs.map((m) => m.subject)).toEqual([topo.tick('coinbase', 'SKL-GBP'), topo.tick('coinbase', 'SKL-GBP')])
    expect(msgs.map((m) => m.header.get('Nats-Msg-Id'))).toEqual(ticks.map((t) => `coinbase:SKL-GBP:${t.seq}`))
    expect(ticks.map((t) => t.asks[0])).toEqual([
      [0.5762, 2865.9],
      [0.5762, 335],
    ])
    expect(ticks[1]!.exchangeTs).toBe(Date.parse('2021-04-17T16:43:37.078325Z'))
    const health = core.health()
    expect(health.status).toBe('ok')
    expect(health.lastMessageTs).toBeGreaterThan(0)
    await eventually(() => (core.health().counters['published'] === 2 ? true : undefined), 5000, 'acks')
    expect(core.health().counters).toMatchObject({ frames: 4, ticks: 2, published: 2, duplicates: 0, invalidTicks: 0 })
  })

  it('publishes BL3P ticks to ticks.bl3p.BTC-EUR from the market orderbook path', async () => {
    server = await startReplayServer({ frames: BL3P_BOOK })
    ingest(bl3p, ['BTC-EUR'], server.url)
    const [msg] = await waitForStored(1)
    expect(server.paths).toEqual(['/1/BTCEUR/orderbook'])
    expect(msg!.subject).toBe(topo.tick('bl3p', 'BTC-EUR'))
    const tick = tickDecoder.decode(msg!.data)
    expect(tick).toMatchObject({ exchange: 'bl3p', pair: 'BTC-EUR', exchangeTs: null })
    expect(tick.bids[0]).toEqual([5013.31, 1])
    expect(tick.asks[0]).toEqual([5046.21, 2.525])
  })

  it('stores each tick once when two instances read the same exchange stream', async () => {
    server = await startReplayServer({ frames: SKL, afterFirstMessage: true })
    const a = ingest(coinbase, ['SKL-GBP'], server.url)
    const b = ingest(coinbase, ['SKL-GBP'], server.url)
    await eventually(
      () => {
        const sum = (k: string) => (a.health().counters[k] ?? 0) + (b.health().counters[k] ?? 0)
        return sum('published') + sum('duplicates') === 4 ? true : undefined
      },
      10_000,
      'four acknowledged publishes',
    )
    const msgs = await storedTicks()
    expect(msgs).toHaveLength(2)
    expect(a.health().counters['duplicates']! + b.health().counters['duplicates']!).toBe(2)
    expect(server.connectionCount).toBe(2)
  })

  it('does not publish a tick that breaks the contract', async () => {
    // An adapter gone wrong (crossed book) must not reach the stream.
    const broken: ExchangeAdapter = {
      ...coinbase,
      createSession: () => ({
        onFrame: (_frame, receivedTs) => ({
          kind: 'ticks',
          ticks: [
            {
              v: 1,
              exchange: 'coinbase',
              pair: 'SKL-GBP',
              seq: '1',
              exchangeTs: null,
              receivedTs,
              bids: [[2, 1]],
              asks: [[1, 1]],
            },
          ],
        }),
      }),
    }
    server = await startReplayServer({ frames: [SKL[1]!, SKL[3]!], afterFirstMessage: true })
    const core = ingest(broken, ['SKL-GBP'], server.url)
    await eventually(() => (core.health().counters['invalidTicks'] === 2 ? true : undefined), 5000)
    expect((await storedTicks()).length).toBe(0)
  })
})

describe('resolvePairs', () => {
  it('uses the adapter defaults unless PAIRS is set', () => {
    expect(resolvePairs(coinbase, undefined)).toEqual(['BTC-EUR', 'BTC-USD'])
    expect(resolvePairs(coinbase, ' BTC-EUR , ETH-EUR,BTC-EUR ')).toEqual(['BTC-EUR', 'ETH-EUR'])
  })
  it('rejects malformed pairs with a ConfigError naming them', () => {
    expect(() => resolvePairs(coinbase, 'BTC-EUR,btceur')).toThrow(ConfigError)
    expect(() => resolvePairs(coinbase, 'BTC-EUR,btceur')).toThrow(/PAIRS: .*btceur/)
    expect(() => resolvePairs(coinbase, ',')).toThrow(ConfigError)
  })
})
