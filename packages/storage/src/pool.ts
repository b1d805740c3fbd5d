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
// Past the server's statement timeout, the client stops waiting too: a server that is frozen or
// cut off by the network cannot time a statement out, and TCP keepalive takes hours to notice.
const CLIENT_GRACE_MS = 5000

/**
 * A pg pool whose connections all work inside `schema`: search_path and timeouts are sent as
 * startup options, so they hold from the first statement without an extra round trip.
 */
export const createPool = (url: string, settings: PoolSettings = {}): Pool => {
  const schema = settings.schema ?? 'public'
  if (!SCHEMA_RE.test(schema)) throw new SchemaNameError(schema)
  const statementTimeoutMs = settings.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS
  const options = [
    `-c search_path=${schema}`,
    `-c statement_timeout=${statementTimeoutMs}`,
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
  if (statementTimeoutMs > 0) clientTimeouts.set(pool, statementTimeoutMs + CLIENT_GRACE_MS)
  return pool
}

const schemas = new WeakMap<Pool, string>()
const clientTimeouts = new WeakMap<Pool, number>()

/**
 * How long the writers wait for an answer before they give the statement up as failed (and
 * the connection as broken). Per query rather than pool-wide, because pg's pool-wide timer also
 * wraps streaming readers that never report completion to it.
 */
export const poolQueryTimeout = (pool: Pool): number | undefined => clientTimeouts.get(pool)

/**
 * The schema a pool works in. Known without a query for pools from `createPool`, which matters
 * before the schema exists (then `current_schema()` is null).
 */
export const poolSchema = (pool: Pool): string | undefined => schemas.get(pool)
