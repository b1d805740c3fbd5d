import { Type, type Static } from '@sinclair/typebox'
import { EpochMs, ExchangeId, Pair } from './common.js'

/** Most levels a tick carries per side. */
export const TICK_DEPTH = 10

/** `[price, size]`; price > 0, size > 0 (a level of size 0 is a removal and never appears in a tick). */
export const Level = Type.Tuple([Type.Number({ exclusiveMinimum: 0 }), Type.Number({ exclusiveMinimum: 0 })])
export type Level = Static<typeof Level>

/**
 * Normalized top of an exchange's order book, published on `ticks.<exchange>.<BASE>-<QUOTE>`.
 * Public contract v1: fields may be added, never renamed or removed without a version bump.
 */
export const Tick = Type.Object(
  {
    v: Type.Literal(1),
    exchange: ExchangeId,
    pair: Pair,
    seq: Type.Optional(Type.String({ maxLength: 64, description: 'exchange sequence, or a local per-book counter' })),
    exchangeTs: Type.Union([EpochMs, Type.Null()], {
      description: 'exchange timestamp, null when the exchange sends none',
    }),
    receivedTs: EpochMs,
    bids: Type.Array(Level, { maxItems: TICK_DEPTH, description: 'best (highest) first' }),
    asks: Type.Array(Level, { maxItems: TICK_DEPTH, description: 'best (lowest) first' }),
  },
  { $id: 'https://arb.dev/schemas/tick.v1.json', title: 'Tick' },
)
export type Tick = Static<typeof Tick>
