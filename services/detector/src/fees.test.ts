import { describe, expect, it } from 'vitest'
import { ConfigError } from '@arb/contracts'
import { parseFees } from './fees.js'

describe('parseFees', () => {
  it.each([
    ['', { coinbase: 0.006 }],
    ['bl3p=0.0025', { coinbase: 0.006, bl3p: 0.0025 }],
    [' coinbase = 0.004 , bl3p=0 ', { coinbase: 0.004, bl3p: 0 }],
    ['kraken=0.0026,', { coinbase: 0.006, kraken: 0.0026 }],
  ])('%j overrides the defaults', (raw, expected) => {
    expect(parseFees(raw, { coinbase: 0.006 })).toEqual(expected)
  })

  it.each([
    ['coinbase', 'coinbase'],
    ['coinbase=', 'coinbase='],
    ['coinbase=abc', 'coinbase=abc'],
    ['coinbase=0.6%', 'coinbase=0.6%'],
    ['coinbase=-0.1', 'coinbase=-0.1'],
    ['coinbase=1', 'coinbase=1'],
    ['Coinbase=0.1', 'Coinbase=0.1'],
    ['coinbase=0.1=2', 'coinbase=0.1=2'],
    ['bl3p=0.0025,coinbase=x', 'coinbase=x'],
  ])('rejects %j naming the entry', (raw, entry) => {
    try {
      parseFees(raw)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).code).toBe('ARB_ERR_CONFIG')
      expect((err as ConfigError).message).toContain(`"${entry}"`)
      expect((err as ConfigError).issues[0]?.path).toBe('FEES')
    }
  })
})
