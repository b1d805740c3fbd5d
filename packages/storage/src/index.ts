export { createPool, poolSchema, type Pool, type PoolSettings } from './pool.js'
export {
  migrate,
  loadMigrations,
  storageMode,
  type Migration,
  type MigrateResult,
  type StorageMode,
} from './migrate.js'
export { tickWriter, TickBatch, type TickWriter, type StoredTick } from './tick-writer.js'
export { signalWriter, type SignalWriter } from './signal-writer.js'
export { SchemaNameError, MigrationError, WriteError } from './errors.js'
