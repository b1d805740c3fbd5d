import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type StreamConfig } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Topology } from '@arb/contracts'
import type { Logger } from '@arb/observability'

export interface StreamSettings {
  readonly ticksMaxAgeMs: number
  readonly dedupWindowMs: number
}

const NS_PER_MS = 1_000_000

/** Stream defaults for processes that only publish; the persister owns the real settings. */
export const DEFAULT_STREAM_SETTINGS: StreamSettings = { ticksMaxAgeMs: 24 * 3600 * 1000, dedupWindowMs: 120_000 }

/**
 * Creates TICKS and SIGNALS when missing, so a publisher that starts first does not fail; with
 * `update` (the persister, which owns the settings) also brings an existing stream's config up
 * to date. Safe to call from every replica at every start.
 */
export const ensureStreams = async (
  nc: NatsConnection,
  topo: Topology,
  s: StreamSettings,
  log: Logger,
  { update = false }: { update?: boolean } = {},
) => {
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
      if (update) {
        await jsm.streams.update(name, cfg)
        log.info({ stream: name }, 'stream config updated')
      }
    } catch (err) {
      if (!isNotFound(err)) throw err
      await jsm.streams.add(cfg)
      log.info({ stream: name }, 'stream created')
    }
  }
}

const isNotFound = (err: unknown): boolean =>
  err instanceof Error && (err.name === 'StreamNotFoundError' || /not found/i.test(err.message))
