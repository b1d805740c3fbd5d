import { Type, type Static } from '@sinclair/typebox'
import { EpochMs, ExchangeId, Pair, ProcessGauges, ServiceName, SignalState, type Signal } from '@arb/contracts'

/**
 * HTTP schemas of the gateway. Fastify validates requests and serializes 200 responses with
 * them, and their `Static<>` types type the handlers, so the docs, the checks and the code agree.
 */

export const SIGNAL_SCHEMA_ID = 'https://arb.dev/schemas/signal.v1.json'

// Signal is registered once with addSchema and referenced: inlining a schema that carries an
// $id twice in one response schema makes the serializer reject the duplicate id.
const SignalRef = Type.Unsafe<Signal>(Type.Ref(SIGNAL_SCHEMA_ID))

const SIGNAL_STATES = SignalState.anyOf.map((s) => s.const)

export const MAX_LIMIT = 500
export const DEFAULT_LIMIT = 50

// Epoch ms, or an ISO 8601 date / date-time; a time needs an explicit zone, because a zoneless
// date-time would mean the gateway host's local time.
const TIME_PATTERN = '^(\\d{1,16}|\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))?)$'
const Time = Type.String({ pattern: TIME_PATTERN, description: 'ISO 8601 with zone, or epoch ms; inclusive' })

export const SignalsQuery = Type.Object(
  {
    pair: Type.Optional(Pair),
    exchange: Type.Optional(Type.String({ ...ExchangeId, description: 'either leg (buy or sell)' })),
    state: Type.Optional(
      Type.Unsafe<SignalState>({ type: 'string', enum: SIGNAL_STATES, description: 'opened | updated | closed' }),
    ),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
    limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 512, description: 'nextCursor of the previous page (opaque)' }),
    ),
  },
  { additionalProperties: false },
)
export type SignalsQuery = Static<typeof SignalsQuery>

export const SignalsPage = Type.Object({
  items: Type.Array(SignalRef, { description: 'stored signal events, newest first' }),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
})
export type SignalsPage = Static<typeof SignalsPage>

export const SignalIdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
)
export type SignalIdParams = Static<typeof SignalIdParams>

export const SignalHistory = Type.Object({
  id: Type.String(),
  events: Type.Array(SignalRef, { description: 'oldest first' }),
  latest: SignalRef,
  truncated: Type.Boolean({ description: 'true when only the most recent events are listed' }),
})
export type SignalHistory = Static<typeof SignalHistory>

export const Health = Type.Object({
  status: Type.Literal('ok'),
  uptimeS: Type.Number({ description: 'seconds since the gateway started' }),
})
export type Health = Static<typeof Health>

const Check = Type.Union([Type.Literal('up'), Type.Literal('down')])
export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
  checks: Type.Object({ nats: Check, database: Check }),
})
export type Readiness = Static<typeof Readiness>

export const ServiceInstance = Type.Object({
  service: ServiceName,
  instance: Type.String(),
  exchange: Type.Optional(ExchangeId),
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  reason: Type.Optional(Type.String({ description: 'why it is degraded, as the instance reports it' })),
  startedAt: EpochMs,
  lastSeen: Type.Number({ description: 'epoch ms when the gateway last heard from it' }),
  ageMs: Type.Number({ description: 'ms since lastSeen' }),
  lastMessageTs: Type.Union([Type.Number(), Type.Null()]),
  lastMessageAgeMs: Type.Union([Type.Number(), Type.Null()], {
    description: 'ms since the last data the process received, on the gateway clock; null before any',
  }),
  counters: Type.Record(Type.String(), Type.Number()),
  rates: Type.Record(Type.String(), Type.Number(), {
    description: 'per-second change of each counter over the last heartbeat interval (frames, ticks, resyncs, …)',
  }),
  process: Type.Optional(ProcessGauges),
})
export type ServiceInstance = Static<typeof ServiceInstance>

export const ServicesList = Type.Array(ServiceInstance, { description: 'sorted by service, then instance' })
export type ServicesList = Static<typeof ServicesList>

/** Body of every error response; `field` names the offending input of a 4xx when there is one. */
export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.Optional(Type.String()),
  field: Type.Optional(Type.String()),
})
export type ErrorBody = Static<typeof ErrorBody>
