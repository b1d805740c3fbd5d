import { WebSocket } from 'ws'
import type { Logger } from '@arb/observability'
import type { Market, StepResult, VenueProfile } from '../market.js'

/**
 * What a simulated exchange is: a quoting profile for the market model and a wire protocol.
 * Adding Kraken, Bitstamp, … means one more file exporting a `SimulatedExchange` and one line in
 * `index.ts`; the market, the HTTP server and the step loop do not change.
 */
export interface SimulatedExchange {
  readonly profile: VenueProfile
  /** Every stream of the exchange lives under this path, e.g. `/coinbase`. */
  readonly basePath: string
  start(ctx: ExchangeContext): ExchangeServer
}

export interface ExchangeContext {
  readonly market: Market
  readonly log: Logger
  /** Epoch microseconds: Coinbase timestamps carry microseconds. */
  readonly nowUs: () => number
  /** Real Coinbase drops a connection that has not subscribed within 5 s; tests shorten it. */
  readonly subscribeTimeoutMs: number
}

export interface ExchangeServer {
  /** Paths (under `basePath`) a client can open, for the start-up log. */
  readonly streams: readonly string[]
  /** `rest` is the request path after `basePath` ('' or '/…'). */
  accept(ws: WebSocket, rest: string): void
  /**
   * REST routes under `basePath` (GET only), for exchanges whose books start from a REST snapshot
   * (Binance, Bitstamp). `rest` is the path after `basePath`; undefined means 404.
   */
  http?(rest: string, query: URLSearchParams): HttpReply | undefined
  /** Called synchronously after every market step. */
  onStep(result: StepResult): void
  connections(): number
  messagesSent(): number
  /** Stops timers; the caller closes the sockets. */
  close(): void
}

export interface HttpReply {
  readonly status: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * Real exchanges disconnect consumers that fall behind (Coinbase: ErrSlowConsume) instead of
 * buffering without bound; a stuck benchmark client must not take the simulator's memory.
 */
export const MAX_BUFFERED_BYTES = 32 * 1024 * 1024

/** Sends one frame; false when the socket is not open or was dropped for being too slow. */
export const sendFrame = (ws: WebSocket, frame: string, log: Logger): boolean => {
  if (ws.readyState !== WebSocket.OPEN) return false
  if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
    log.warn({ bufferedBytes: ws.bufferedAmount }, 'slow consumer, disconnecting')
    ws.terminate()
    return false
  }
  ws.send(frame)
  return true
}

/** `2022-08-04T15:25:05.010758Z`: ISO 8601 with microseconds, as Coinbase writes `time`. */
export const isoMicros = (epochUs: number): string => {
  const ms = Math.floor(epochUs / 1000)
  const micros = String(Math.floor(epochUs) % 1000).padStart(3, '0')
  return `${new Date(ms).toISOString().slice(0, -1)}${micros}Z`
}
