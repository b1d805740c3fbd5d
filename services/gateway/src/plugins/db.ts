import pg from 'pg'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { ArbError } from '@arb/contracts'
import { DatabaseUnavailableError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    pg: pg.Pool
  }
}

export interface GatewayPoolSettings {
  readonly url: string
  readonly schema: string
  readonly statementTimeoutMs?: number
  readonly connectTimeoutMs?: number
  readonly max?: number
}

// Short bounds: a request parked on a dead or stuck database only ties up a socket, so the
// gateway answers 503 within a few seconds and lets the caller retry.
export const STATEMENT_TIMEOUT_MS = 5000
export const CONNECT_TIMEOUT_MS = 2000

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** A pool whose sessions read `schema` first and give up quickly when PostgreSQL does not answer. */
export const createPool = (s: GatewayPoolSettings): pg.Pool => {
  // The name is spliced into a startup option, so it is checked here as well as in the config.
  if (!SCHEMA_NAME.test(s.schema)) throw new ArbError('ARB_ERR_CONFIG', `invalid schema name: ${s.schema}`)
  const statementTimeoutMs = s.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS
  return new pg.Pool({
    connectionString: s.url,
    max: s.max ?? 10,
    application_name: 'arb-gateway',
    options: `-c search_path=${s.schema}`,
    connectionTimeoutMillis: s.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    statement_timeout: statementTimeoutMs,
    // Client-side bound as well: the server cannot time out a query it never received (network partition).
    query_timeout: statementTimeoutMs + 1000,
  })
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
])
// SQLSTATE: 08xxx connection exception, 57P01-03 shutting down / starting up, 53300 too many
// connections, 57014 statement timeout: all mean "try again later", none is a bug.
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300|57014)$/
// pg-pool and pg raise these as plain Errors without a code.
const UNAVAILABLE_MESSAGE =
  /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client was closed|Cannot use a pool after calling end/i

/** True when `err` says PostgreSQL is unreachable or overloaded, rather than that the query is wrong. */
export const isDatabaseUnavailable = (err: unknown): boolean => {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true
  if (UNAVAILABLE_MESSAGE.test(err.message)) return true
  // Node's multi-address connect (localhost -> ::1 and 127.0.0.1) fails with an AggregateError.
  return err instanceof AggregateError && err.errors.some(isDatabaseUnavailable)
}

/** Runs a parameterized query; connection failures become DatabaseUnavailableError (503). */
export const query = async <R extends pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: readonly unknown[] = [],
): Promise<R[]> => {
  try {
    const result = await pool.query<R>(text, values as unknown[])
    return result.rows
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw new DatabaseUnavailableError({ cause: err })
    throw err
  }
}

/** `SELECT 1` within `timeoutMs`; never throws. */
export const databaseIsUp = async (pool: pg.Pool, timeoutMs: number): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  const probe = pool.query('SELECT 1').then(
    () => true,
    () => false,
  )
  try {
    return await Promise.race([probe, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Decorates `app.pg` with the pool and ends it when the app closes (fastify/demo): the app owns
 * the pool it was given.
 */
const dbPlugin: FastifyPluginAsync<{ pool: pg.Pool }> = async (app: FastifyInstance, { pool }) => {
  // Without a listener, an idle client's error (database restarted) would crash the process.
  pool.on('error', (err) => app.log.warn({ err }, 'idle database client failed'))
  app.decorate('pg', pool)
  app.addHook('onClose', async () => {
    await pool.end()
  })
}

// What fastify-plugin does: share the decorator with the parent instead of encapsulating it.
Object.assign(dbPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'db' })

export default dbPlugin
