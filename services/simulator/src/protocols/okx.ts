// OKX API v5 public WebSocket, `books` channel
// (https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel), and the REST
// order book GET /api/v5/market/books (samples in shared/exchange-samples/okx.md). By default it behaves
// as production does after the 2026 changes: no initial snapshot on the WebSocket (books start from
// REST), `prevSeqId`/`seqId` on every push, `checksum` always 0. Text `ping` is answered by `pong`.
import { crc32 } from 'node:zlib'
import type { WebSocket } from 'ws'
import type { BookView, Level, LevelChange, VenueProfile } from '../market.js'
import {
  acceptOn,
  clientSet,
  defineExchange,
  type ExchangeContext,
  type ExchangeServer,
  type HttpReply,
  type SimulatedExchange,
} from './exchange.js'
import { significantDigits, symbolIfQuotedIn } from './profile.js'
import { bestFirst, isRecord, parseJson, priceText, sizeText, withoutTrailingZeros } from './wire.js'

export const okxProfile: VenueProfile = {
  id: 'okx',
  // Spot, regular user Lv1 (okx.com/fees).
  takerFee: 0.001,
  // instIds are BASE-QUOTE as ours. Spot quotes OKX lists for BTC: USDT, USDC, and EUR in the EEA.
  symbol: symbolIfQuotedIn(['USDT', 'USDC', 'EUR'], (base, quote) => `${base}-${quote}`),
  alwaysLists: ['BTC-USDT'],
  // BTC-USDT trades on a 0.1 grid (the recording's prices).
  priceDecimals: significantDigits({ digits: 6, minDecimals: 1 }),
  depth: 50,
  halfSpreadBps: 0.5,
  offsetBps: 0.5,
  levelGapBps: [0.2, 1],
  topSizeUsd: 6000,
}

/** What the simulated OKX sends; the defaults are production since the 2026 changes. */
export interface OkxOptions {
  /** Send the initial `snapshot` push on subscribe, as before the delisting (early August 2026). */
  readonly wsSnapshot?: boolean
  /** Send the real CRC32 instead of 0, as before 2026-06-23; the adapter then verifies every push. */
  readonly checksums?: boolean
}

/** WS / Order book channel: "the connection will break … if the subscription is not established … 30 seconds". */
const SUBSCRIBE_TIMEOUT_MS = 30_000
/** Sequence ID exception 1: after about 60 s without a change, an empty push with `prevSeqId` == `seqId`. */
const NO_CHANGE_MS = 60_000
const NO_CHANGE_CHECK_MS = 5000
const MAX_REST_DEPTH = 400
const CHECKSUM_LEVELS = 25

interface Book {
  readonly view: BookView
  /** One sequence per instId, shared by every connection (Sequence ID section). */
  seqId: number
  lastPushMs: number
}

interface Client {
  readonly ws: WebSocket
  readonly connId: string
  readonly instIds: Set<string>
  subscribeTimer: NodeJS.Timeout | undefined
}

export const okxExchange = (options: OkxOptions = {}): SimulatedExchange =>
  defineExchange(okxProfile, (ctx) => startOkx(ctx, options))

export const okx: SimulatedExchange = okxExchange()

