import { Type, type Static } from '@sinclair/typebox'
import { EpochMs, ExchangeId, Pair } from './common.js'
import { TICK_DEPTH } from './tick.js'

export const SignalState = Type.Union([Type.Literal('opened'), Type.Literal('updated'), Type.Literal('closed')])
export type SignalState = Static<typeof SignalState>

export const SignalLeg = Type.Object({
  exchange: ExchangeId,
  price: Type.Number({ exclusiveMinimum: 0, description: 'volume-weighted price of this leg' }),
  fee: Type.Number({ minimum: 0, maximum: 1, description: 'taker fee as a fraction, 0.006 = 0.6%' }),
})
export type SignalLeg = Static<typeof SignalLeg>

/**
 * What limited `volume`: `balance` when a configured balance did (base held on the sell exchange,
 * or quote held on the buy exchange, fee included); otherwise the order books did, either because
 * the next slice was no longer profitable (`edge`) or because a book's levels ran out (`depth`).
 */
export const CappedBy = Type.Union([Type.Literal('depth'), Type.Literal('balance'), Type.Literal('edge')], {
  description: 'what limited the volume: balance, or the books (edge: next slice unprofitable; depth: levels ran out)',
})
export type CappedBy = Static<typeof CappedBy>

/** `[cumulative volume, cumulative netProfit]` at the end of one matched slice. */
export const CurvePoint = Type.Tuple([Type.Number({ minimum: 0 }), Type.Number()])
export type CurvePoint = Static<typeof CurvePoint>

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
    netProfitBps: Type.Number({ description: 'net profit / quote spent before fees, in basis points' }),
    openedAt: EpochMs,
    ts: EpochMs,
    reason: Type.Optional(Type.String({ maxLength: 200, description: 'why a signal closed' })),
    cappedBy: Type.Optional(CappedBy),
    curve: Type.Optional(
      Type.Array(CurvePoint, {
        maxItems: 2 * TICK_DEPTH,
        description:
          'opened and updated: cumulative [volume, netProfit] at the end of each matched slice, smallest first; the last point is (volume, netProfit)',
      }),
    ),
    durationMs: Type.Optional(Type.Number({ minimum: 0, description: 'closed: ts - openedAt' })),
    peakNetProfit: Type.Optional(
      Type.Number({ description: 'closed: highest netProfit of any evaluation while the signal was open' }),
    ),
    peakNetProfitBps: Type.Optional(
      Type.Number({ description: 'closed: highest netProfitBps of any evaluation while the signal was open' }),
    ),
  },
  { $id: 'https://arb.dev/schemas/signal.v1.json', title: 'Signal' },
)
export type Signal = Static<typeof Signal>
