// Binance spot WebSocket market streams (Diff. Depth Stream) and REST `GET /api/v3/depth`:
// https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams (samples in
// shared/exchange-samples/binance.md). Only the diff depth streams, on the raw-stream endpoint.
import type { WebSocket } from 'ws'
import { SIZE_DECIMALS, toDecimalString, type BookView, type Level, type VenueProfile } from '../market.js'
import { clientSet, defineExchange, NOT_FOUND, type HttpReply, type StartExchange } from './exchange.js'
import { significantDigits, symbolIfQuotedIn } from './profile.js'
import { isRecord, parseJson } from './wire.js'

export const binanceProfile: VenueProfile = {
  id: 'binance',
  // Regular-user spot taker fee, unverified (Binance Square posts on binance.com/en/fee/schedule).
  takerFee: 0.001,
  // BTC-EUR is `BTCEUR`; stream names use it lower-cased. Quote assets listed against BTC and ETH;
  // no plain USD (Binance has no BTCUSD spot market).
  symbol: symbolIfQuotedIn(['EUR', 'USDT', 'USDC', 'GBP', 'TRY', 'BTC'], (base, quote) =>
    base === quote ? undefined : `${base}${quote}`,
  ),
  alwaysLists: [],
  // BTCEUR and ETHEUR trade on a 0.01 grid.
  priceDecimals: significantDigits({ digits: 6, minDecimals: 2 }),
  // The deepest and tightest of the simulated books.
  depth: 60,
  halfSpreadBps: 0.5,
  offsetBps: 1,
  levelGapBps: [0.2, 1],
  topSizeUsd: 8000,
}

/** Prices and quantities are printed with 8 decimals, as Binance does (`"0.00577300"`). */
const DECIMALS = 8
/** Diff depth streams and their update speed (Diff. Depth Stream). */
const SPEEDS_MS = { '@depth@100ms': 100, '@depth': 1000 } as const
type Speed = keyof typeof SPEEDS_MS
/** The REST snapshot's default and largest `limit` (Order book endpoint; a larger one is truncated to 5000). */
const DEFAULT_LIMIT = 100
const MAX_LIMIT = 5000
/** The server pings every 20 s and closes a connection that sent no pong for a minute (General WSS information). */
const PING_EVERY_MS = 20_000
const PONG_WITHIN_MS = 60_000
const METHODS = '`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`'

/** Changes of one symbol not yet sent on one speed's streams: update ids `first…last`, final sizes by price. */
interface Batch {
  first: number
  last: number
  readonly bid: Map<number, number>
  readonly ask: Map<number, number>
}

interface SymbolState {
  readonly book: BookView
  /** The book's update id: one per level change, as the diff events count them. */
  id: number
  readonly batches: Record<Speed, Batch>
}

interface Client {
  readonly ws: WebSocket
  /** Subscribed stream names, e.g. `btceur@depth@100ms`. */
  readonly streams: Set<string>
  lastPongMs: number
}

export const binance = defineExchange(binanceProfile, (ctx) => startBinance(ctx))

const emptyBatch = (): Batch => ({ first: 0, last: 0, bid: new Map(), ask: new Map() })

