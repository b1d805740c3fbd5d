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

export type StartExchange = (ctx: ExchangeContext) => ExchangeServer

/** An exchange served under `/<id>`, its `ctx.log` tagged with the id. */
export const defineExchange = (profile: VenueProfile, start: StartExchange): SimulatedExchange => ({
  profile,
  basePath: `/${profile.id}`,
  start: (ctx) => start({ ...ctx, log: ctx.log.child({ exchange: profile.id }) }),
})

/** A client connection; each protocol adds what it keeps per connection. */
export interface Client {
  readonly ws: WebSocket
}

/** An exchange server's connected clients and the count of frames sent to them. */
export interface Clients<C extends Client> extends Iterable<C> {
  send(client: C, frame: string): void
  /** Built once, and only when some client `wants` it. */
  broadcast(wants: (client: C) => boolean, frame: () => string): void
  /** Serves a connected client until it closes; binary frames are ignored, as no feed here takes them. */
  join(client: C, onText?: (raw: string) => void, onClose?: () => void): void
  connections(): number
  messagesSent(): number
}

export const clientSet = <C extends Client>(log: Logger): Clients<C> => {
  const clients = new Set<C>()
  let sent = 0
  const send = (client: C, frame: string) => {
    if (sendFrame(client.ws, frame, log)) sent += 1
  }
  return {
    [Symbol.iterator]: () => clients.values(),
    send,
    broadcast: (wants, frame) => {
      let text: string | undefined
      for (const c of clients) if (wants(c)) send(c, (text ??= frame()))
    },
    join: (client, onText, onClose) => {
      clients.add(client)
      if (onText) {
        client.ws.on('message', (data, isBinary) => {
          if (!isBinary) onText(data.toString())
        })
      }
      client.ws.on('close', () => {
        onClose?.()
        clients.delete(client)
      })
    },
    connections: () => clients.size,
    messagesSent: () => sent,
  }
}

/** Close code for a path the exchange does not serve: 4xxx is application-defined, 404 as in HTTP. */
export const NOT_FOUND = 4404

/** An `accept` for the exchange's own paths (under `basePath`); any other path is closed with NOT_FOUND. */
export const acceptOn =
  (paths: readonly string[], accept: (ws: WebSocket) => void): ExchangeServer['accept'] =>
  (ws, rest) => {
    if (paths.includes(rest)) accept(ws)
    else ws.close(NOT_FOUND, 'not found')
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
