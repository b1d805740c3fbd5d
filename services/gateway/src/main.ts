import { GatewayConfig, parseConfig, topology } from '@arb/contracts'
import { connectNats, defaultInstanceId, drainNats, natsIsUp, startHeartbeat, type NatsConnection } from '@arb/bus'
import { createLogger, logFatalErrors, onShutdown, redactUrl } from '@arb/observability'
import { build } from './app.js'
import { createPool } from './plugins/db.js'
import { startServicesRegistry } from './services-registry.js'

const config = parseConfig(GatewayConfig, process.env)
const instance = config.INSTANCE_ID ?? defaultInstanceId()
const log = createLogger({ service: 'gateway', level: config.LOG_LEVEL, instance })
logFatalErrors(log)

const topo = topology(config.NATS_PREFIX)
const pool = createPool({ url: config.DATABASE_URL, schema: config.DB_SCHEMA })
log.info({ database: redactUrl(config.DATABASE_URL), schema: config.DB_SCHEMA }, 'database pool created')

// Listen before NATS is there: an operator's probe should get /ready 503 "nats: down", not a refused connection.
const connecting = connectNats(config.NATS_URL, log, `gateway-${instance}`)
let nc: NatsConnection | undefined = undefined
const registry = startServicesRegistry({ nc: connecting, topo, ttlMs: config.SERVICE_TTL_MS, log })
const app = await build({ pool, natsUp: () => nc !== undefined && natsIsUp(nc), topo, registry, log, instance })
let stopHeartbeat = () => {}
// Stop beating first so peers see us leave, answer what is in flight while new requests get 503,
// then close (ends idle connections and the pool), then drain NATS.
onShutdown(log, [
  () => stopHeartbeat(),
  () => app.drain(),
  () => app.close(),
  async () => nc !== undefined && drainNats(nc),
])
const url = await app.listen({ host: config.HOST, port: config.PORT })
log.info({ url }, 'gateway listening')

nc = await connecting
stopHeartbeat = startHeartbeat(
  nc,
  topo,
  { service: 'gateway', instance, snapshot: () => app.selfStatus() },
  config.HEARTBEAT_MS,
).stop