const startBinance: StartExchange = ({ market, log, nowUs }) => {
  const symbols = new Map<string, SymbolState>()
  for (const book of market.listings('binance')) {
    // Update ids of a live book are large; start there rather than at 0.
    const id = book.sequence
    symbols.set(book.symbol, { book, id, batches: { '@depth@100ms': emptyBatch(), '@depth': emptyBatch() } })
  }
  const clients = clientSet<Client>(log)
  const send = clients.send
  const nowMs = () => Math.floor(nowUs() / 1000)

  const text = (state: SymbolState, price: number) =>
    toDecimalString(price * 10 ** (DECIMALS - state.book.priceDecimals), DECIMALS)
  const qty = (size: number) => toDecimalString(size * 10 ** (DECIMALS - SIZE_DECIMALS), DECIMALS)
  const levels = (state: SymbolState, entries: Iterable<readonly [number, number]>) =>
    `[${Array.from(entries, ([p, s]) => `["${text(state, p)}","${qty(s)}"]`).join(',')}]`

  /** A stream name this server serves, split into symbol state and speed; undefined otherwise. */
  const parseStream = (name: string): { state: SymbolState; speed: Speed } | undefined => {
    const at = name.indexOf('@')
    if (at <= 0) return undefined
    const speed = name.slice(at) as Speed
    const state = symbols.get(name.slice(0, at).toUpperCase())
    return state !== undefined && speed in SPEEDS_MS ? { state, speed } : undefined
  }

  const flush = (speed: Speed) => {
    const E = nowMs()
    for (const [sym, state] of symbols) {
      const batch = state.batches[speed]
      if (batch.bid.size + batch.ask.size === 0) continue
      const stream = `${sym.toLowerCase()}${speed}`
      const frame = () =>
        `{"e":"depthUpdate","E":${E},"s":"${sym}","U":${batch.first},"u":${batch.last},` +
        `"b":${levels(state, batch.bid)},"a":${levels(state, batch.ask)}}`
      clients.broadcast((c) => c.streams.has(stream), frame)
      state.batches[speed] = emptyBatch()
    }
  }
  const timers = (Object.keys(SPEEDS_MS) as Speed[]).map((speed) => setInterval(() => flush(speed), SPEEDS_MS[speed]))

  const pingTimer = setInterval(() => {
    const now = Date.now()
    for (const c of clients) {
      if (now - c.lastPongMs > PONG_WITHIN_MS) c.ws.terminate()
      else c.ws.ping()
    }
  }, PING_EVERY_MS)

  const reply = (client: Client, body: unknown) => send(client, JSON.stringify(body))

  const onMessage = (client: Client, raw: string) => {
    const msg = parseJson(raw)
    if (msg === undefined) return reply(client, { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' })
    if (!isRecord(msg)) {
      return reply(client, { code: 2, msg: 'Invalid request: missing field `method` at line 1 column 1' })
    }
    const { method, params, id } = msg
    if (id !== undefined && id !== null && !(Number.isSafeInteger(id) || (typeof id === 'string' && id.length <= 36))) {
      return reply(client, { code: 2, msg: 'Invalid request: request ID must be an unsigned integer' })
    }
    if (method === undefined)
      return reply(client, { code: 2, msg: 'Invalid request: missing field `method` at line 1 column 1' })
    if (method === 'LIST_SUBSCRIPTIONS') return reply(client, { result: [...client.streams], id: id ?? null })
    if (method !== 'SUBSCRIBE' && method !== 'UNSUBSCRIBE') {
      return reply(client, {
        code: 2,
        msg: `Invalid request: unknown variant \`${String(method)}\`, expected one of ${METHODS}`,
      })
    }
    if (!Array.isArray(params) || params.some((p) => typeof p !== 'string')) {
      return reply(client, { code: 2, msg: 'Invalid request: invalid type: expected a sequence of strings' })
    }
    for (const name of params as string[]) {
      // Unknown stream names are acknowledged like the rest and simply carry nothing.
      if (method === 'SUBSCRIBE') client.streams.add(name)
      else client.streams.delete(name)
    }
    reply(client, { result: null, id: id ?? null })
  }

  const depth = (query: URLSearchParams): HttpReply => {
    const sym = query.get('symbol')
    if (!sym) {
      return {
        status: 400,
        body: { code: -1102, msg: "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed." },
      }
    }
    const state = symbols.get(sym)
    if (state === undefined) return { status: 400, body: { code: -1121, msg: 'Invalid symbol.' } }
    const limitText = query.get('limit')
    const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText)
    if (!Number.isSafeInteger(limit) || limit < 1) {
      return { status: 400, body: { code: -1100, msg: "Illegal characters found in parameter 'limit'." } }
    }
    const side = (list: readonly Level[]) =>
      list.slice(0, Math.min(limit, MAX_LIMIT)).map((l) => [text(state, l.price), qty(l.size)])
    // Pending changes are in the book already: lastUpdateId covers them, and the next diff event
    // (U <= lastUpdateId + 1 <= u) repeats them, as the order-book page expects.
    return { status: 200, body: { lastUpdateId: state.id, bids: side(state.book.bids), asks: side(state.book.asks) } }
  }

  return {
    streams: ['/ws', '/ws/<symbol>@depth@100ms'],
    accept: (ws, rest) => {
      const client: Client = { ws, streams: new Set(), lastPongMs: Date.now() }
      if (rest.startsWith('/ws/')) {
        // A raw stream named in the path: subscribed from the start, no SUBSCRIBE needed.
        const name = decodeURIComponent(rest.slice('/ws/'.length))
        if (parseStream(name) === undefined) return ws.close(NOT_FOUND, 'not found')
        client.streams.add(name)
      } else if (rest !== '' && rest !== '/' && rest !== '/ws') {
        return ws.close(NOT_FOUND, 'not found')
      }
      clients.join(client, (raw) => onMessage(client, raw))
      ws.on('pong', () => {
        client.lastPongMs = Date.now()
      })
    },
    http: (rest, query) => (rest === '/api/v3/depth' ? depth(query) : undefined),
    onStep: (result) => {
      for (const u of result.updates) {
        if (u.venue !== 'binance') continue
        const book = market.book('binance', u.pair)
        const state = book && symbols.get(book.symbol)
        if (!state) continue
        for (const c of u.changes) {
          state.id += 1
          for (const batch of Object.values(state.batches)) {
            if (batch.bid.size + batch.ask.size === 0) batch.first = state.id
            batch.last = state.id
            batch[c.side].set(c.price, c.size)
          }
        }
      }
    },
    connections: clients.connections,
    messagesSent: clients.messagesSent,
    close: () => {
      for (const t of timers) clearInterval(t)
      clearInterval(pingTimer)
    },
  }
}
