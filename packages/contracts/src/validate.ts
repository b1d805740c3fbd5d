import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { InvalidMessageError } from './errors.js'
import { Heartbeat } from './heartbeat.js'
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

// Beyond the schema: a crossed book (best bid >= best ask) is a broken feed, never a market.
const tickProblem = (t: Tick): string | undefined => {
  const bid = t.bids[0]?.[0]
  const ask = t.asks[0]?.[0]
  return bid !== undefined && ask !== undefined && bid >= ask ? `crossed book: bid ${bid} >= ask ${ask}` : undefined
}

export const tickDecoder: Decoder<Tick> = decoder('tick', Tick, tickProblem)
export const signalDecoder: Decoder<Signal> = decoder('signal', Signal)
export const heartbeatDecoder: Decoder<Heartbeat> = decoder('heartbeat', Heartbeat)
