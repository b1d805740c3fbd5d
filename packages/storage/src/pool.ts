import pg from 'pg'
import { SchemaNameError } from './errors.js'

export type Pool = pg.Pool

export interface PoolSettings {
  /** Schema holding the tables; every connection's search_path is set to it. */
  readonly schema?: string
  /** Connections; the persister uses one per table being written plus one spare. */
  readonly max?: number
  readonly statementTimeoutMs?: number
  readonly applicationName?: string
  /** Errors of idle connections (a restarted server); the next checkout reconnects by itself. */
  readonly onError?: (err: Error) => void
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/

// Long enough for a 100k-row batch on a busy disk, short enough that a stuck statement surfaces
// as an error (and a retry) rather than a silent stall.
const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000
// A client that died inside a transaction must not keep its locks (and the migration lock) forever.
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000

/**
 * A pg pool whose connections all work inside `schema`: search_path and timeouts are sent as
 * startup options, so they hold from the first statement without an extra round trip.
 */
export const createPool = (url: string, settings: PoolSettings = {}): Pool => {
  const schema = settings.schema ?? 'public'
  if (!SCHEMA_RE.test(schema)) throw new SchemaNameError(schema)
  const options = [
    `-c search_path=${schema}`,
    `-c statement_timeout=${settings.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS}`,
    `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`,
  ].join(' ')
  const pool = new pg.Pool({
    connectionString: url,
    options,
    max: settings.max ?? 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: settings.applicationName ?? 'arb',
    // TCP keepalive so a half-open connection after a network cut is noticed and replaced.
    keepAlive: true,
  })
  // An idle client that loses its connection emits 'error' on the pool; unhandled, that would
  // kill the process. The next checkout simply gets a fresh connection.
  pool.on('error', (err) => settings.onError?.(err))
  schemas.set(pool, schema)
  return pool
}

const schemas = new WeakMap<Pool, string>()

/**
 * The schema a pool works in. Known without a query for pools from `createPool`, which matters
 * before the schema exists (then `current_schema()` is null).
 */
export const poolSchema = (pool: Pool): string | undefined => schemas.get(pool)
