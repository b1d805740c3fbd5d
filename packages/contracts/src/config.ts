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
  EXCHANGE_REST_URL: Type.Optional(
    Type.String({ description: 'REST base URL override for book snapshots (Binance, Bitstamp; simulator, tests)' }),
  ),
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
  PUBLISH_BUFFER_TICKS: Type.Integer({
    default: 100_000,
    minimum: 1,
    description: 'ticks held until JetStream acks them, across NATS outages (~1 KB of memory each)',
  }),
  PUBLISH_BUFFER_POLICY: Type.Union([Type.Literal('drop-oldest'), Type.Literal('drop-newest')], {
    default: 'drop-oldest',
    description: 'which tick a full publish buffer gives up; counted as bufferDropped',
  }),
  RECORD_DIR: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'write every frame and REST snapshot the feed receives to <dir>/<exchange>-<start>-<instance>.jsonl (feed-record.v1)',
    }),
  ),
  REPLAY_FILE: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'publish the ticks of this recording instead of connecting, then exit 0 (not with RECORD_DIR)',
    }),
  ),
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
  ACK_WAIT_MS: Type.Integer({
    default: 30_000,
    minimum: 1000,
    description: 'JetStream redelivers what a crashed persister held, unacked, after this long',
  }),
})
export type PersisterConfig = Static<typeof PersisterConfig>

// Defaults shared by the detector's env and the CLIs' JSON file, so both mean the same.
const ENGINE_DEFAULTS = { openBps: 5, closeBps: 2, minProfit: 0, maxQuoteAgeMs: 2000, updateFraction: 0.05 } as const

export const DetectorConfig = Type.Object({
  ...CommonConfig,
  FEES: Type.String({
    default: '',
    description: 'taker fees, e.g. "coinbase=0.006,bl3p=0.0025"; adapters give defaults',
  }),
  BALANCES: Type.String({
    default: '',
    description: 'funds per exchange and asset: kraken:BTC=1.5,kraken:EUR=40000, or as JSON; unset = unlimited',
  }),
  OPEN_BPS: Type.Number({ default: ENGINE_DEFAULTS.openBps, description: 'net edge in bps that opens a signal' }),
  CLOSE_BPS: Type.Number({
    default: ENGINE_DEFAULTS.closeBps,
    description: 'a signal closes when the net edge falls below this',
  }),
  MIN_PROFIT: Type.Number({
    default: ENGINE_DEFAULTS.minProfit,
    minimum: 0,
    description: 'smallest net profit, in quote currency, that opens a signal',
  }),
  MAX_QUOTE_AGE_MS: Type.Integer({
    default: ENGINE_DEFAULTS.maxQuoteAgeMs,
    minimum: 1,
    description: 'older quotes are never used',
  }),
  UPDATE_FRACTION: Type.Number({
    default: ENGINE_DEFAULTS.updateFraction,
    minimum: 0,
    description: 'publish `updated` when volume or profit moves by more than this fraction',
  }),
  LEADER_TTL_MS: Type.Integer({
    default: 3000,
    minimum: 200,
    description: 'leader lease: a standby replica takes over when the leader has not renewed it for this long',
  }),
})
export type DetectorConfig = Static<typeof DetectorConfig>

/** Env of the backtest CLI (services/detector/src/cli/backtest.ts): where the stored ticks are. */
export const BacktestConfig = Type.Object({ ...Database })
export type BacktestConfig = Static<typeof BacktestConfig>

const ExchangeKey = Type.String({ pattern: '^[a-z][a-z0-9]{1,31}$' })
const AssetKey = Type.String({ pattern: '^[A-Z0-9]{2,12}$' })

/**
 * The engine settings file the replay and backtest CLIs read (`--config engine.json`). Public:
 * keys may be added, and these keep their names and meaning, which is that of the detector's env
 * (FEES, BALANCES, OPEN_BPS, CLOSE_BPS, MIN_PROFIT, MAX_QUOTE_AGE_MS, UPDATE_FRACTION).
 */
