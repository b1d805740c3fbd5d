// Kraken spot WebSocket v2: https://docs.kraken.com/api/docs/websocket-v2/book (samples in
// shared/exchange-samples/kraken.md). Only the public `book` channel, with status, heartbeat and ping.
import { crc32 } from 'node:zlib'
import type { WebSocket } from 'ws'
import {
  SIZE_DECIMALS,
  toDecimalString,
  type BookView,
  type Level,
  type StepResult,
  type VenueProfile,
} from '../market.js'
import { isoMicros, sendFrame, type ExchangeContext, type ExchangeServer, type SimulatedExchange } from './exchange.js'

export const krakenProfile: VenueProfile = {
  id: 'kraken',
  // Entry-tier taker fee, unverified (third-party summary of kraken.com/features/fee-schedule).
  takerFee: 0.004,
  // v2 symbols: BTC-EUR is `BTC/EUR` (v1 said XBT). Fiat quotes only, like the ingestor's pairs.
  symbol: (pair) => {
    const [base, quote] = pair.split('-')
    return base && (quote === 'EUR' || quote === 'USD') ? `${base}/${quote}` : undefined
  },
  alwaysLists: ['BTC-USD'],
  // BTC/EUR trades on a 0.1 grid, ETH/EUR on 0.01 (price_precision 1 and 2).
  priceDecimals: (ref) => Math.max(1, 6 - Math.ceil(Math.log10(ref))),
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

type Held = { bid: Map<number, number>; ask: Map<number, number> }

interface Subscription {
  readonly depth: number
  /** The top `depth` levels as the client holds them after the last frame we sent. */
  held: Held
}

interface Client {
  readonly ws: WebSocket
  readonly subs: Map<string, Subscription>
}

export const kraken: SimulatedExchange = {
  profile: krakenProfile,
  basePath: '/kraken',
  start: (ctx) => startKraken(ctx),
}

const startKraken = ({ market, log: parentLog, nowUs }: ExchangeContext): ExchangeServer => {
  const log = parentLog.child({ exchange: 'kraken' })
  const books = new Map<string, BookView>()
  for (const book of market.listings('kraken')) books.set(book.symbol, book)
  const clients = new Set<Client>()
  let sent = 0
  let connectionId = 13834774380200032777n

  const send = (client: Client, frame: string) => {
    if (sendFrame(client.ws, frame, log)) sent += 1
  }
  const now = () => isoMicros(nowUs())

  // Decimal text with full precision: the checksum is over exactly this text.
  const px = (book: BookView, units: number) => toDecimalString(units, book.priceDecimals)
  const qty = (units: number) => toDecimalString(units, SIZE_DECIMALS)
  const levelsJson = (book: BookView, levels: Iterable<readonly [number, number]>) =>
    `[${Array.from(levels, ([p, s]) => `{"price":${px(book, p)},"qty":${qty(s)}}`).join(',')}]`
  const view = (book: BookView, depth: number): Held => ({
    bid: new Map(book.bids.slice(0, depth).map((l) => [l.price, l.size])),
    ask: new Map(book.asks.slice(0, depth).map((l) => [l.price, l.size])),
  })

  /** Book checksum guide (v2): top 10 asks then top 10 bids, price then qty, `.` and leading zeros removed. */
  const checksum = (book: BookView) => {
    const digits = (text: string) => text.replace('.', '').replace(/^0+/, '')
    const part = (levels: readonly Level[]) =>
      levels
        .slice(0, CHECKSUM_LEVELS)
        .map((l) => digits(px(book, l.price)) + digits(qty(l.size)))
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
    sub.held = view(book, sub.depth)
    return bookFrame('snapshot', book, sub.held.bid, sub.held.ask)
  }

  // What moved in the client's top `depth`: new or resized levels, and deleted ones. A level that
  // only fell out of scope gets no delete: the client truncates to its depth (checksum guide).
  const update = (book: BookView, sub: Subscription): string | undefined => {
    const next = view(book, sub.depth)
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
    let msg: unknown
    try {
      msg = JSON.parse(raw)
    } catch {
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
    accept: (ws, rest) => {
      if (rest !== '' && rest !== '/' && rest !== '/v2') {
        ws.close(4404, 'not found')
        return
      }
      const client: Client = { ws, subs: new Map() }
      clients.add(client)
      ws.on('message', (data, isBinary) => {
        if (!isBinary) onMessage(client, data.toString())
      })
      ws.on('close', () => clients.delete(client))
      connectionId += 1n
      send(
        client,
        `{"channel":"status","data":[{"api_version":"v2","connection_id":${connectionId},"system":"online","version":"2.0.0"}],"type":"update"}`,
      )
    },
    onStep: (result: StepResult) => {
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
    connections: () => clients.size,
    messagesSent: () => sent,
    close: () => clearInterval(heartbeatTimer),
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
