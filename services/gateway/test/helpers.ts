import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { topology, type Signal, type Topology } from '@arb/contracts'
import { connectNats, natsIsUp, type NatsConnection } from '@arb/bus'
import { createLogger, type Logger } from '@arb/observability'
import { freshSchema, testDatabaseUrl, testNatsUrl, uniqueName } from '@arb/testkit'
import { build } from '../src/app.js'
import { createPool } from '../src/plugins/db.js'
import { startServicesRegistry } from '../src/services-registry.js'

export const log: Logger = createLogger({ service: 'gateway-test', level: process.env['LOG_LEVEL'] ?? 'silent' })

/**
 * arb_signals as docs/architecture.md defines it. @arb/storage owns the real migration; this
 * copy lets the gateway tests run before (and independently of) it.
 */
export const createSignalsTable = async (databaseUrl: string, schema: string): Promise<void> => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(`
      CREATE TABLE ${schema}.arb_signals (
        id text NOT NULL, state text NOT NULL, ts timestamptz NOT NULL, pair text NOT NULL,
        buy_exchange text NOT NULL, sell_exchange text NOT NULL,
        volume float8, gross_spread_bps float8, net_profit float8, net_profit_bps float8,
        opened_at timestamptz, payload jsonb NOT NULL,
        PRIMARY KEY (id, state, ts));
      CREATE INDEX ON ${schema}.arb_signals (ts DESC);
      CREATE INDEX ON ${schema}.arb_signals (pair, ts DESC);`)
  } finally {
    await client.end()
  }
}

export const insertSignals = async (pool: pg.Pool, signals: readonly Signal[]): Promise<void> => {
  for (const s of signals) {
    await pool.query(
      `INSERT INTO arb_signals (id, state, ts, pair, buy_exchange, sell_exchange, volume, gross_spread_bps,
         net_profit, net_profit_bps, opened_at, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        s.id,
        s.state,
        new Date(s.ts).toISOString(),
        s.pair,
        s.buy.exchange,
        s.sell.exchange,
        s.volume,
        s.grossSpreadBps,
        s.netProfit,
        s.netProfitBps,
        new Date(s.openedAt).toISOString(),
        JSON.stringify(s),
      ],
    )
  }
}

export const T0 = Date.UTC(2024, 0, 1)

export const makeSignal = (over: Partial<Signal> = {}): Signal => ({
  v: 1,
  id: 'sig-1',
  state: 'opened',
  pair: 'BTC-EUR',
  buy: { exchange: 'coinbase', price: 100, fee: 0.006 },
  sell: { exchange: 'bl3p', price: 102, fee: 0.0025 },
  volume: 0.5,
  grossSpreadBps: 200,
  netProfit: 0.57,
  netProfitBps: 114,
  openedAt: T0,
  ts: T0,
  ...over,
})

export interface Harness {
  readonly app: FastifyInstance
  readonly nc: NatsConnection
  readonly topo: Topology
  readonly schema: string
  readonly databaseUrl: string
  close(): Promise<void>
}

/**
 * A gateway on the real NATS and PostgreSQL, isolated by a fresh NATS prefix and a fresh schema
 * holding arb_signals (unless `withTable` is false).
 */
export const startGateway = async (
  opts: { ttlMs?: number; databaseUrl?: string; withTable?: boolean } = {},
): Promise<Harness> => {
  const realDatabaseUrl = await testDatabaseUrl()
  const databaseUrl = opts.databaseUrl ?? realDatabaseUrl
  const { schema, drop } = await freshSchema(realDatabaseUrl)
  if (opts.withTable !== false) await createSignalsTable(realDatabaseUrl, schema)
  const nc = await connectNats(await testNatsUrl(), log, uniqueName('gateway-test-'))
  const topo = topology(uniqueName('t'))
  const registry = startServicesRegistry({ nc, topo, ttlMs: opts.ttlMs ?? 10_000, log })
  const pool = createPool({ url: databaseUrl, schema, connectTimeoutMs: 1000 })
  const app = await build({ pool, natsUp: () => natsIsUp(nc), topo, registry, log, instance: 'gw-test' })
  await app.ready()
  return {
    app,
    nc,
    topo,
    schema,
    databaseUrl,
    close: async () => {
      await app.close()
      if (!nc.isClosed()) await nc.close()
      await drop()
    },
  }
}
