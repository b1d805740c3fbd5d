// Kraken spot WebSocket v2: https://docs.kraken.com/api/docs/websocket-v2/book (samples in
// shared/exchange-samples/kraken.md). Only the public `book` channel, with status, heartbeat and ping.
import { crc32 } from 'node:zlib'
import type { WebSocket } from 'ws'
import type { BookView, Level, VenueProfile } from '../market.js'
import { acceptOn, clientSet, defineExchange, type StartExchange } from './exchange.js'
import { significantDigits, symbolIfQuotedIn } from './profile.js'
import { isoMicros, isRecord, parseJson, priceText, sizesByPrice, sizeText, type SizesByPrice } from './wire.js'

export const krakenProfile: VenueProfile = {
  id: 'kraken',
  // Entry-tier taker fee, unverified (third-party summary of kraken.com/features/fee-schedule).
  takerFee: 0.004,
  // v2 symbols: BTC-EUR is `BTC/EUR` (v1 said XBT). Fiat quotes only, like the ingestor's pairs.
  symbol: symbolIfQuotedIn(['EUR', 'USD'], (base, quote) => `${base}/${quote}`),
  alwaysLists: ['BTC-USD'],
  // BTC/EUR trades on a 0.1 grid, ETH/EUR on 0.01 (price_precision 1 and 2).
  priceDecimals: significantDigits({ digits: 6, minDecimals: 1 }),
  depth: 40,
  halfSpreadBps: 1.5,
  offsetBps: -2,
  levelGapBps: [0.4, 2],
  topSizeUsd: 4000,
}

/** Depths the book channel accepts (book page, `depth` parameter). */
const DEPTHS = new Set([10, 25, 100, 500, 1000])
const DEFAULT_DEPTH = 10
const CHECKSUM_LEVELS = 10
const HEARTBEAT_MS = 1000

interface Subscription {
  readonly depth: number
  /** The top `depth` levels as the client holds them after the last frame we sent. */
  held: SizesByPrice
}

interface Client {
  readonly ws: WebSocket
  readonly subs: Map<string, Subscription>
}

export const kraken = defineExchange(krakenProfile, (ctx) => startKraken(ctx))

