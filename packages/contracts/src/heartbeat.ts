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

/** Gauges of the process itself at the beat, so a leak or a blocked event loop shows from outside. */
export const ProcessGauges = Type.Object({
  rssBytes: Type.Number({ minimum: 0 }),
  heapUsedBytes: Type.Number({ minimum: 0 }),
  heapTotalBytes: Type.Optional(
    Type.Number({ minimum: 0, description: "V8's heap as reserved: used, garbage and room to grow (RSS follows it)" }),
  ),
  externalBytes: Type.Optional(
    Type.Number({ minimum: 0, description: 'memory outside the V8 heap held by JS objects (Buffers)' }),
  ),
  eventLoopDelayP99Ms: Type.Number({ minimum: 0, description: 'p99 event-loop delay since the previous beat' }),
  activeResources: Type.Integer({ minimum: 0, description: 'handles and requests keeping the loop alive' }),
  openFds: Type.Optional(Type.Integer({ minimum: 0, description: 'open file descriptors (sockets included); Linux' })),
})
export type ProcessGauges = Static<typeof ProcessGauges>

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
    reason: Type.Optional(
      Type.String({ maxLength: 500, description: 'why the status is degraded, for an operator; absent when ok' }),
    ),
    lastMessageTs: Type.Union([EpochMs, Type.Null()], { description: 'last data this process received' }),
    counters: Type.Record(Type.String(), Type.Number(), { description: 'monotonic counts since start' }),
    process: Type.Optional(ProcessGauges),
  },
  { $id: 'https://arb.dev/schemas/heartbeat.v1.json', title: 'Heartbeat' },
)
export type Heartbeat = Static<typeof Heartbeat>
