import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * Real NATS and PostgreSQL for tests: the machine's own through NATS_URL / DATABASE_URL when
 * set, otherwise containers started once per worker (images from ARB_NATS_IMAGE / ARB_DB_IMAGE).
 * Containers are removed when the worker exits, however it exits.
 */
const DEFAULT_NATS_IMAGE = 'nats:2.10'
const DEFAULT_DB_IMAGE = 'timescale/timescaledb:latest-pg17'
const STARTUP_TIMEOUT_MS = 120_000

let natsUrlPromise: Promise<string> | undefined
let dbUrlPromise: Promise<string> | undefined

/**
 * Removes the container once this process is gone. testcontainers' reaper (Ryuk) does that
 * where its image can be pulled; with TESTCONTAINERS_RYUK_DISABLED=true (no registry) a detached
 * shell watches this process instead, since a test worker is often killed, not exited.
 */
const removeWhenGone = async (id: string, stop: () => Promise<unknown>): Promise<void> => {
  process.once('beforeExit', () => void stop())
  if (process.env['TESTCONTAINERS_RYUK_DISABLED'] !== 'true') return
  const { spawn } = await import('node:child_process')
  const watch = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; docker rm -f -v ${id} >/dev/null 2>&1`
  spawn('sh', ['-c', watch], { detached: true, stdio: 'ignore' }).unref()
}

export const testNatsUrl = (): Promise<string> => {
  const fromEnv = process.env['NATS_URL']
  if (fromEnv) return Promise.resolve(fromEnv)
  natsUrlPromise ??= (async () => {
    const { GenericContainer, Wait } = await import('testcontainers')
    const c = await new GenericContainer(process.env['ARB_NATS_IMAGE'] ?? DEFAULT_NATS_IMAGE)
      .withCommand(['-js'])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .start()
    await removeWhenGone(c.getId(), () => c.stop())
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
      // Over TCP: the entry point's first-start server listens on the Unix socket only, so this
      // answers once the real server is up. Counting "ready to accept connections" log lines
      // does not carry over between images (the official one logs it twice, others once).
      .withWaitStrategy(Wait.forSuccessfulCommand('pg_isready -h 127.0.0.1 -p 5432 -U postgres -d postgres'))
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .start()
    await removeWhenGone(c.getId(), () => c.stop())
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
