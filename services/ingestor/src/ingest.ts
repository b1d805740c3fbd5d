import type { JsPublisher } from '@arb/bus'
import { ConfigError, Pair, tickDecoder, tickMsgId, type Heartbeat, type Tick, type Topology } from '@arb/contracts'
import { runFeed, type ExchangeAdapter, type Feed, type FeedLogger } from '@arb/exchanges'
import type { Recording } from './recorder.js'

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
  /** RECORD_DIR: everything the feed's sessions are given goes there; `stop()` closes it. */
  readonly recording?: Recording | undefined
}

export interface Ingest {
  readonly feed: Feed
  /** The live part of this process's heartbeat. */
  health(): Pick<Heartbeat, 'status' | 'lastMessageTs' | 'counters'>
  /** Stops the feed, then waits (a bounded time) until JetStream has acknowledged every held tick. */
  stop(): Promise<void>
}

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

/** Checks each tick and queues it on `ticks.<exchange>.<pair>` with its Nats-Msg-Id; live and replay alike. */
export const tickPublisher = (publisher: JsPublisher, topo: Topology, log: FeedLogger) => {
  const counts = { invalidTicks: 0 }
  const publish = (tick: Tick): void => {
    // Cheap (compiled check) and keeps an adapter bug from putting a tick consumers would reject on the stream.
    if (!tickDecoder.check(tick as unknown)) {
      counts.invalidTicks++
      if (worthLogging(counts.invalidTicks)) {
        log.warn({ pair: tick.pair, invalidTicks: counts.invalidTicks }, 'adapter produced an invalid tick')
      }
      return
    }
    // Held through NATS outages and sent again with the same id; a full buffer drops (and counts) per its policy.
    publisher.publish(topo.tick(tick.exchange, tick.pair), JSON.stringify(tick), tickMsgId(tick))
  }
  return { publish, counts: counts as Readonly<typeof counts> }
}

export const startIngest = ({
  adapter,
  pairs,
  baseUrl,
  restBaseUrl,
  publisher,
  topo,
  log,
  settings,
  recording,
}: IngestDeps): Ingest => {
  const { publish, counts } = tickPublisher(publisher, topo, log)
  const feed = runFeed({
    adapter,
    pairs,
    baseUrl,
    ...(restBaseUrl === undefined ? {} : { restBaseUrl }),
    log,
    onTicks: (ticks) => ticks.forEach(publish),
    ...settings,
    ...(recording === undefined ? {} : { recorder: recording.record }),
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
          invalidTicks: counts.invalidTicks,
          ...(recording === undefined
            ? {}
            : { recorded: recording.stats.records, recordDropped: recording.stats.dropped }),
          published: p.published,
          duplicates: p.duplicates,
          republished: p.republished,
          publishFailed: p.failed,
          buffered: p.buffered,
          bufferPeak: p.bufferPeak,
          bufferDropped: p.bufferDropped,
        },
      }
    },
    stop: async () => {
      await feed.stop()
      await recording?.close()
      const unpublished = await publisher.flush()
      // The totals of this process's life, so that a stop can be checked against the stream.
      const { published, duplicates, bufferDropped } = publisher.stats
      const totals = { published, duplicates, bufferDropped }
      if (unpublished > 0) log.warn({ unpublished, ...totals }, 'stopping with ticks JetStream has not acknowledged')
      else log.info(totals, 'every tick acknowledged by JetStream')
    },
  }
}
