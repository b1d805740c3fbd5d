import { ArbError } from '@arb/contracts'

/** DB_SCHEMA is not a plain lower-case identifier (it is put into connection options verbatim). */
export class SchemaNameError extends ArbError {
  constructor(schema: string) {
    super('ARB_ERR_DB_SCHEMA', `invalid schema name ${JSON.stringify(schema)}: expected [a-z_][a-z0-9_]{0,62}`)
  }
}

/** A migration file is malformed, failed to apply, or was edited after it was applied. */
export class MigrationError extends ArbError {
  readonly migration: string
  constructor(migration: string, reason: string, options?: ErrorOptions) {
    super('ARB_ERR_MIGRATION', `migration ${migration}: ${reason}`, options)
    this.migration = migration
  }
}

/** A batch could not be written; nothing of it was committed. */
export class WriteError extends ArbError {
  readonly table: string
  readonly rows: number
  constructor(table: string, rows: number, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : ''
    super('ARB_ERR_DB_WRITE', `writing ${rows} rows to ${table} failed${cause}`, options)
    this.table = table
    this.rows = rows
  }
}
