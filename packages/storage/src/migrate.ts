import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import type pg from 'pg'
import type { Pool } from './pool.js'
import { poolSchema } from './pool.js'
import { MigrationError } from './errors.js'

export type StorageMode = 'timescaledb' | 'plain postgresql'

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
  readonly checksum: string
}

export interface MigrateResult {
  readonly schema: string
  /** Migrations this call applied (empty when the schema was already up to date). */
  readonly applied: readonly string[]
  readonly mode: StorageMode
}

// `../migrations` from both src/ (tests, tsx) and dist/ (the built service): the folder sits
// beside them in the package, and package.json `files` ships it.
const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url)
const FILE_RE = /^(\d{3})_([a-z0-9_]+)\.sql$/

/** Reads `NNN_name.sql` files in version order; anything else in the folder is an error. */
export const loadMigrations = async (dir: URL = MIGRATIONS_DIR): Promise<Migration[]> => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  const out: Migration[] = []
  for (const file of files) {
    const m = FILE_RE.exec(file)
    if (!m?.[1] || !m[2]) throw new MigrationError(file, 'file name must be NNN_lower_snake.sql')
    const version = Number(m[1])
    if (out.some((o) => o.version === version)) throw new MigrationError(file, `duplicate version ${version}`)
    const sql = await readFile(new URL(file, dir), 'utf8')
    out.push({ version, name: m[2], sql, checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16) })
  }
  return out
}

/**
 * Applies pending migrations in order, each in its own transaction under a per-schema advisory
 * lock, so replicas starting together apply each one exactly once (the loser waits, then sees it
 * recorded). A recorded migration whose file changed since is refused: the database would no
 * longer match the code.
 */
export const migrate = async (pool: Pool, migrations?: readonly Migration[]): Promise<MigrateResult> => {
  const list = migrations ?? (await loadMigrations())
  const client = await pool.connect()
  const schema = poolSchema(pool) ?? (await client.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s
  if (!schema) throw new MigrationError('(all)', 'no schema: create the pool with createPool(url, { schema })')
  const applied: string[] = []
  try {
    for (const m of list) {
      const label = `${String(m.version).padStart(3, '0')}_${m.name}`
      try {
        await client.query('BEGIN')
        // Schema changes may legitimately outlast the pool's statement timeout.
        await client.query('SET LOCAL statement_timeout = 0')
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`arb.migrate:${schema}`])
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
             version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())`,
        )
        const done = await client.query<{ checksum: string }>(
          `SELECT checksum FROM ${schema}.schema_migrations WHERE version = $1`,
          [m.version],
        )
        const recorded = done.rows[0]
        if (recorded) {
          await client.query('COMMIT')
          if (recorded.checksum !== m.checksum) {
            throw new MigrationError(
              label,
              `changed after it was applied (checksum ${recorded.checksum} in the database)`,
            )
          }
          continue
        }
        await client.query(m.sql)
        await client.query(`INSERT INTO ${schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`, [
          m.version,
          m.name,
          m.checksum,
        ])
        await client.query('COMMIT')
        applied.push(label)
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        if (err instanceof MigrationError) throw err
        throw new MigrationError(label, err instanceof Error ? err.message : String(err), { cause: err })
      }
    }
    return { schema, applied, mode: await detectMode(client, schema) }
  } finally {
    client.release()
  }
}

/** 'timescaledb' when `ticks` in `schema` is a hypertable, whatever the server has installed. */
export const storageMode = async (pool: Pool): Promise<StorageMode> => {
  const client = await pool.connect()
  try {
    const schema = poolSchema(pool) ?? (await client.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s
    return await detectMode(client, schema ?? 'public')
  } finally {
    client.release()
  }
}

const detectMode = async (client: pg.ClientBase, schema: string): Promise<StorageMode> => {
  const ext = await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`)
  if (ext.rowCount === 0) return 'plain postgresql'
  const ht = await client.query(
    `SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_schema = $1 AND hypertable_name = 'ticks'`,
    [schema],
  )
  return ht.rowCount === 0 ? 'plain postgresql' : 'timescaledb'
}
