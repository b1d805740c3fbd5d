import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigError } from './errors.js'

/**
 * Each service's environment is a TypeBox object; `parseConfig` applies defaults, converts
 * strings to numbers/booleans and reports every bad variable at once.
 */
export const parseConfig = <T extends TObject>(schema: T, env: Record<string, string | undefined>): Static<T> => {
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key]
    if (raw !== undefined && raw !== '') picked[key] = raw
  }
  const value = Value.Convert(schema, Value.Default(schema, picked))
  if (Value.Check(schema, value)) return value
  const issues = [...Value.Errors(schema, value)].map((e) => ({
    path: e.path.slice(1) || '(root)',
    message: e.message,
  }))
  throw new ConfigError(issues)
}

const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
  { default: 'info', description: 'pino level: fatal, error, warn, info, debug, trace, silent' },
)

/** Variables every service reads. */
export const CommonConfig = {
  NATS_URL: Type.String({ default: 'nats://127.0.0.1:4222', description: 'NATS server(s), comma-separated' }),
  NATS_PREFIX: Type.String({
    default: '',
    pattern: '^([a-z0-9_-]+(\\.[a-z0-9_-]+)*)?$',
    description: 'namespace for every subject and stream (tests; empty in production)',
  }),
  LOG_LEVEL: LogLevel,
  HEARTBEAT_MS: Type.Integer({ default: 2000, minimum: 100, description: 'presence heartbeat period' }),
  INSTANCE_ID: Type.Optional(
    Type.String({ minLength: 1, description: 'instance name in /services; default host-pid' }),
  ),
} satisfies TProperties

const Database = {
  DATABASE_URL: Type.String({
    default: 'postgres://postgres@127.0.0.1:5432/postgres',
    description: 'PostgreSQL / TimescaleDB',
  }),
  DB_SCHEMA: Type.String({
    default: 'public',
    pattern: '^[a-z_][a-z0-9_]{0,62}$',
    description: 'schema holding the tables',
  }),
} satisfies TProperties

export const IngestorConfig = Type.Object({
  ...CommonConfig,
  EXCHANGE: Type.String({ pattern: '^[a-z][a-z0-9]+$', description: 'exchange id this instance serves (required)' }),
  PAIRS: Type.Optional(
    Type.String({ description: 'comma-separated BASE-QUOTE pairs; default: the adapter’s defaults' }),
  ),
  EXCHANGE_URL: Type.Optional(Type.String({ description: 'WebSocket URL override (simulator, tests)' })),
  STALE_AFTER_MS: Type.Integer({
    default: 30_000,
    minimum: 1000,
    description: 'reconnect when no data arrives for this long',
  }),
  BACKOFF_MIN_MS: Type.Integer({
    default: 500,
    minimum: 10,
    description: 'first reconnect delay (jittered, doubles per attempt)',
  }),
  BACKOFF_MAX_MS: Type.Integer({ default: 30_000, minimum: 100, description: 'cap on the reconnect delay' }),
})
export type IngestorConfig = Static<typeof IngestorConfig>

export const PersisterConfig = Type.Object({
  ...CommonConfig,
  ...Database,
  BATCH_SIZE: Type.Integer({ default: 5000, minimum: 1, maximum: 100_000, description: 'rows per insert' }),
  BATCH_MAX_WAIT_MS: Type.Integer({ default: 250, minimum: 1, description: 'flush a partial batch after this long' }),
  CONSUMER_NAME: Type.String({
    default: 'persister',
    pattern: '^[A-Za-z0-9_-]+$',
    description: 'durable consumer name',
  }),
  TICKS_MAX_AGE_H: Type.Number({
    default: 24,
    exclusiveMinimum: 0,
    description: 'how long the TICKS stream keeps ticks',
  }),
  DEDUP_WINDOW_S: Type.Integer({ default: 120, minimum: 1, description: 'JetStream duplicate window' }),
})
export type PersisterConfig = Static<typeof PersisterConfig>

export const DetectorConfig = Type.Object({
  ...CommonConfig,
  FEES: Type.String({
    default: '',
    description: 'taker fees, e.g. "coinbase=0.006,bl3p=0.0025"; adapters give defaults',
  }),
  OPEN_BPS: Type.Number({ default: 5, description: 'net edge in bps that opens a signal' }),
  CLOSE_BPS: Type.Number({ default: 2, description: 'a signal closes when the net edge falls below this' }),
  MAX_QUOTE_AGE_MS: Type.Integer({ default: 2000, minimum: 1, description: 'older quotes are never used' }),
  UPDATE_FRACTION: Type.Number({
    default: 0.05,
    minimum: 0,
    description: 'publish `updated` when profit moves by this',
  }),
})
export type DetectorConfig = Static<typeof DetectorConfig>

export const GatewayConfig = Type.Object({
  ...CommonConfig,
  ...Database,
  HOST: Type.String({ default: '127.0.0.1', description: 'listen address (0.0.0.0 in containers)' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'HTTP port' }),
  SERVICE_TTL_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'forget an instance not heard from' }),
})
export type GatewayConfig = Static<typeof GatewayConfig>

export const SimulatorConfig = Type.Object({
  LOG_LEVEL: LogLevel,
  HOST: Type.String({ default: '127.0.0.1', description: 'listen address (0.0.0.0 in containers)' }),
  PORT: Type.Integer({ default: 8900, minimum: 0, maximum: 65535, description: 'one port serves every exchange' }),
  PAIRS: Type.String({
    default: 'BTC-EUR',
    description: 'comma-separated BASE-QUOTE pairs; Coinbase lists all of them plus BTC-USD, BL3P the EUR ones',
  }),
  TICK_MS: Type.Integer({
    default: 100,
    minimum: 1,
    description: 'price process step; every step moves a few levels of every book (1 for benchmarks)',
  }),
  SEED: Type.Integer({ default: 42, description: 'random seed; same seed, same prices' }),
  VOLATILITY_BPS: Type.Number({
    default: 2,
    minimum: 0,
    description: 'standard deviation of the shared fair price per square-root second, in bps',
  }),
  OPPORTUNITY_EVERY_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'period of arbitrage windows' }),
  OPPORTUNITY_MS: Type.Integer({ default: 3000, minimum: 10, description: 'length of each arbitrage window' }),
  OPPORTUNITY_MIN_NET_BPS: Type.Number({
    default: 20,
    description: 'smallest edge of a window after both taker fees, in bps',
  }),
  OPPORTUNITY_MAX_NET_BPS: Type.Number({
    default: 60,
    description: 'largest edge of a window after both taker fees, in bps',
  }),
})
export type SimulatorConfig = Static<typeof SimulatorConfig>
