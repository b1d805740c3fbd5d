-- One row per lifecycle event of an opportunity; payload is the Signal exactly as published,
-- so fields added to the contract later are kept without a migration.
CREATE TABLE arb_signals (
  id               text        NOT NULL,
  state            text        NOT NULL,
  ts               timestamptz NOT NULL,
  pair             text        NOT NULL,
  buy_exchange     text        NOT NULL,
  sell_exchange    text        NOT NULL,
  volume           float8      NOT NULL,
  gross_spread_bps float8      NOT NULL,
  net_profit       float8      NOT NULL,
  net_profit_bps   float8      NOT NULL,
  opened_at        timestamptz NOT NULL,
  payload          jsonb       NOT NULL,
  PRIMARY KEY (id, state, ts)
);

CREATE INDEX arb_signals_ts_idx ON arb_signals (ts DESC);
CREATE INDEX arb_signals_pair_ts_idx ON arb_signals (pair, ts DESC);
