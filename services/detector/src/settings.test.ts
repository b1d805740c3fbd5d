import { describe, expect, it } from 'vitest'
import { ConfigError, DetectorConfig, parseConfig, parseEngineConfig } from '@arb/contracts'
import { engineOptions, parseBalances, settingsFromEnv } from './settings.js'

const env = (vars: Record<string, string>) => parseConfig(DetectorConfig, vars)

const issuesOf = (f: () => unknown) => {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).code).toBe('ARB_ERR_CONFIG')
    return (err as ConfigError).issues
  }
  return expect.unreachable()
}

describe('parseBalances', () => {
  it.each([
    ['', {}],
    ['  ', {}],
    ['kraken:BTC=1.5,kraken:EUR=40000', { kraken: { BTC: 1.5, EUR: 40_000 } }],
    [' bl3p : BTC = 0 , kraken:EUR=1e3,', { bl3p: { BTC: 0 }, kraken: { EUR: 1000 } }],
    ['{"kraken":{"BTC":1.5,"EUR":40000}}', { kraken: { BTC: 1.5, EUR: 40_000 } }],
  ])('%j', (raw, expected) => {
    expect(parseBalances(raw)).toEqual(expected)
  })

  it.each(['kraken', 'kraken:BTC', 'kraken:btc=1', 'Kraken:BTC=1', 'kraken:BTC=-1', 'kraken:BTC=x', '{"kraken":'])(
    'rejects %j',
    (raw) => {
      expect(issuesOf(() => parseBalances(raw))[0]?.path).toBe('BALANCES')
    },
  )
})

describe('settings: env and JSON file mean the same', () => {
  const file = {
    fees: { kraken: 0.0026, coinbase: 0.004 },
    balances: { kraken: { BTC: 1.5, EUR: 40_000 } },
    openBps: 6,
    closeBps: 3,
    minProfit: 1.5,
    maxQuoteAgeMs: 1500,
    updateFraction: 0.1,
  }
  const vars = {
    FEES: 'kraken=0.0026,coinbase=0.004',
    BALANCES: 'kraken:BTC=1.5,kraken:EUR=40000',
    OPEN_BPS: '6',
    CLOSE_BPS: '3',
    MIN_PROFIT: '1.5',
    MAX_QUOTE_AGE_MS: '1500',
    UPDATE_FRACTION: '0.1',
  }

  it('give the same engine options, fees laid over the adapters’ defaults', () => {
    const fromFile = engineOptions(parseEngineConfig(JSON.stringify(file)), { coinbase: 0.006, bl3p: 0.0025 })
    const fromEnv = engineOptions(settingsFromEnv(env(vars)), { coinbase: 0.006, bl3p: 0.0025 })
    expect(fromEnv).toEqual(fromFile)
    expect(fromFile).toEqual({
      openBps: 6,
      closeBps: 3,
      minProfit: 1.5,
      maxQuoteAgeMs: 1500,
      updateFraction: 0.1,
      fees: { coinbase: 0.004, bl3p: 0.0025, kraken: 0.0026 },
      balances: { kraken: { BTC: 1.5, EUR: 40_000 } },
    })
  })

  it('share their defaults', () => {
    expect(parseEngineConfig('{}')).toEqual(settingsFromEnv(env({})))
    expect(parseEngineConfig('{}')).toEqual({
      fees: {},
      balances: {},
      openBps: 5,
      closeBps: 2,
      minProfit: 0,
      maxQuoteAgeMs: 2000,
      updateFraction: 0.05,
    })
  })

  it('name the env variable, or the file and key, of every problem', () => {
    expect(issuesOf(() => settingsFromEnv(env({ OPEN_BPS: '2', CLOSE_BPS: '3' })))).toEqual([
      { path: 'CLOSE_BPS', message: 'must not exceed openBps (2): the signal would flap' },
    ])
    expect(issuesOf(() => settingsFromEnv(env({ BALANCES: '{"kraken":{"btc":1}}' })))[0]?.path).toBe(
      'BALANCES.kraken.btc',
    )
    const issues = issuesOf(() =>
      parseEngineConfig(
        JSON.stringify({ fees: { kraken: 1 }, balances: { Kraken: {} }, minProfit: -1, openbps: 5 }),
        'engine.json',
      ),
    )
    expect(issues.map((i) => i.path).sort()).toEqual([
      'engine.json: balances.Kraken',
      'engine.json: fees.kraken',
      'engine.json: minProfit',
      'engine.json: openbps',
    ])
    expect(issues.find((i) => i.path.endsWith('openbps'))?.message).toMatch(/unknown key \(known: fees, balances/)
    expect(issuesOf(() => parseEngineConfig('{"openBps": 5,}', 'engine.json'))[0]?.message).toMatch(/^not JSON/)
    expect(issuesOf(() => parseEngineConfig('[1]', 'engine.json'))[0]?.message).toBe('expected a JSON object')
  })
})
