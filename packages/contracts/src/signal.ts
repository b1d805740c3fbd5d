import { Type, type Static } from '@sinclair/typebox'
import { EpochMs, ExchangeId, Pair } from './common.js'

export const SignalState = Type.Union([Type.Literal('opened'), Type.Literal('updated'), Type.Literal('closed')])
export type SignalState = Static<typeof SignalState>

export const SignalLeg = Type.Object({
  exchange: ExchangeId,
  price: Type.Number({ exclusiveMinimum: 0, description: 'volume-weighted price of this leg' }),
  fee: Type.Number({ minimum: 0, maximum: 1, description: 'taker fee as a fraction, 0.006 = 0.6%' }),
})
export type SignalLeg = Static<typeof SignalLeg>

/**
 * One lifecycle event of an arbitrage opportunity, published on `arb.signals`.
 * Public contract v1: fields may be added, never renamed or removed without a version bump.
 */
export const Signal = Type.Object(
  {
    v: Type.Literal(1),
    id: Type.String({ minLength: 1, maxLength: 128, description: 'stable for the whole life of one opportunity' }),
    state: SignalState,
    pair: Pair,
    buy: SignalLeg,
    sell: SignalLeg,
    volume: Type.Number({ minimum: 0, description: 'base-currency volume the profit is computed for' }),
    grossSpreadBps: Type.Number({ description: '(sell best bid - buy best ask) / buy best ask, in basis points' }),
    netProfit: Type.Number({ description: 'profit after both taker fees, in quote currency' }),
    netProfitBps: Type.Number({ description: 'net profit / quote spent, in basis points' }),
    openedAt: EpochMs,
    ts: EpochMs,
    reason: Type.Optional(Type.String({ maxLength: 200, description: 'why a signal closed' })),
  },
  { $id: 'https://arb.dev/schemas/signal.v1.json', title: 'Signal' },
)
export type Signal = Static<typeof Signal>
