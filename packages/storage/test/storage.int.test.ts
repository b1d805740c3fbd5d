import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { freshSchema, testDatabaseUrl, uniqueName, sampleSignal, startPostgres } from '@arb/testkit'
import {
  createPool,
  loadMigrations,
  migrate,
  MigrationError,
  SchemaNameError,
  signalWriter,
  storageMode,
  TickBatch,
  tickWriter,
  type Pool,
  type StoredTick,
} from '../src/index.js'

const T0 = 1_700_000_000_000

const tick = (i: number, over: Partial<StoredTick> = {}): StoredTick => ({
  v: 1,
  exchange: i % 2 ? 'coinbase' : 'bl3p',
  pair: 'BTC-EUR',
  seq: String(i),
  exchangeTs: T0 + i,
  receivedTs: T0 + i + 7,
  bids: Array.from({ length: 10 }, (_, l) => [30_000 - l * 0.5 - i / 100, 0.1 + l] as [number, number]),
  asks: Array.from({ length: 10 }, (_, l) => [30_001 + l * 0.5 + i / 100, 0.2 + l] as [number, number]),
  ...over,
})

const signal = sampleSignal

let url: string
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  url = await testDatabaseUrl()
})
afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
})

const freshPool = async (): Promise<{ pool: Pool; schema: string }> => {
  const s = await freshSchema(url)
  const pool = createPool(url, { schema: s.schema })
  cleanups.push(async () => {
    await pool.end()
    await s.drop()
  })
  return { pool, schema: s.schema }
}

