import { describe, expect, it } from 'vitest'
import { ConfigError } from '@arb/contracts'
import { EXCHANGES } from './protocols/index.js'
import { onlyListed } from './simulator.js'

describe('EXCHANGES', () => {
  const ids = (list: string) => onlyListed(EXCHANGES, list).map((e) => e.profile.id)

  it('serves every exchange when empty', () => {
    expect(ids('')).toEqual(EXCHANGES.map((e) => e.profile.id))
    expect(ids(' , ')).toEqual(EXCHANGES.map((e) => e.profile.id))
  })

  it('keeps only the listed ones, in the usual order, whatever the case and spacing', () => {
    expect(ids(' Kraken,coinbase ,kraken')).toEqual(['coinbase', 'kraken'])
  })

  it('rejects an unknown exchange, naming it and the known ones', () => {
    expect(() => ids('kraken,mtgox')).toThrow(ConfigError)
    expect(() => ids('kraken,mtgox')).toThrow(/mtgox.*known: coinbase/)
  })
})
