import {
  connectNats,
  DEFAULT_STREAM_SETTINGS,
  defaultInstanceId,
  drainNats,
  ensureStreams,
  jsPublisher,
  startHeartbeat,
} from '@arb/bus'
import { IngestorConfig, parseConfig, topology } from '@arb/contracts'
import { getAdapter } from '@arb/exchanges'
import { createLogger, logFatalErrors, onShutdown, redactUrl } from '@arb/observability'
import { resolvePairs } from './ingest.js'
import { startFromConfig } from './start.js'

const config = parseConfig(IngestorConfig, process.env)
const instance = config.INSTANCE_ID ?? defaultInstanceId()
const root = createLogger({ service: 'ingestor', level: config.LOG_LEVEL, instance })
const log = root.child({ exchange: config.EXCHANGE })
logFatalErrors(log)

const adapter = getAdapter(config.EXCHANGE)
const pairs = resolvePairs(adapter, config.PAIRS)
const baseUrl = config.EXCHANGE_URL ?? adapter.url
const shown = {
  ...config,
  NATS_URL: config.NATS_URL.split(',').map((u) => redactUrl(u.trim())),
  ...(config.EXCHANGE_URL === undefined ? {} : { EXCHANGE_URL: redactUrl(config.EXCHANGE_URL) }),
  ...(config.EXCHANGE_REST_URL === undefined ? {} : { EXCHANGE_REST_URL: redactUrl(config.EXCHANGE_REST_URL) }),
}
log.info({ config: shown, pairs, url: redactUrl(baseUrl) }, 'starting')

const topo = topology(config.NATS_PREFIX)
const nc = await connectNats(config.NATS_URL, log, `ingestor-${config.EXCHANGE}-${instance}`)
// Created when missing, never reconfigured: the persister owns the stream settings.
await ensureStreams(nc, topo, DEFAULT_STREAM_SETTINGS, log)
const ingest = startFromConfig(config, instance, {
  adapter,
  pairs,
  publisher: jsPublisher(nc, log, {
    buffer: { maxMessages: config.PUBLISH_BUFFER_TICKS, policy: config.PUBLISH_BUFFER_POLICY },
  }),
  topo,
  log,
})
const heartbeat = startHeartbeat(
  nc,
  topo,
  { service: 'ingestor', instance, exchange: adapter.id, snapshot: ingest.health },
  config.HEARTBEAT_MS,
)
const shutdown = onShutdown(log, [ingest.stop, heartbeat.stop, () => drainNats(nc)])
if ('done' in ingest) void ingest.done.then((code) => shutdown('replay finished', code))
