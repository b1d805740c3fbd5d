import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * Real NATS and PostgreSQL for tests: the machine's own through NATS_URL / DATABASE_URL when
 * set, otherwise containers started once per worker (images from ARB_NATS_IMAGE / ARB_DB_IMAGE).
 * Containers are stopped when the worker exits.
 */
const DEFAULT_NATS_IMAGE = 'nats:2.10'
const DEFAULT_DB_IMAGE = 'timescale/timescaledb:latest-pg17'

let natsUrlPromise: Promise<string> | undefined
let dbUrlPromise: Promise<string> | undefined

export const testNatsUrl = (): Promise<string> => {
  const fromEnv = process.env['NATS_URL']
  if (fromEnv) return Promise.resolve(fromEnv)
  natsUrlPromise ??= (async () => {
    const { GenericContainer, Wait } = await import('testcontainers')
    const c = await new GenericContainer(process.env['ARB_NATS_IMAGE'] ?? DEFAULT_NATS_IMAGE)
      .withCommand(['-js'])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start()
    process.once('beforeExit', () => void c.stop())
    return `nats://${c.getHost()}:${c.getMappedPort(4222)}`
  })()
  return natsUrlPromise
}

export const testDatabaseUrl = (): Promise<string> => {
  const fromEnv = process.env['DATABASE_URL']
  if (fromEnv) return Promise.resolve(fromEnv)
  dbUrlPromise ??= (async () => {
    const { GenericContainer, Wait } = await import('testcontainers')
    const c = await new GenericContainer(process.env['ARB_DB_IMAGE'] ?? DEFAULT_DB_IMAGE)
      .withEnvironment({ POSTGRES_PASSWORD: 'arb', POSTGRES_USER: 'postgres', POSTGRES_DB: 'postgres' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start()
    process.once('beforeExit', () => void c.stop())
    return `postgres://postgres:arb@${c.getHost()}:${c.getMappedPort(5432)}/postgres`
  })()
  return dbUrlPromise
}

/** A name no other test uses: a NATS_PREFIX, a consumer or a schema. */
export const uniqueName = (stem = 't'): string => `${stem}${randomBytes(5).toString('hex')}`

/** A fresh PostgreSQL schema for one test; `drop()` removes it and everything in it. */
export const freshSchema = async (databaseUrl: string): Promise<{ schema: string; drop: () => Promise<void> }> => {
  const schema = uniqueName('t_')
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.end()
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: databaseUrl })
      await c.connect()
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await c.end()
    },
  }
}

/** Polls until `probe` returns a value other than undefined, or throws after `timeoutMs`. */
export const eventually = async <T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last })
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export const freePort = async (): Promise<number> => {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}
