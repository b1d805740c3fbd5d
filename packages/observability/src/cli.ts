// Plumbing shared by the command-line tools (`npm run replay`, `backtest`, `normalize`): stdout is
// data, stderr is one JSON object per line, exit code 2 means the command line or its config.
import { once } from 'node:events'
import { ArbError, ConfigError } from '@arb/contracts'

/** A command line the CLI cannot run: exit code 2. */
export class UsageError extends ArbError {
  constructor(message: string, options?: ErrorOptions) {
    super('ARB_ERR_USAGE', message, options)
  }
}

/** Runs an argument parser (node:util parseArgs), turning its errors into UsageError. */
export const parsing = <T>(parse: () => T): T => {
  try {
    return parse()
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err })
  }
}

/** One JSON object per line on stderr: machine-readable diagnostics that never mix with stdout. */
export const report = (fields: Record<string, unknown>): void => {
  process.stderr.write(`${JSON.stringify(fields)}\n`)
}

/** Writes to stdout honouring back-pressure; a closed pipe (`| head`) ends the process quietly. */
export const stdoutLines = () => {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
  return async (line: string): Promise<void> => {
    if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain')
  }
}

/** Runs a CLI's main: errors become one JSON line on stderr and exit code 2 (usage, config) or 1. */
export const runCli = (usage: string, main: () => Promise<void>): void => {
  main().catch((err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err))
    // pg's errors carry an SQLSTATE (`42P01`: the table is missing from DB_SCHEMA).
    const sqlState = (err as { code?: unknown }).code
    const fromDb = typeof sqlState === 'string' && /^[0-9A-Z]{5}$/.test(sqlState)
    const code = err instanceof ArbError ? err.code : fromDb ? 'ARB_ERR_DB' : 'ARB_ERR_INTERNAL'
    report({
      code,
      message: e.message,
      ...(fromDb ? { sqlState } : {}),
      ...(err instanceof ConfigError ? { issues: err.issues } : {}),
      ...(err instanceof UsageError ? { usage } : {}),
    })
    process.exitCode = err instanceof UsageError || err instanceof ConfigError ? 2 : 1
  })
}
