import { describe, expect, it } from 'vitest'
import { adapters, defaultTakerFees, getAdapter, UnknownExchangeError } from './index.js'

describe('adapter registry', () => {
  it('registers every adapter under its own id', () => {
    for (const [id, adapter] of Object.entries(adapters)) expect(adapter.id).toBe(id)
    expect(Object.keys(adapters)).toEqual([
      'coinbase',
      'bl3p',
      'kraken',
      'bitstamp',
      'binance',
      'bitfinex',
      'gemini',
      'okx',
    ])
  })

  it('gives the default taker fees', () => {
    expect(defaultTakerFees()).toEqual({
      coinbase: 0.006,
      bl3p: 0.0025,
      kraken: 0.004,
      bitstamp: 0.004,
      binance: 0.001,
      bitfinex: 0.002,
      gemini: 0.004,
      okx: 0.001,
    })
  })

  it('finds an adapter, and names the known ones for an unknown id', () => {
    expect(getAdapter('bl3p').id).toBe('bl3p')
    for (const id of ['nosuchexchange', 'toString', '__proto__']) {
      try {
        getAdapter(id)
        expect.unreachable()
      } catch (err) {
        expect(err).toBeInstanceOf(UnknownExchangeError)
        expect((err as UnknownExchangeError).code).toBe('ARB_ERR_UNKNOWN_EXCHANGE')
        expect((err as Error).message).toMatch(
          /known exchanges: coinbase, bl3p, kraken, bitstamp, binance, bitfinex, gemini, okx$/,
        )
      }
    }
  })
})
