import type { JsPublisher } from '@arb/bus'
import { ConfigError, Pair, tickDecoder, tickMsgId, type Heartbeat, type Tick, type Topology } from '@arb/contracts'
import { runFeed, type ExchangeAdapter, type Feed, type FeedLogger } from '@arb/exchanges'

/**
 * The ingestor's core: one exchange feed whose ticks go to JetStream on
 * `ticks.<exchange>.<pair>` with `Nats-Msg-Id = <exchange>:<pair>:<seq>`, so replicas reading the
 * same exchange stream store each tick once. Every dependency is an argument (CONVENTIONS.md §5).
 */

export interface IngestSettings {
  readonly staleAfterMs: number
  readonly backoffMinMs: number
  readonly backoffMaxMs: number
  readonly pingIntervalMs?: number
}

export interface IngestDeps {
  readonly adapter: ExchangeAdapter
  readonly pairs: readonly Pair[]
  readonly baseUrl: string
  /** REST base for book snapshots; the adapter's own when undefined. */
  readonly restBaseUrl?: string | undefined
  readonly publisher: JsPublisher
  readonly topo: Topology
  readonly log: FeedLogger
  readonly settings: IngestSettings
}

export interface Ingest {
  readonly feed: Feed
  /** The live part of this process's heartbeat. */
  health(): Pick<Heartbeat, 'status' | 'lastMessageTs' | 'counters'>
  /** Stops the feed, then waits for every publish in flight. */
  stop(): Promise<void>
}

/**
 * Publishes waiting for a JetStream ack beyond which new ticks are dropped: while NATS is away a
 * tick is worth nothing by the time it could be sent, and memory must not grow without bound.
 */
export const MAX_IN_FLIGHT = 10_000

const PAIR_PATTERN = new RegExp(Pair.pattern ?? '')

/** PAIRS (comma-separated) or the adapter's defaults; throws ConfigError on a malformed pair. */
export const resolvePairs = (adapter: ExchangeAdapter, list: string | undefined): Pair[] => {
  if (list === undefined || list.trim() === '') return [...adapter.defaultPairs]
  const pairs = [...new Set(list.split(',').map((p) => p.trim()))].filter((p) => p !== '')
  const bad = pairs.filter((p) => !PAIR_PATTERN.test(p))
  if (bad.length > 0 || pairs.length === 0) {
    throw new ConfigError([
      { path: 'PAIRS', message: `expected BASE-QUOTE pairs like BTC-EUR, got ${bad.join(', ') || '(none)'}` },
    ])
  }
  return pairs
}

// First few, then one in a thousand: a broken adapter or a NATS outage must not flood the log.
const worthLogging = (count: number): boolean => count <= 10 || count % 1000 === 0

export const startIngest = ({
  adapter,
  pairs,
  baseUrl,
  restBaseUrl,
  publisher,
  topo,
  log,
  settings,
}: IngestDeps): Ingest => {
  let invalidTicks = 0
  let droppedTicks = 0
  const publish = (tick: Tick) => {
    // Cheap (compiled check) and keeps an adapter bug from putting a tick consumers would reject on the stream.
    if (!tickDecoder.check(tick as unknown)) {
      invalidTicks++
      if (worthLogging(invalidTicks)) log.warn({ pair: tick.pair, invalidTicks }, 'adapter produced an invalid tick')
      return
    }
    if (publisher.stats.inFlight >= MAX_IN_FLIGHT) {
      droppedTicks++
      if (worthLogging(droppedTicks))
        log.warn({ droppedTicks, inFlight: publisher.stats.inFlight }, 'jetstream backlog full, dropping ticks')
      return
    }
    void publisher.publish(topo.tick(tick.exchange, tick.pair), JSON.stringify(tick), tickMsgId(tick))
  }
  const feed = runFeed({
    adapter,
    pairs,
    baseUrl,
    ...(restBaseUrl === undefined ? {} : { restBaseUrl }),
    log,
    onTicks: (ticks) => ticks.forEach(publish),
    ...settings,
  })
  return {
    feed,
    health: () => {
      const c = feed.counters
      const p = publisher.stats
      return {
        status: feed.status() === 'connected' ? 'ok' : 'degraded',
        lastMessageTs: c.lastMessageTs,
        counters: {
          frames: c.frames,
          ticks: c.ticks,
          malformed: c.malformed,
          errors: c.errors,
          resyncs: c.resyncs,
          reconnects: c.reconnects,
          staleTimeouts: c.staleTimeouts,
          pongTimeouts: c.pongTimeouts,
          snapshots: c.snapshots,
          snapshotFailures: c.snapshotFailures,
          rateLimited: c.rateLimited,
          invalidTicks,
          droppedTicks,
          published: p.published,
          duplicates: p.duplicates,
          publishFailed: p.failed,
        },
      }
    },
    stop: async () => {
      await feed.stop()
      await publisher.flush()
    },
  }
}
