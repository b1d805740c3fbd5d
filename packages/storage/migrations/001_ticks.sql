-- Top-of-book snapshots as received. ts is receivedTs: every tick has one, and it is the time
-- the hypertable (when TimescaleDB is there, see 003) is partitioned on.
CREATE TABLE ticks (
  ts          timestamptz NOT NULL,
  exchange    text        NOT NULL,
  pair        text        NOT NULL,
  seq         text        NOT NULL,
  exchange_ts timestamptz NULL,
  bid_px      float8[]    NOT NULL,
  bid_sz      float8[]    NOT NULL,
  ask_px      float8[]    NOT NULL,
  ask_sz      float8[]    NOT NULL,
  -- Idempotent writes: a redelivered tick hits this and is skipped. A unique constraint on a
  -- hypertable must contain its time column, hence ts.
  CONSTRAINT ticks_uniq UNIQUE (exchange, pair, seq, ts)
);

CREATE INDEX ticks_pair_ts_idx ON ticks (pair, ts DESC);
CREATE INDEX ticks_exchange_pair_ts_idx ON ticks (exchange, pair, ts DESC);
