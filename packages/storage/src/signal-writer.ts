import type { Signal } from '@arb/contracts'
import { WriteError } from './errors.js'
import { poolQueryTimeout, type Pool } from './pool.js'

export interface SignalWriter {
  /** Inserts the batch in one statement; events already stored are skipped. Resolves with rows inserted. */
  write(signals: readonly Signal[]): Promise<number>
}

// Signals are a few per second at most, so one JSON parameter unpacked by PostgreSQL is plenty
// fast, and `payload` keeps the message exactly as published, including fields added later.
const INSERT_SIGNALS = `
INSERT INTO arb_signals (id, state, ts, pair, buy_exchange, sell_exchange, volume, gross_spread_bps,
                         net_profit, net_profit_bps, opened_at, payload)
SELECT p->>'id', p->>'state', to_timestamp((p->>'ts')::float8 / 1000), p->>'pair',
       p->'buy'->>'exchange', p->'sell'->>'exchange', (p->>'volume')::float8, (p->>'grossSpreadBps')::float8,
       (p->>'netProfit')::float8, (p->>'netProfitBps')::float8, to_timestamp((p->>'openedAt')::float8 / 1000), p
  FROM jsonb_array_elements($1::jsonb) AS p
ON CONFLICT (id, state, ts) DO NOTHING`

export const signalWriter = (pool: Pool): SignalWriter => {
  const timeout = poolQueryTimeout(pool)
  return {
    async write(signals) {
      if (signals.length === 0) return 0
      try {
        const r = await pool.query({
          text: INSERT_SIGNALS,
          values: [JSON.stringify(signals)],
          ...(timeout !== undefined ? { query_timeout: timeout } : {}),
        })
        return r.rowCount ?? 0
      } catch (cause) {
        throw new WriteError('arb_signals', signals.length, { cause })
      }
    },
  }
}
