import { connectNats, defaultInstanceId, drainNats, ensureStreams, startHeartbeat } from '@arb/bus'
import { parseConfig, PersisterConfig, topology } from '@arb/contracts'
import { createLogger, logFatalErrors, onShutdown, redactUrl } from '@arb/observability'
import { createPool, migrate, signalWriter, tickWriter } from '@arb/storage'
import { openConsumers, startPersister } from './persister.js'

const config = parseConfig(PersisterConfig, process.env)
const instance = config.INSTANCE_ID ?? defaultInstanceId()
const log = createLogger({ service: 'persister', level: config.LOG_LEVEL, instance })
logFatalErrors(log)
const topo = topology(config.NATS_PREFIX)

const pool = createPool(config.DATABASE_URL, {
  schema: config.DB_SCHEMA,
  applicationName: `persister ${instance}`,
  onError: (err) => log.warn({ err }, 'idle database connection lost'),
})
const db = await migrate(pool)
log.info(
  { database: redactUrl(config.DATABASE_URL), schema: db.schema, applied: db.applied, mode: db.mode },
  `storage mode: ${db.mode}`,
)

const nc = await connectNats(config.NATS_URL, log, `persister ${instance}`)
await ensureStreams(
  nc,
  topo,
  { ticksMaxAgeMs: config.TICKS_MAX_AGE_H * 3_600_000, dedupWindowMs: config.DEDUP_WINDOW_S * 1000 },
  log,
  { update: true },
)
const consumers = await openConsumers(nc, topo, {
  consumerName: config.CONSUMER_NAME,
  batchSize: config.BATCH_SIZE,
  ackWaitMs: config.ACK_WAIT_MS,
})

const persister = startPersister({
  ...consumers,
  ackWaitMs: config.ACK_WAIT_MS,
  tickWriter: tickWriter(pool),
  signalWriter: signalWriter(pool),
  batch: { size: config.BATCH_SIZE, maxWaitMs: config.BATCH_MAX_WAIT_MS },
  log,
})
const heartbeat = startHeartbeat(
  nc,
  topo,
  { service: 'persister', instance, snapshot: persister.snapshot },
  config.HEARTBEAT_MS,
)

onShutdown(log, [persister.stop, heartbeat.stop, () => drainNats(nc), () => pool.end()])
