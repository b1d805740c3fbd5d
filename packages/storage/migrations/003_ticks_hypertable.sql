-- TimescaleDB when the server ships it, a plain table otherwise (the development machines run
-- plain PostgreSQL 15). The extension goes to public, not DB_SCHEMA: it is one per database, and
-- a test's `DROP SCHEMA ... CASCADE` must not take it away from everyone else. Its functions are
-- called through dynamic SQL so that this file also compiles where they do not exist.
DO $$
DECLARE
  ext_schema name;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    RAISE NOTICE 'timescaledb is not available: ticks stays a plain table';
    RETURN;
  END IF;
  CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA public;
  SELECT n.nspname INTO ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'timescaledb';
  -- No default (ts DESC) index: the table keeps exactly the indexes of 001, as on plain PostgreSQL.
  EXECUTE format(
    'SELECT %1$I.create_hypertable(%2$L::regclass, %1$I.by_range(%3$L, %4$L::interval),'
    ' create_default_indexes => false, if_not_exists => true, migrate_data => true)',
    ext_schema, 'ticks', 'ts', '1 day');
END
$$;
