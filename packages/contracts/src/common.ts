import { Type, type Static } from '@sinclair/typebox'

/** Lower-case exchange id, e.g. `kraken`, `coinbase`. */
export const ExchangeId = Type.String({ pattern: '^[a-z][a-z0-9]{1,31}$', description: 'lower-case exchange id' })
export type ExchangeId = Static<typeof ExchangeId>

/** Upper-case `BASE-QUOTE`, e.g. `BTC-EUR`. */
export const Pair = Type.String({ pattern: '^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$', description: 'upper-case BASE-QUOTE' })
export type Pair = Static<typeof Pair>

// Bounded to 2000-01-01 .. 2100-01-01 so a seconds-vs-milliseconds mix-up is rejected instead of stored.
export const EpochMs = Type.Number({
  minimum: 946_684_800_000,
  maximum: 4_102_444_800_000,
  description: 'epoch milliseconds',
})
export type EpochMs = Static<typeof EpochMs>

export const splitPair = (pair: Pair): { base: string; quote: string } => {
  const [base = '', quote = ''] = pair.split('-')
  return { base, quote }
}