const startOkx = ({ market, log, nowUs }: ExchangeContext, options: OkxOptions): ExchangeServer => {
  const books = new Map<string, Book>()
  // Real seqIds are large and advance by more than one per push.
  for (const view of market.listings('okx')) books.set(view.symbol, { view, seqId: 1_000_000, lastPushMs: 0 })
  const clients = clientSet<Client>(log)
  const send = clients.send
  let connections = 0
  const nowMs = () => Math.floor(nowUs() / 1000)

  // OKX prints decimals without trailing zeros ("30316", "0.85").
  const px = (book: Book, units: number) => withoutTrailingZeros(priceText(book.view, units))
  const sz = (units: number) => withoutTrailingZeros(sizeText(units))
  const entry = (book: Book, l: Pick<Level, 'price' | 'size' | 'orders'>) =>
    l.size === 0 ? [px(book, l.price), '0', '0', '0'] : [px(book, l.price), sz(l.size), '0', String(l.orders)]

  /** Top 25 bids and asks interleaved, `price:size`, CRC32 as a signed 32-bit integer. */
  const checksum = (book: Book) => {
    if (!options.checksums) return 0
    const parts: string[] = []
    for (let i = 0; i < CHECKSUM_LEVELS; i++) {
      const bid = book.view.bids[i]
      const ask = book.view.asks[i]
      if (bid) parts.push(`${px(book, bid.price)}:${sz(bid.size)}`)
      if (ask) parts.push(`${px(book, ask.price)}:${sz(ask.size)}`)
    }
    return crc32(parts.join(':')) | 0
  }

  const push = (
    book: Book,
    action: 'snapshot' | 'update',
    asks: unknown[],
    bids: unknown[],
    prevSeqId: number,
    seqId: number,
  ) =>
    JSON.stringify({
      arg: { channel: 'books', instId: book.view.symbol },
      action,
      data: [{ asks, bids, ts: String(nowMs()), checksum: checksum(book), prevSeqId, seqId }],
    })

  const snapshotPush = (book: Book) =>
    push(
      book,
      'snapshot',
      book.view.asks.map((l) => entry(book, l)),
      book.view.bids.map((l) => entry(book, l)),
      -1,
      book.seqId,
    )

  // Asks lowest first and bids highest first, deletes as ["px","0","0","0"], as recorded.
  const updatePush = (book: Book, changes: readonly LevelChange[], prevSeqId: number) => {
    const side = (s: 'bid' | 'ask') => {
      const levels = s === 'bid' ? book.view.bids : book.view.asks
      return bestFirst(changes, s).map((c) =>
        entry(book, { ...c, orders: levels.find((l) => l.price === c.price)?.orders ?? 1 }),
      )
    }
    return push(book, 'update', side('ask'), side('bid'), prevSeqId, book.seqId)
  }

  const reply = (client: Client, id: unknown, fields: Record<string, unknown>) =>
    send(client, JSON.stringify({ ...(typeof id === 'string' ? { id } : {}), ...fields, connId: client.connId }))

  const onMessage = (client: Client, raw: string) => {
    if (raw === 'ping') return send(client, 'pong')
    const msg = parseJson(raw)
    const op = isRecord(msg) ? msg['op'] : undefined
    const args = isRecord(msg) ? msg['args'] : undefined
    const id = isRecord(msg) ? msg['id'] : undefined
    if ((op !== 'subscribe' && op !== 'unsubscribe') || !Array.isArray(args)) {
      return reply(client, id, { event: 'error', code: '60012', msg: `Invalid request: ${raw.slice(0, 200)}` })
    }
    for (const arg of args as unknown[]) {
      const channel = isRecord(arg) ? arg['channel'] : undefined
      const instId = isRecord(arg) ? arg['instId'] : undefined
      const book = typeof instId === 'string' ? books.get(instId) : undefined
      // Not a recorded reply: the text of OKX's 60018 error is from memory of the error-code table.
      if (channel !== 'books' || book === undefined) {
        reply(client, id, {
          event: 'error',
          code: '60018',
          msg: `Wrong URL or channel:${String(channel)},instId:${String(instId)} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`,
        })
        continue
      }
      clearTimeout(client.subscribeTimer)
      reply(client, id, { event: op, arg: { channel, instId } })
      if (op === 'unsubscribe') {
        client.instIds.delete(book.view.symbol)
        continue
      }
      client.instIds.add(book.view.symbol)
      if (options.wsSnapshot) send(client, snapshotPush(book))
    }
  }

  const orderBook = (rest: string, query: URLSearchParams): HttpReply | undefined => {
    if (rest !== '/api/v5/market/books') return undefined
    const book = books.get(query.get('instId') ?? '')
    // Not a recorded reply: OKX's answer for an unknown instrument, as its error-code table words it.
    if (book === undefined)
      return { status: 200, body: { code: '51001', msg: 'Instrument ID does not exist', data: [] } }
    const depth = Math.min(MAX_REST_DEPTH, Math.max(1, Math.floor(Number(query.get('sz') ?? '1')) || 1))
    const levels = (side: readonly Level[]) => side.slice(0, depth).map((l) => entry(book, l))
    const data = { asks: levels(book.view.asks), bids: levels(book.view.bids), ts: String(nowMs()), seqId: book.seqId }
    return { status: 200, body: { code: '0', msg: '', data: [data] } }
  }

  const noChangeTimer = setInterval(() => {
    const now = nowMs()
    for (const book of books.values()) {
      if (now - book.lastPushMs < NO_CHANGE_MS) continue
      book.lastPushMs = now
      clients.broadcast(
        (c) => c.instIds.has(book.view.symbol),
        () => push(book, 'update', [], [], book.seqId, book.seqId),
      )
    }
  }, NO_CHANGE_CHECK_MS)

  return {
    streams: ['', '/ws/v5/public'],
    accept: acceptOn(['', '/', '/ws/v5/public'], (ws) => {
      connections += 1
      const client: Client = {
        ws,
        connId: connections.toString(16).padStart(8, '0'),
        instIds: new Set(),
        subscribeTimer: setTimeout(() => ws.close(4004, 'No subscription within 30 seconds'), SUBSCRIBE_TIMEOUT_MS),
      }
      clients.join(
        client,
        (raw) => onMessage(client, raw),
        () => clearTimeout(client.subscribeTimer),
      )
    }),
    http: (rest, query) => orderBook(rest, query),
    onStep: (result) => {
      for (const u of result.updates) {
        if (u.venue !== 'okx') continue
        const view = market.book('okx', u.pair)
        const book = view && books.get(view.symbol)
        if (!book) continue
        // The sequence advances whether or not anyone listens, so REST snapshots carry it too.
        const prevSeqId = book.seqId
        book.seqId += u.changes.length
        book.lastPushMs = nowMs()
        clients.broadcast(
          (c) => c.instIds.has(book.view.symbol),
          () => updatePush(book, u.changes, prevSeqId),
        )
      }
    },
    connections: clients.connections,
    messagesSent: clients.messagesSent,
    close: () => {
      clearInterval(noChangeTimer)
      for (const c of clients) clearTimeout(c.subscribeTimer)
    },
  }
}
