import { ConfigError, type IngestorConfig } from '@arb/contracts'
import { startIngest, type Ingest, type IngestDeps } from './ingest.js'
import { openRecording } from './recorder.js'
import { startReplay, type Replay } from './replay.js'

/** What every way of running needs: the adapter, its pairs, and where the ticks go. */
export type Core = Pick<IngestDeps, 'adapter' | 'pairs' | 'publisher' | 'topo' | 'log'>

/**
 * The ingestor's work as its env chooses it: a replay of REPLAY_FILE, or the live feed, recorded
 * under RECORD_DIR when that is set. Throws ConfigError at start-up for a file it cannot read.
 */
export const startFromConfig = (config: IngestorConfig, instance: string, core: Core): Ingest | Replay => {
  if (config.REPLAY_FILE !== undefined) {
    if (config.RECORD_DIR !== undefined) {
      throw new ConfigError([{ path: 'RECORD_DIR', message: 'a replay (REPLAY_FILE) has nothing to record' }])
    }
    return startReplay({ ...core, file: config.REPLAY_FILE })
  }
  const { adapter, pairs, log } = core
  return startIngest({
    ...core,
    baseUrl: config.EXCHANGE_URL ?? adapter.url,
    restBaseUrl: config.EXCHANGE_REST_URL,
    settings: {
      staleAfterMs: config.STALE_AFTER_MS,
      backoffMinMs: config.BACKOFF_MIN_MS,
      backoffMaxMs: config.BACKOFF_MAX_MS,
    },
    recording:
      config.RECORD_DIR === undefined
        ? undefined
        : openRecording({ dir: config.RECORD_DIR, exchange: adapter.id, pairs, instance, log }),
  })
}
