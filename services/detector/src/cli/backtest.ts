// npm run -s backtest -- --from <ISO> --to <ISO> [--pair P]... [--config engine.json] [--events] [--json]
import { parseArgs } from 'node:util'
import { BacktestConfig, parseConfig } from '@arb/contracts'
import { defaultTakerFees } from '@arb/exchanges'
import { parsing, report, runCli, stdoutLines, UsageError } from '@arb/observability'
import { createPool } from '@arb/storage'
import { formatSummary, runBacktest } from '../backtest.js'
import { engineOptions, loadSettingsFile } from '../settings.js'

const USAGE =
  'backtest --from <ISO> --to <ISO> [--pair BTC-EUR]... [--config engine.json] [--events] [--json]; env DATABASE_URL, DB_SCHEMA'
const PROGRESS_EVERY_MS = 2000

const instant = (name: string, value: string | undefined): number => {
  const ms = value === undefined ? NaN : Date.parse(value)
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} must be an ISO date or time, got ${JSON.stringify(value)}`)
  return ms
}

runCli(USAGE, async () => {
  const { values: opts } = parsing(() =>
    parseArgs({
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        pair: { type: 'string', multiple: true },
        config: { type: 'string', short: 'c' },
        events: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    }),
  )
  const from = instant('from', opts.from)
  const to = instant('to', opts.to)
  if (!(from < to)) throw new UsageError('--from must be before --to')
  const env = parseConfig(BacktestConfig, process.env)
  const engine = engineOptions(await loadSettingsFile(opts.config), defaultTakerFees())
  const pool = createPool(env.DATABASE_URL, { schema: env.DB_SCHEMA, max: 2, applicationName: 'arb-backtest' })
  const write = stdoutLines()
  let lastProgress = performance.now()
  try {
    const summary = await runBacktest(pool, {
      from,
      to,
      ...(opts.pair === undefined ? {} : { pairs: opts.pair }),
      engine,
      ...(opts.events ? { onEvent: (s) => write(JSON.stringify(s)) } : {}),
      onProgress: (p) => {
        if (performance.now() - lastProgress < PROGRESS_EVERY_MS) return
        lastProgress = performance.now()
        report({ msg: 'progress', ...p, at: new Date(p.at).toISOString(), done: Math.round(p.done * 1000) / 1000 })
      },
    })
    // With --events stdout is JSON lines, so the table goes to stderr.
    const text = opts.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary)
    if (opts.events) process.stderr.write(text)
    else await write(text.trimEnd())
  } finally {
    await pool.end()
  }
})
