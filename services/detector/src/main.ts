import { DetectorConfig, parseConfig, topology } from '@arb/contracts'
import {
  connectNats,
  DEFAULT_STREAM_SETTINGS,
  defaultInstanceId,
  drainNats,
  ensureStreams,
  jsPublisher,
  startHeartbeat,
} from '@arb/bus'
import { defaultTakerFees } from '@arb/exchanges'
import { createLogger, logFatalErrors, onShutdown } from '@arb/observability'
import { startDetector } from './detector.js'
import { startLeaderLease } from './leader.js'
import { recentSignals } from './recover.js'
import { engineOptions, settingsFromEnv } from './settings.js'

const config = parseConfig(DetectorConfig, process.env)
const instance = config.INSTANCE_ID ?? defaultInstanceId()
const log = createLogger({ service: 'detector', level: config.LOG_LEVEL, instance })
logFatalErrors(log)
const engine = engineOptions(settingsFromEnv(config), defaultTakerFees())
log.info({ ...engine, leaderTtlMs: config.LEADER_TTL_MS }, 'detector starting')

const topo = topology(config.NATS_PREFIX)
const nc = await connectNats(config.NATS_URL, log, `detector-${instance}`)
// No `update`: the persister owns the stream settings; this only creates what is missing.
await ensureStreams(nc, topo, DEFAULT_STREAM_SETTINGS, log)
const publisher = jsPublisher(nc, log)
const lease = await startLeaderLease({ nc, prefix: config.NATS_PREFIX, instance, ttlMs: config.LEADER_TTL_MS, log })

const detector = startDetector({
  nc,
  topo,
  log,
  publisher,
  engine,
  heartbeatMs: config.HEARTBEAT_MS,
  lease,
  // What a crashed or stopped predecessor left open is closed by this one (recover.ts).
  recover: () => recentSignals(nc, topo.signalsStream, log),
})
const heartbeat = startHeartbeat(
  nc,
  topo,
  {
    service: 'detector',
    instance,
    snapshot: () => ({ status: 'ok', lastMessageTs: detector.lastMessageTs(), counters: { ...detector.counters } }),
  },
  config.HEARTBEAT_MS,
)

// The detector stops first, so nothing is published after the lease is released.
onShutdown(log, [detector.stop, lease.stop, heartbeat.stop, () => drainNats(nc)])
