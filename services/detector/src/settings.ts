import { readFile } from 'node:fs/promises'
import {
  checkEngineSettings,
  ConfigError,
  parseEngineConfig,
  type DetectorConfig,
  type EngineSettings,
} from '@arb/contracts'
import type { EngineOptions } from '@arb/engine'
import { parseFees } from './fees.js'

const EXCHANGE = /^[a-z][a-z0-9]{1,31}$/
const ASSET = /^[A-Z0-9]{2,12}$/

/**
 * Parses `BALANCES`: the JSON of the settings file's `balances` (`{"kraken":{"BTC":1.5}}`), or the
 * compact `kraken:BTC=1.5,kraken:EUR=40000`. Empty means no balances: every route is capped by
 * the books only. Amounts are checked by checkEngineSettings with the rest.
 */
export const parseBalances = (raw: string): Record<string, Record<string, number>> => {
  const text = raw.trim()
  if (text === '') return {}
  if (text.startsWith('{')) {
    try {
      return JSON.parse(text) as Record<string, Record<string, number>>
    } catch (err) {
      throw new ConfigError([{ path: 'BALANCES', message: `not JSON: ${(err as Error).message}` }])
    }
  }
  const out: Record<string, Record<string, number>> = {}
  const issues: { path: string; message: string }[] = []
  for (const entry of text.split(',')) {
    const e = entry.trim()
    if (e === '') continue
    const m = /^([^:=\s]+)\s*:\s*([^:=\s]+)\s*=\s*(\S+)$/.exec(e)
    const amount = m?.[3] === undefined ? NaN : Number(m[3])
    if (!m?.[1] || !m[2] || !EXCHANGE.test(m[1]) || !ASSET.test(m[2]) || !Number.isFinite(amount) || amount < 0) {
      issues.push({ path: 'BALANCES', message: `bad entry "${e}": expected <exchange>:<ASSET>=<amount ≥ 0>` })
      continue
    }
    ;(out[m[1]] ??= {})[m[2]] = amount
  }
  if (issues.length > 0) throw new ConfigError(issues)
  return out
}

const ENV_NAMES: Record<string, string> = {
  fees: 'FEES',
  balances: 'BALANCES',
  openBps: 'OPEN_BPS',
  closeBps: 'CLOSE_BPS',
  minProfit: 'MIN_PROFIT',
  maxQuoteAgeMs: 'MAX_QUOTE_AGE_MS',
  updateFraction: 'UPDATE_FRACTION',
}

/** The detector's env as engine settings: the same validation, defaults and meaning as the JSON file. */
export const settingsFromEnv = (
  c: Pick<
    DetectorConfig,
    'FEES' | 'BALANCES' | 'OPEN_BPS' | 'CLOSE_BPS' | 'MIN_PROFIT' | 'MAX_QUOTE_AGE_MS' | 'UPDATE_FRACTION'
  >,
): EngineSettings => {
  try {
    return checkEngineSettings({
      fees: parseFees(c.FEES),
      balances: parseBalances(c.BALANCES),
      openBps: c.OPEN_BPS,
      closeBps: c.CLOSE_BPS,
      minProfit: c.MIN_PROFIT,
      maxQuoteAgeMs: c.MAX_QUOTE_AGE_MS,
      updateFraction: c.UPDATE_FRACTION,
    })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    // Name the variable the operator set, not the file key it maps to.
    throw new ConfigError(
      err.issues.map((i) => {
        const [key = '', ...rest] = i.path.split('.')
        const env = ENV_NAMES[key]
        return env === undefined ? i : { path: [env, ...rest].join('.'), message: i.message }
      }),
    )
  }
}

/** Reads and validates an engine settings file (`--config engine.json`); without one, every default. */
export const loadSettingsFile = async (path: string | undefined): Promise<EngineSettings> => {
  if (path === undefined) return checkEngineSettings({})
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path, message: `cannot read: ${(err as Error).message}` }])
  }
  return parseEngineConfig(text, path)
}

/** Engine options from settings: fees laid over the adapters' defaults. */
export const engineOptions = (
  s: EngineSettings,
  defaultFees: Readonly<Record<string, number>> = {},
): Omit<EngineOptions, 'initialFeedStatus'> => ({
  openBps: s.openBps,
  closeBps: s.closeBps,
  minProfit: s.minProfit,
  maxQuoteAgeMs: s.maxQuoteAgeMs,
  updateFraction: s.updateFraction,
  fees: { ...defaultFees, ...s.fees },
  balances: s.balances,
})
