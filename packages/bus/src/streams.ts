import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type StreamConfig } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Topology } from '@arb/contracts'
import type { Logger } from '@arb/observability'

export interface StreamSettings {
  readonly ticksMaxAgeMs: number
  readonly dedupWindowMs: number
}

const NS_PER_MS = 1_000_000

/**
 * Creates TICKS and SIGNALS or brings their config up to date; safe to call from every
 * replica at every start.
 */
export const ensureStreams = async (nc: NatsConnection, topo: Topology, s: StreamSettings, log: Logger) => {
  const jsm = await jetstreamManager(nc)
  const wanted: (Partial<StreamConfig> & { name: string })[] = [
    {
      name: topo.ticksStream,
      subjects: [topo.allTicks],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: s.ticksMaxAgeMs * NS_PER_MS,
      duplicate_window: s.dedupWindowMs * NS_PER_MS,
    },
    {
      name: topo.signalsStream,
      subjects: [topo.signals],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: 7 * 24 * 3600 * 1000 * NS_PER_MS,
      duplicate_window: s.dedupWindowMs * NS_PER_MS,
    },
  ]
  for (const cfg of wanted) {
    const name = cfg.name
    try {
      await jsm.streams.info(name)
      await jsm.streams.update(name, cfg)
      log.info({ stream: name }, 'stream up to date')
    } catch (err) {
      if (!isNotFound(err)) throw err
      await jsm.streams.add(cfg)
      log.info({ stream: name }, 'stream created')
    }
  }
}

const isNotFound = (err: unknown): boolean =>
  err instanceof Error && (err.name === 'StreamNotFoundError' || /not found/i.test(err.message))
