import { ConfigError } from '@arb/contracts'

const EXCHANGE = /^[a-z][a-z0-9]{1,31}$/

/**
 * Parses `FEES` ("coinbase=0.006,bl3p=0.0025": taker fee fractions) and lays it over the
 * adapters' defaults. A bad entry stops start-up rather than being skipped: a wrong fee turns
 * every signal into a wrong signal.
 */
export const parseFees = (raw: string, defaults: Readonly<Record<string, number>> = {}): Record<string, number> => {
  const fees: Record<string, number> = { ...defaults }
  const issues: { path: string; message: string }[] = []
  for (const entry of raw.split(',')) {
    const text = entry.trim()
    if (text === '') continue
    const [exchange = '', value, ...rest] = text.split('=').map((s) => s.trim())
    const fee = value === undefined || value === '' ? NaN : Number(value)
    if (!EXCHANGE.test(exchange) || rest.length > 0 || !Number.isFinite(fee) || fee < 0 || fee >= 1) {
      issues.push({ path: 'FEES', message: `bad entry "${text}": expected <exchange>=<fraction in [0, 1)>` })
      continue
    }
    fees[exchange] = fee
  }
  if (issues.length > 0) throw new ConfigError(issues)
  return fees
}