const startKraken: StartExchange = ({ market, log, nowUs }) => {
  const books = new Map<string, BookView>()
  for (const book of market.listings('kraken')) books.set(book.symbol, book)
  const clients = clientSet<Client>(log)
  const send = clients.send
  let connectionId = 13834774380200032777n
  const now = () => isoMicros(nowUs())

  // Prices and quantities with every decimal: the checksum is over exactly this text.
  const levelsJson = (book: BookView, levels: Iterable<readonly [number, number]>) =>
    `[${Array.from(levels, ([p, s]) => `{"price":${priceText(book, p)},"qty":${sizeText(s)}}`).join(',')}]`

  /** Book checksum guide (v2): top 10 asks then top 10 bids, price then qty, `.` and leading zeros removed. */
  const checksum = (book: BookView) => {
    const digits = (text: string) => text.replace('.', '').replace(/^0+/, '')
    const part = (levels: readonly Level[]) =>
      levels
        .slice(0, CHECKSUM_LEVELS)
        .map((l) => digits(priceText(book, l.price)) + digits(sizeText(l.size)))
        .join('')
    return crc32(part(book.asks) + part(book.bids)) >>> 0
  }

  const bookFrame = (
    type: 'snapshot' | 'update',
    book: BookView,
    bids: Iterable<readonly [number, number]>,
    asks: Iterable<readonly [number, number]>,
  ) =>
    `{"channel":"book","type":"${type}","data":[{"symbol":${JSON.stringify(book.symbol)},` +
    `"bids":${levelsJson(book, bids)},"asks":${levelsJson(book, asks)},` +
    `"checksum":${checksum(book)},"timestamp":"${now()}"}]}`

  const snapshot = (book: BookView, sub: Subscription) => {
    sub.held = sizesByPrice(book, sub.depth)
    return bookFrame('snapshot', book, sub.held.bid, sub.held.ask)
  }

  // What moved in the client's top `depth`: new or resized levels, and deleted ones. A level that
  // only fell out of scope gets no delete: the client truncates to its depth (checksum guide).
  const update = (book: BookView, sub: Subscription): string | undefined => {
    const next = sizesByPrice(book, sub.depth)
    const diff = (side: 'bid' | 'ask') => {
      const out: [number, number][] = []
      for (const [p, s] of next[side]) if (sub.held[side].get(p) !== s) out.push([p, s])
      const all = new Set((side === 'bid' ? book.bids : book.asks).map((l) => l.price))
      for (const p of sub.held[side].keys()) if (!next[side].has(p) && !all.has(p)) out.push([p, 0])
      return out
    }
    const bids = diff('bid')
    const asks = diff('ask')
    sub.held = next
    return bids.length + asks.length === 0 ? undefined : bookFrame('update', book, bids, asks)
  }

  const reply = (method: string, reqId: unknown, fields: Record<string, unknown>, timeIn: string) =>
    JSON.stringify({
      method,
      ...fields,
      time_in: timeIn,
      time_out: now(),
      ...(reqId === undefined ? {} : { req_id: reqId }),
    })

  const onMessage = (client: Client, raw: string) => {
    const timeIn = now()
    const msg = parseJson(raw)
    if (msg === undefined) {
      send(client, JSON.stringify({ error: 'Malformed request', success: false, time_in: timeIn, time_out: now() }))
      return
    }
    if (!isRecord(msg)) return
    const { method, req_id: reqId } = msg
    if (method === 'ping') {
      send(client, reply('pong', reqId, {}, timeIn))
      return
    }
    if (method !== 'subscribe' && method !== 'unsubscribe') {
      send(client, reply(String(method), reqId, { error: `Method not found`, success: false }, timeIn))
      return
    }
    const params = isRecord(msg['params']) ? msg['params'] : {}
    const depth = params['depth'] ?? DEFAULT_DEPTH
    const symbols = params['symbol']
    const refuse = (error: string, symbol?: string) =>
      send(client, reply(method, reqId, { error, success: false, ...(symbol ? { symbol } : {}) }, timeIn))
    if (params['channel'] !== 'book') return refuse(`Channel not supported ${String(params['channel'])}`)
    if (typeof depth !== 'number' || !DEPTHS.has(depth)) return refuse(`Subscription depth not supported`)
    if (!Array.isArray(symbols) || symbols.length === 0) return refuse('Must specify at least one symbol')
    for (const s of symbols as unknown[]) {
      const book = typeof s === 'string' ? books.get(s) : undefined
      if (book === undefined) {
        refuse(`Currency pair not supported ${String(s)}`, String(s))
        continue
      }
      const result = { channel: 'book', depth, snapshot: true, symbol: book.symbol }
      if (method === 'unsubscribe') {
        client.subs.delete(book.symbol)
        send(
          client,
          reply(method, reqId, { result: { channel: 'book', depth, symbol: book.symbol }, success: true }, timeIn),
        )
        continue
      }
      if (client.subs.has(book.symbol)) {
        refuse('Already subscribed', book.symbol)
        continue
      }
      const sub: Subscription = { depth, held: { bid: new Map(), ask: new Map() } }
      client.subs.set(book.symbol, sub)
      send(client, reply(method, reqId, { result, success: true }, timeIn))
      send(client, snapshot(book, sub))
    }
  }

  // About once a second while subscribed (heartbeat page); sent regardless of other traffic here.
  const heartbeatTimer = setInterval(() => {
    for (const c of clients) if (c.subs.size > 0) send(c, '{"channel":"heartbeat"}')
  }, HEARTBEAT_MS)

  return {
    streams: [''],
    accept: acceptOn(['', '/', '/v2'], (ws) => {
      const client: Client = { ws, subs: new Map() }
      clients.join(client, (raw) => onMessage(client, raw))
      connectionId += 1n
      send(
        client,
        `{"channel":"status","data":[{"api_version":"v2","connection_id":${connectionId},"system":"online","version":"2.0.0"}],"type":"update"}`,
      )
    }),
    onStep: (result) => {
      for (const u of result.updates) {
        if (u.venue !== 'kraken') continue
        const book = market.book('kraken', u.pair)
        if (!book) continue
        for (const c of clients) {
          const sub = c.subs.get(book.symbol)
          const frame = sub && update(book, sub)
          if (frame) send(c, frame)
        }
      }
    },
    connections: clients.connections,
    messagesSent: clients.messagesSent,
    close: () => clearInterval(heartbeatTimer),
  }
}
