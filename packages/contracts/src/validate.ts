import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { InvalidMessageError } from './errors.js'
import { Heartbeat } from './heartbeat.js'
import { FeedRecord } from './recording.js'
import { Signal } from './signal.js'
import { Tick } from './tick.js'

export interface Decoder<T> {
  /** Parses JSON bytes or text and checks the schema; throws InvalidMessageError naming the first bad field. */
  decode(data: Uint8Array | string): T
  check(value: unknown): value is T
}

const utf8 = new TextDecoder()

const decoder = <S extends TSchema>(what: string, schema: S, extra?: (v: Static<S>) => string | undefined) => {
  const compiled = TypeCompiler.Compile(schema)
  const check = (value: unknown): value is Static<S> =>
    compiled.Check(value) && extra?.(value as Static<S>) === undefined
  return {
    check,
    decode(data: Uint8Array | string): Static<S> {
      let value: unknown
      try {
        value = JSON.parse(typeof data === 'string' ? data : utf8.decode(data))
      } catch (cause) {
        throw new InvalidMessageError(what, 'not JSON', { cause })
      }
      if (!compiled.Check(value)) {
        const first = compiled.Errors(value).First()
        throw new InvalidMessageError(what, first ? `${first.path || '/'} ${first.message}` : 'schema mismatch')
      }
      const problem = extra?.(value)
      if (problem !== undefined) throw new InvalidMessageError(what, problem)
      return value
    },
  } satisfies Decoder<Static<S>>
}

// Beyond the schema: a crossed book (best bid >= best ask) is a broken feed, never a market; and
// a NUL is the one character PostgreSQL text cannot store, so such a tick could never be kept.
const tickProblem = (t: Tick): string | undefined => {
  const bid = t.bids[0]?.[0]
  const ask = t.asks[0]?.[0]
  if (bid !== undefined && ask !== undefined && bid >= ask) return `crossed book: bid ${bid} >= ask ${ask}`
  return t.seq?.includes('\u0000') ? 'seq contains a NUL character' : undefined
}

export const tickDecoder: Decoder<Tick> = decoder('tick', Tick, tickProblem)

/**
 * Largest tick or signal message a consumer accepts, refused before parsing: a 10-level tick is
 * under 2 KiB, and anyone may publish up to NATS's max_payload (1 MiB by default) on `ticks.>`.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024

/**
 * How far a tick's receivedTs may lie ahead of the receiving host's clock. Hosts run NTP
 * (architecture.md, known limits), so a minute is generous; a tick from further ahead would stay
 * the detector's newest book for that long (every real tick after it looks older and is
 * ignored) and would put a row into a future chunk.
 */
export const MAX_TICK_AHEAD_MS = 60_000

/**
 * A tick as it arrives from the bus, with the checks that need the receiver: size and clock.
 * Throws InvalidMessageError with the reason.
 */
export const decodeLiveTick = (data: Uint8Array | string, now: number): Tick => {
  if (data.length > MAX_MESSAGE_BYTES) {
    throw new InvalidMessageError('tick', `${data.length} bytes, limit ${MAX_MESSAGE_BYTES}`)
  }
  const t = tickDecoder.decode(data)
  const ahead = t.receivedTs - now
  if (ahead > MAX_TICK_AHEAD_MS) {
    throw new InvalidMessageError('tick', `receivedTs ${Math.round(ahead / 1000)} s ahead of this host's clock`)
  }
  return t
}
export const signalDecoder: Decoder<Signal> = decoder('signal', Signal)
export const heartbeatDecoder: Decoder<Heartbeat> = decoder('heartbeat', Heartbeat)
export const feedRecordDecoder: Decoder<FeedRecord> = decoder('feed record', FeedRecord)
