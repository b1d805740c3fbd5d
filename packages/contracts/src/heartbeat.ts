import { Type, type Static } from '@sinclair/typebox'
import { EpochMs, ExchangeId } from './common.js'

export const ServiceName = Type.Union([
  Type.Literal('ingestor'),
  Type.Literal('persister'),
  Type.Literal('detector'),
  Type.Literal('gateway'),
  Type.Literal('simulator'),
])
export type ServiceName = Static<typeof ServiceName>

/**
 * Presence of one running process, published every HEARTBEAT_MS on `arb.heartbeats`.
 * The gateway's `/services` lists the instances heard from recently.
 */
export const Heartbeat = Type.Object(
  {
    v: Type.Literal(1),
    service: ServiceName,
    instance: Type.String({ minLength: 1, maxLength: 128 }),
    exchange: Type.Optional(ExchangeId),
    startedAt: EpochMs,
    ts: EpochMs,
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    lastMessageTs: Type.Union([EpochMs, Type.Null()], { description: 'last data this process received' }),
    counters: Type.Record(Type.String(), Type.Number(), { description: 'monotonic counts since start' }),
  },
  { $id: 'https://arb.dev/schemas/heartbeat.v1.json', title: 'Heartbeat' },
)
export type Heartbeat = Static<typeof Heartbeat>
