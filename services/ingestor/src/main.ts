import {
  connectNats,
  defaultInstanceId,
  DEFAULT_STREAM_SETTINGS,
  ensureStreams,
  jsPublisher,
  startHeartbeat,
} from '@arb/bus'
import { IngestorConfig, parseConfig, topology } from '@arb/contracts'
import { getAdapter } from '@arb/exchanges'
import { createLogger, logFatalErrors, onShutdown, redactUrl } from '@arb/observability'
import { resolvePairs, startIngest } from './ingest.js'

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
const ingest = startIngest({
  adapter,
  pairs,
  baseUrl,
  restBaseUrl: config.EXCHANGE_REST_URL,
  publisher: jsPublisher(nc, log),
  topo,
  log,
  settings: {
    staleAfterMs: config.STALE_AFTER_MS,
    backoffMinMs: config.BACKOFF_MIN_MS,
    backoffMaxMs: config.BACKOFF_MAX_MS,
  },
})
const heartbeat = startHeartbeat(
  nc,
  topo,
  { service: 'ingestor', instance, exchange: adapter.id, snapshot: ingest.health },
  config.HEARTBEAT_MS,
)
onShutdown(log, [ingest.stop, heartbeat.stop, () => nc.drain()])