describe('migrations', () => {
  it('finds the migration files beside src/ and dist/', async () => {
    const list = await loadMigrations()
    expect(list.map((m) => m.version)).toEqual([1, 2, 3])
    expect(list[0]?.name).toBe('ticks')
  })

  it('applies every migration once; running again changes nothing', async () => {
    const { pool, schema } = await freshPool()
    const first = await migrate(pool)
    expect(first.applied).toEqual(['001_ticks', '002_arb_signals', '003_ticks_hypertable'])
    expect(first.schema).toBe(schema)
    const second = await migrate(pool)
    expect(second.applied).toEqual([])
    const rows = await pool.query('SELECT version FROM schema_migrations ORDER BY version')
    expect(rows.rows.map((r: { version: number }) => r.version)).toEqual([1, 2, 3])
    const tables = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [
      schema,
    ])
    expect(tables.rows.map((r: { table_name: string }) => r.table_name).sort()).toEqual([
      'arb_signals',
      'schema_migrations',
      'ticks',
    ])
  })

  it('reports the storage mode the server allows', async () => {
    const { pool } = await freshPool()
    const { mode } = await migrate(pool)
    const ext = await pool.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`)
    expect(mode).toBe(ext.rowCount === 0 ? 'plain postgresql' : 'timescaledb')
    expect(await storageMode(pool)).toBe(mode)
  })

  it('is safe when several processes start together', async () => {
    const { pool, schema } = await freshPool()
    const others = Array.from({ length: 4 }, () => createPool(url, { schema, max: 1 }))
    try {
      const results = await Promise.all([pool, ...others].map((p) => migrate(p)))
      expect(results.flatMap((r) => r.applied).sort()).toEqual(['001_ticks', '002_arb_signals', '003_ticks_hypertable'])
    } finally {
      await Promise.all(others.map((p) => p.end()))
    }
  })

  it('creates a schema that does not exist yet', async () => {
    const schema = uniqueName('t_new_')
    const pool = createPool(url, { schema })
    cleanups.push(async () => {
      await pool.end()
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await c.end()
    })
    expect((await migrate(pool)).applied).toHaveLength(3)
    expect((await pool.query('SELECT count(*)::int AS n FROM ticks')).rows[0]).toEqual({ n: 0 })
  })

  it('refuses a migration that changed after it was applied', async () => {
    const { pool } = await freshPool()
    const list = await loadMigrations()
    await migrate(pool, list)
    const edited = list.map((m) => (m.version === 2 ? { ...m, checksum: 'edited' } : m))
    await expect(migrate(pool, edited)).rejects.toThrow(MigrationError)
    await expect(migrate(pool, edited)).rejects.toMatchObject({ code: 'ARB_ERR_MIGRATION' })
  })

  it('rolls back a failing migration and names it', async () => {
    const { pool } = await freshPool()
    const list = await loadMigrations()
    const bad = [...list, { version: 4, name: 'broken', sql: 'CREATE TABLE x (a int); SELECT nope;', checksum: 'x' }]
    await expect(migrate(pool, bad)).rejects.toThrow(/004_broken.*nope/)
    const x = await pool.query(`SELECT to_regclass('x') AS t`)
    expect(x.rows[0]).toEqual({ t: null })
    expect((await pool.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0]).toEqual({ n: 3 })
  })
})

describe('createPool', () => {
  it('rejects a schema name that is not a plain identifier', () => {
    expect(() => createPool(url, { schema: 'x; DROP TABLE ticks' })).toThrow(SchemaNameError)
  })
})

describe('tickWriter', () => {
  it('inserts a batch once; the same batch again inserts nothing', async () => {
    const { pool } = await freshPool()
    await migrate(pool)
    const w = tickWriter(pool)
    const batch = Array.from({ length: 2500 }, (_, i) => tick(i))
    expect(await w.write(batch)).toBe(2500)
    expect(await w.write(batch)).toBe(0)
    // Overlapping batch: only the new half lands.
    expect(await w.write(Array.from({ length: 1000 }, (_, i) => tick(2000 + i)))).toBe(500)
    expect((await pool.query('SELECT count(*)::int AS n FROM ticks')).rows[0]).toEqual({ n: 3000 })
  })

  it('skips duplicates inside one batch and writes empty sides and null exchange times', async () => {
    const { pool } = await freshPool()
    await migrate(pool)
    const w = tickWriter(pool)
    const odd = tick(1, { exchangeTs: null, bids: [], seq: 'js:42 ünïcødé', receivedTs: T0 + 0.5 })
    expect(await w.write([tick(0), tick(0), odd])).toBe(2)
    const r = await pool.query(
      `SELECT (extract(epoch FROM ts) * 1000)::float8 AS ts, exchange, pair, seq, exchange_ts, bid_px, bid_sz, ask_px, ask_sz
         FROM ticks ORDER BY ts`,
    )
    const t0 = tick(0)
    expect(r.rows[1]).toEqual({
      ts: T0 + 7,
      exchange: 'bl3p',
      pair: 'BTC-EUR',
      seq: '0',
      exchange_ts: new Date(T0),
      bid_px: t0.bids.map((l) => l[0]),
      bid_sz: t0.bids.map((l) => l[1]),
      ask_px: t0.asks.map((l) => l[0]),
      ask_sz: t0.asks.map((l) => l[1]),
    })
    expect(r.rows[0]).toMatchObject({ ts: T0 + 0.5, seq: 'js:42 ünïcødé', exchange_ts: null, bid_px: [] })
  })

  it('keeps prices exact to the last bit', async () => {
    const { pool } = await freshPool()
    await migrate(pool)
    const awkward = [0.1 + 0.2, 1e-9, 123456789.12345679, 5e-324, 1.7976931348623157e308]
    await tickWriter(pool).write([tick(0, { bids: awkward.map((p) => [p, p] as [number, number]), asks: [] })])
    const r = await pool.query('SELECT bid_px FROM ticks')
    expect(r.rows[0].bid_px).toEqual(awkward)
  })

  it('rejects the whole batch when a row cannot be stored, committing nothing', async () => {
    const { pool } = await freshPool()
    await migrate(pool)
    const w = tickWriter(pool)
    await expect(w.write([tick(0), tick(1, { seq: 'nul\u0000byte' })])).rejects.toMatchObject({
      code: 'ARB_ERR_DB_WRITE',
    })
    expect((await pool.query('SELECT count(*)::int AS n FROM ticks')).rows[0]).toEqual({ n: 0 })
    // The connection is still usable afterwards.
    expect(await w.write([tick(0)])).toBe(1)
  })
})

describe('TickBatch', () => {
  it('grows from a small first buffer, and a row that fails to encode leaves no trace', async () => {
    const { pool } = await freshPool()
    await migrate(pool)
    const batch = new TickBatch(1)
    const broken = tick(0, { bids: [[1, 1], undefined as unknown as [number, number]] })
    expect(() => batch.add(broken)).toThrow(TypeError)
    for (let i = 0; i < 1500; i++) batch.add(tick(i))
    expect(batch.length).toBe(1500)
    expect(await tickWriter(pool).writeBatch(batch)).toBe(1500)
    // Written again after a failure or a redelivery: same bytes, nothing new.
    expect(await tickWriter(pool).writeBatch(batch)).toBe(0)
    const last = await pool.query(`SELECT seq, ask_sz FROM ticks WHERE seq = '1499' AND exchange = 'coinbase'`)
    expect(last.rows).toEqual([{ seq: '1499', ask_sz: tick(1499).asks.map((l) => l[1]) }])
    expect(() => batch.add(tick(2000))).toThrow(/after bytes/)
  })
})

describe('signalWriter', () => {
  it('stores each lifecycle event once, with the message as payload', async () => {
    const { pool } = await freshPool()
    await migrate(pool)
    const w = signalWriter(pool)
    const events = [signal('a', 'opened', T0), signal('a', 'updated', T0 + 100), signal('a', 'closed', T0 + 200)]
    expect(await w.write(events)).toBe(3)
    expect(await w.write(events)).toBe(0)
    expect(await w.write([signal('b', 'opened', T0 + 5), ...events])).toBe(1)
    const r = await pool.query(
      `SELECT id, state, ts, buy_exchange, sell_exchange, net_profit_bps, opened_at, payload
         FROM arb_signals WHERE id = 'a' ORDER BY ts`,
    )
    expect(r.rows).toHaveLength(3)
    expect(r.rows[2]).toEqual({
      id: 'a',
      state: 'closed',
      ts: new Date(T0 + 200),
      buy_exchange: 'bl3p',
      sell_exchange: 'coinbase',
      net_profit_bps: 16.06,
      opened_at: new Date(T0),
      payload: events[2],
    })
  })
})

describe('writers against a server that stops answering', () => {
  it('give up after the statement timeout plus a grace, then write again on a fresh connection', async () => {
    const own = await startPostgres()
    const s = await freshSchema(own.url)
    // A 200 ms statement timeout puts the writers' own bound at 5.2 s.
    const pool = createPool(own.url, { schema: s.schema, statementTimeoutMs: 200 })
    try {
      await migrate(pool)
      const ticks = tickWriter(pool)
      const signals = signalWriter(pool)
      expect(await ticks.write([tick(1)])).toBe(1)
      expect(await signals.write([signal('w1', 'opened', T0)])).toBe(1)

      // Frozen: the connections stay open and nothing answers, so the server cannot time anything out.
      own.freeze()
      const started = Date.now()
      const [t, g] = await Promise.allSettled([ticks.write([tick(2)]), signals.write([signal('w2', 'opened', T0)])])
      const waited = Date.now() - started
      own.thaw()
      expect(t).toMatchObject({ status: 'rejected', reason: { code: 'ARB_ERR_DB_WRITE' } })
      expect(g).toMatchObject({ status: 'rejected', reason: { code: 'ARB_ERR_DB_WRITE' } })
      expect(String((t as PromiseRejectedResult).reason.cause)).toMatch(/Query read timeout/)
      expect(waited).toBeGreaterThanOrEqual(5000)
      expect(waited).toBeLessThan(15_000)

      expect(await ticks.write([tick(2)])).toBe(1)
      expect(await signals.write([signal('w2', 'opened', T0)])).toBe(1)
      expect((await pool.query('SELECT count(*)::int AS n FROM ticks')).rows[0].n).toBe(2)
    } finally {
      own.thaw()
      await pool.end()
      await own.close()
    }
  }, 60_000)
})