export const EngineConfigFile = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'ignored; lets editors find this schema' })),
    fees: Type.Optional(
      Type.Record(ExchangeKey, Type.Number({ minimum: 0, exclusiveMaximum: 1 }), {
        additionalProperties: false,
        description: 'taker fee fraction per exchange, over the adapters’ defaults',
      }),
    ),
    balances: Type.Optional(
      Type.Record(ExchangeKey, Type.Record(AssetKey, Type.Number({ minimum: 0 }), { additionalProperties: false }), {
        additionalProperties: false,
        description: 'funds per exchange per asset; a missing entry is unlimited',
      }),
    ),
    openBps: Type.Optional(Type.Number({ default: ENGINE_DEFAULTS.openBps, description: 'OPEN_BPS' })),
    closeBps: Type.Optional(Type.Number({ default: ENGINE_DEFAULTS.closeBps, description: 'CLOSE_BPS' })),
    minProfit: Type.Optional(
      Type.Number({ default: ENGINE_DEFAULTS.minProfit, minimum: 0, description: 'MIN_PROFIT, quote currency' }),
    ),
    maxQuoteAgeMs: Type.Optional(
      Type.Integer({ default: ENGINE_DEFAULTS.maxQuoteAgeMs, minimum: 1, description: 'MAX_QUOTE_AGE_MS' }),
    ),
    updateFraction: Type.Optional(
      Type.Number({ default: ENGINE_DEFAULTS.updateFraction, minimum: 0, description: 'UPDATE_FRACTION' }),
    ),
  },
  { additionalProperties: false, $id: 'https://arb.dev/schemas/engine-config.v1.json', title: 'EngineConfig' },
)
export type EngineConfigFile = Static<typeof EngineConfigFile>

/** Engine settings with every default applied: what the env and the JSON file both turn into. */
export interface EngineSettings {
  readonly fees: Readonly<Record<string, number>>
  readonly balances: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly openBps: number
  readonly closeBps: number
  readonly minProfit: number
  readonly maxQuoteAgeMs: number
  readonly updateFraction: number
}

/** A clearer word for TypeBox's "Unexpected property", which is how a misspelt key shows. */
const unexpected = (parts: string[], message: string): string => {
  if (message !== 'Unexpected property') return message
  if (parts.length === 1) {
    const known = Object.keys(EngineConfigFile.properties).filter((k) => k !== '$schema')
    return `unknown key (known: ${known.join(', ')})`
  }
  if (parts.length === 2) return 'not an exchange id (lower-case, e.g. kraken)'
  return 'not an asset (upper-case, e.g. BTC)'
}

/**
 * The one validator of engine settings, for a parsed JSON file and for the settings the detector
 * builds from its env: applies defaults, checks the schema and that CLOSE_BPS ≤ OPEN_BPS, and
 * reports every problem at once as a ConfigError whose paths name the key (`balances.kraken.BTC`).
 */
export const checkEngineSettings = (value: unknown): EngineSettings => {
  const issues: { path: string; message: string }[] = []
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError([{ path: '(root)', message: 'expected a JSON object' }])
  }
  const withDefaults = Value.Default(EngineConfigFile, Value.Clone(value))
  if (!Value.Check(EngineConfigFile, withDefaults)) {
    for (const e of Value.Errors(EngineConfigFile, withDefaults)) {
      const parts = e.path.slice(1).split('/')
      issues.push({ path: parts.join('.') || '(root)', message: unexpected(parts, e.message) })
    }
    throw new ConfigError(issues)
  }
  const s = withDefaults as Required<EngineConfigFile>
  if (s.closeBps > s.openBps) {
    issues.push({ path: 'closeBps', message: `must not exceed openBps (${s.openBps}): the signal would flap` })
    throw new ConfigError(issues)
  }
  return {
    fees: s.fees ?? {},
    balances: s.balances ?? {},
    openBps: s.openBps,
    closeBps: s.closeBps,
    minProfit: s.minProfit,
    maxQuoteAgeMs: s.maxQuoteAgeMs,
    updateFraction: s.updateFraction,
  }
}

/** Parses the text of an engine settings file; `source` (its path) prefixes every issue. */
export const parseEngineConfig = (text: string, source = 'config'): EngineSettings => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError([{ path: source, message: `not JSON: ${(err as Error).message}` }])
  }
  try {
    return checkEngineSettings(value)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    throw new ConfigError(err.issues.map((i) => ({ path: `${source}: ${i.path}`, message: i.message })))
  }
}

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
  DISCONNECT_EVERY_MS: Type.Integer({
    default: 0,
    minimum: 0,
    description: 'drop every client socket without a close frame this often (soak and fault tests); 0 = never',
  }),
  EXCHANGES: Type.String({
    default: '',
    description: 'exchanges to serve, comma-separated (arbitrage windows fall only between them); empty: all',
  }),
})
export type SimulatorConfig = Static<typeof SimulatorConfig>
