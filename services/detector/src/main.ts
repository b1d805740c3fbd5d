import { DetectorConfig, parseConfig, topology } from '@arb/contracts'
import {
  connectNats,
  defaultInstanceId,
  DEFAULT_STREAM_SETTINGS,
  ensureStreams,
  jsPublisher,
  startHeartbeat,
} from '@arb/bus'
import { defaultTakerFees } from '@arb/exchanges'
import { createLogger, logFatalErrors, onShutdown } from '@arb/observability'
import { engineOptions, startDetector } from './detector.js'
import { parseFees } from './fees.js'

const config = parseConfig(DetectorConfig, process.env)
const instance = config.INSTANCE_ID ?? defaultInstanceId()
const log = createLogger({ service: 'detector', level: config.LOG_LEVEL, instance })
logFatalErrors(log)
const fees = parseFees(config.FEES, defaultTakerFees())
log.info({ fees, openBps: config.OPEN_BPS, closeBps: config.CLOSE_BPS }, 'detector starting')

const topo = topology(config.NATS_PREFIX)
const nc = await connectNats(config.NATS_URL, log, `detector-${instance}`)
// No `update`: the persister owns the stream settings; this only creates what is missing.
await ensureStreams(nc, topo, DEFAULT_STREAM_SETTINGS, log)
const publisher = jsPublisher(nc, log)

const detector = startDetector({
  nc,
  topo,
  log,
  publisher,
  engine: engineOptions(config, fees),
  heartbeatMs: config.HEARTBEAT_MS,
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

onShutdown(log, [detector.stop, heartbeat.stop, () => nc.drain()])
