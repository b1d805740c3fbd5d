import { WebSocket } from 'ws'
import { parseConfig, SimulatorConfig, type Level, type Tick } from '@arb/contracts'
import { runFeed, type ExchangeAdapter, type Feed, type FeedCounters, type FeedStatus } from '@arb/exchanges'
import { createLogger } from '@arb/observability'
import { SIZE_DECIMALS, type BookView } from '../src/market.js'
import type { SimulatedExchange } from '../src/protocols/index.js'
import { startSimulator, type Simulator } from '../src/simulator.js'

/** Shared by the per-exchange simulator tests that run a real adapter against one protocol. */

export type Msg = Record<string, unknown>

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const testLog = (exchange: string) =>
  createLogger({ service: `simulator-${exchange}-test`, level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })

/** One exchange's protocol on port 0, every 20 ms a step, no arbitrage window to race the checks. */
export const startOne = (exchange: SimulatedExchange, pairs: readonly string[]): Promise<Simulator> =>
  startSimulator({
    config: parseConfig(SimulatorConfig, {
      PORT: '0',
      TICK_MS: '20',
      PAIRS: pairs.join(','),
      OPPORTUNITY_EVERY_MS: '600000',
    }),
    log: testLog(exchange.profile.id),
    exchanges: [exchange],
  })

export const wsUrlOf = (sim: Simulator, exchange: string): string =>
  sim.endpoints.find((e) => e.exchange === exchange)!.url

/** Top 10 of the simulator's own book, as the Tick contract writes levels. */
export const topOf = (book: BookView): { bids: Level[]; asks: Level[] } => {
  const level = (l: { price: number; size: number }): Level => [
    l.price / 10 ** book.priceDecimals,
    l.size / 10 ** SIZE_DECIMALS,
  ]
  return { bids: book.bids.slice(0, 10).map(level), asks: book.asks.slice(0, 10).map(level) }
}

/** A client that reads the wire independently of the adapter: every frame's text, in arrival order. */
export const connect = async (url: string) => {
  const ws = new WebSocket(url)
  const raws: string[] = []
  ws.on('message', (data) => raws.push(String(data)))
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws,
    raws,
    closed,
    // Bitfinex's channel messages are arrays, so the caller says what it expects.
    msgs: <T = Msg>() => raws.map((r) => JSON.parse(r) as T),
    // A string goes out as it is, so a test can send what no JSON encoder would (bad JSON, a bare `ping`).
    send: (msg: unknown) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    close: async () => {
      ws.close()
      await closed
    },
  }
}

export interface FeedRun {
  /** Already stopped; its counters run to the stop, so they include whatever `beforeStop` caused. */
  readonly feed: Feed
  /** Every tick the feed emitted, in order, up to the stop. */
  readonly ticks: readonly Tick[]
  /**
   * The feed as it stood when the run's time was up, before `beforeStop`: stopping the feed reports
   * `disconnected` and closing the simulator under it counts a reconnect, and a run's checks are not about either.
   */
  readonly running: {
    readonly status: FeedStatus
    readonly statuses: readonly FeedStatus[]
    readonly counters: Readonly<FeedCounters>
  }
}

export interface FeedRunOptions {
  /** Appended to the simulator's URL for the exchange: the adapter's `url` is replaced whole, path included. */
  readonly path?: string
  /**
   * What must happen while the feed is still connected: closing the simulator first, so the feed has
   * received everything the market sent before its books are compared, or reading REST books to match ticks.
   */
  readonly beforeStop?: (feed: Feed) => Promise<void>
}

/** The real adapter through the real feed against `sim` for `ms`, the path production takes against the exchange. */
export const runFeedAgainst = async (
  sim: Simulator,
  adapter: ExchangeAdapter,
  pairs: readonly string[],
  ms: number,
  { path = '', beforeStop }: FeedRunOptions = {},
): Promise<FeedRun> => {
  const ticks: Tick[] = []
  const statuses: FeedStatus[] = []
  const feed = runFeed({
    adapter,
    pairs,
    baseUrl: `${wsUrlOf(sim, adapter.id)}${path}`,
    restBaseUrl: `${sim.httpUrl}/${adapter.id}`,
    log: testLog(adapter.id),
    onTicks: (t) => ticks.push(...t),
    onStatus: (s) => statuses.push(s),
    staleAfterMs: 10_000,
    backoffMinMs: 100,
    backoffMaxMs: 1000,
  })
  try {
    await sleep(ms)
    const running = { status: feed.status(), statuses: [...statuses], counters: { ...feed.counters } }
    await beforeStop?.(feed)
    return { feed, ticks, running }
  } finally {
    await feed.stop()
  }
}
