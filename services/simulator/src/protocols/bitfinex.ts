// Bitfinex WebSocket API v2: https://docs.bitfinex.com/reference/ws-public-books (samples in
// shared/exchange-samples/bitfinex.md). Only the public P0 `book` channel, with `conf` flags SEQ_ALL
// and OB_CHECKSUM, heartbeats, `ping` and the connect `info` event.
import { crc32 } from 'node:zlib'
import type { WebSocket } from 'ws'
import type { BookView, Level, VenueProfile } from '../market.js'
import { acceptOn, clientSet, defineExchange, type StartExchange } from './exchange.js'
import { significantDigits, symbolIfQuotedIn } from './profile.js'
import { isRecord, parseJson, priceText, sizeText } from './wire.js'

export const bitfinexProfile: VenueProfile = {
  id: 'bitfinex',
  // Base tier taker fee of bitfinex.com/fees.
  takerFee: 0.002,
  // `tBTCEUR`; a code that is not three letters long takes the `tTESTBTC:TESTUSD` form.
  symbol: symbolIfQuotedIn(['EUR', 'USD'], (base, quote) =>
    base.length === 3 ? `t${base}${quote}` : `t${base}:${quote}`,
  ),
  alwaysLists: ['BTC-USD'],
  // Prices carry five significant digits (ws-general): BTC trades on whole units, ETH on 0.1.
  priceDecimals: significantDigits({ digits: 5, minDecimals: 0 }),
  depth: 40,
  halfSpreadBps: 1,
  offsetBps: 1.5,
  levelGapBps: [0.3, 1.5],
  topSizeUsd: 5000,
}

const SEQ_ALL = 65_536
const OB_CHECKSUM = 131_072
/** Levels a side the checksum covers (checksum page). */
const CHECKSUM_LEVELS = 25
/** Book lengths the channel accepts (books page, `len`). */
const LENGTHS = new Set([1, 25, 100, 250])
const DEFAULT_LENGTH = 25
// ws-public: at most 25 channels a connection.
const MAX_CHANNELS = 25
/** A channel quiet this long gets a heartbeat (about 15 s on the real feed). */
const HEARTBEAT_MS = 15_000
const HEARTBEAT_CHECK_MS = 1000

interface Held {
  readonly bid: Map<number, Level>
  readonly ask: Map<number, Level>
}

interface Subscription {
  readonly chanId: number
  readonly book: BookView
  readonly len: number
  /** The levels the client holds after the last frame we sent. */
  held: Held
  lastSentMs: number
}

interface Client {
  readonly ws: WebSocket
  flags: number
  /** Last sequence number sent (SEQ_ALL counts every channel message of the connection). */
  seq: number
  readonly subs: Map<number, Subscription>
}

export const bitfinex = defineExchange(bitfinexProfile, (ctx) => startBitfinex(ctx))

const startBitfinex: StartExchange = ({ market, log }) => {
  const books = new Map<string, BookView>()
  for (const book of market.listings('bitfinex')) books.set(book.symbol, book)
  const clients = clientSet<Client>(log)
  const send = clients.send
  let nextChanId = 17_082

  // Channel messages end with the connection's next sequence number once SEQ_ALL is on.
  const sendChannel = (client: Client, sub: Subscription, body: string) => {
    sub.lastSentMs = Date.now()
    if ((client.flags & SEQ_ALL) === 0) return send(client, `[${sub.chanId},${body}]`)
    client.seq += 1
    send(client, `[${sub.chanId},${body},${client.seq}]`)
  }

  // JSON numbers as the real server (Node) prints them: shortest form, e-notation below 1e-6.
  const px = (book: BookView, units: number) => String(Number(priceText(book, units)))
  const amount = (side: 'bid' | 'ask', size: number) => String((side === 'bid' ? 1 : -1) * Number(sizeText(size)))
  const entry = (book: BookView, side: 'bid' | 'ask', l: Level) =>
    `[${px(book, l.price)},${l.orders},${amount(side, l.size)}]`
  // Copies: the market mutates its levels in place.
  const view = (book: BookView, len: number): Held => ({
    bid: new Map(book.bids.slice(0, len).map((l) => [l.price, { ...l }])),
    ask: new Map(book.asks.slice(0, len).map((l) => [l.price, { ...l }])),
  })

  /** Checksum page: top 25 bids and asks interleaved, `price:amount` as sent, signed CRC32. */
  const checksum = (book: BookView, held: Held) => {
    const bids = [...held.bid.values()].sort((a, b) => b.price - a.price).slice(0, CHECKSUM_LEVELS)
    const asks = [...held.ask.values()].sort((a, b) => a.price - b.price).slice(0, CHECKSUM_LEVELS)
    const parts: string[] = []
    for (let i = 0; i < CHECKSUM_LEVELS; i++) {
      const bid = bids[i]
      const ask = asks[i]
      if (bid) parts.push(px(book, bid.price), amount('bid', bid.size))
      if (ask) parts.push(px(book, ask.price), amount('ask', ask.size))
    }
    return crc32(parts.join(':')) | 0
  }

  const sendChecksum = (client: Client, sub: Subscription) => {
    if ((client.flags & OB_CHECKSUM) !== 0) sendChannel(client, sub, `"cs",${checksum(sub.book, sub.held)}`)
  }

  const snapshot = (client: Client, sub: Subscription) => {
    sub.held = view(sub.book, sub.len)
    const levels = [
      ...[...sub.held.bid.values()].map((l) => entry(sub.book, 'bid', l)),
      ...[...sub.held.ask.values()].map((l) => entry(sub.book, 'ask', l)),
    ]
    sendChannel(client, sub, `[${levels.join(',')}]`)
    sendChecksum(client, sub)
  }

  // One message per changed level, deletes first so the client never holds more than `len` a side,
  // each followed by the checksum of the book after it. A level that left the subscribed length is
  // deleted explicitly, as the real server does.
  const update = (client: Client, sub: Subscription) => {
    const next = view(sub.book, sub.len)
    const changes: { side: 'bid' | 'ask'; price: number; level?: Level }[] = []
    for (const side of ['bid', 'ask'] as const) {
      for (const price of sub.held[side].keys()) if (!next[side].has(price)) changes.push({ side, price })
    }
    for (const side of ['bid', 'ask'] as const) {
      for (const [price, level] of next[side]) {
        const old = sub.held[side].get(price)
        if (old?.size !== level.size || old.orders !== level.orders) changes.push({ side, price, level })
      }
    }
    for (const { side, price, level } of changes) {
      if (level === undefined) {
        sub.held[side].delete(price)
        sendChannel(client, sub, `[${px(sub.book, price)},0,${side === 'bid' ? 1 : -1}]`)
      } else {
        sub.held[side].set(price, level)
        sendChannel(client, sub, entry(sub.book, side, level))
      }
      sendChecksum(client, sub)
    }
  }

  const error = (client: Client, code: number, msg: string, extra: Record<string, unknown> = {}) =>
    send(client, JSON.stringify({ event: 'error', msg, code, ...extra }))

  const subscribe = (client: Client, msg: Record<string, unknown>) => {
    const sym = msg['symbol'] ?? msg['pair']
    const len = Number(msg['len'] ?? DEFAULT_LENGTH)
    const echo = { channel: msg['channel'], symbol: sym }
    if (msg['channel'] !== 'book') return error(client, 10300, 'Subscription failed (generic)', echo)
    const book = typeof sym === 'string' ? books.get(sym) : undefined
    if (book === undefined) return error(client, 10001, 'Unknown pair', echo)
    if ((msg['prec'] ?? 'P0') !== 'P0') return error(client, 10011, 'Unknown Book precision', echo)
    if ((msg['freq'] ?? 'F0') !== 'F0') return error(client, 10300, 'Subscription failed (generic)', echo)
    if (!LENGTHS.has(len)) return error(client, 10012, 'Unknown Book length', echo)
    if ([...client.subs.values()].some((s) => s.book === book)) return error(client, 10301, 'Already subscribed', echo)
    if (client.subs.size >= MAX_CHANNELS) return error(client, 10305, 'Reached limit of open channels', echo)
    const chanId = nextChanId++
    const sub: Subscription = { chanId, book, len, held: { bid: new Map(), ask: new Map() }, lastSentMs: 0 }
    client.subs.set(chanId, sub)
    const pair = book.symbol.slice(1)
    send(
      client,
      JSON.stringify({
        event: 'subscribed',
        channel: 'book',
        chanId,
        symbol: book.symbol,
        prec: 'P0',
        freq: 'F0',
        len: String(len),
        ...(msg['subId'] === undefined ? {} : { subId: msg['subId'] }),
        pair,
      }),
    )
    snapshot(client, sub)
  }

  const onMessage = (client: Client, raw: string) => {
    const msg = parseJson(raw)
    if (!isRecord(msg)) return error(client, 10000, 'Unknown event')
    switch (msg['event']) {
      case 'conf': {
        const flags = Number(msg['flags'])
        if (!Number.isSafeInteger(flags) || flags < 0) {
          return send(client, JSON.stringify({ event: 'conf', status: 'FAILED', flags: msg['flags'] }))
        }
        client.flags = flags
        return send(client, JSON.stringify({ event: 'conf', status: 'OK', flags }))
      }
      case 'subscribe':
        return subscribe(client, msg)
      case 'unsubscribe': {
        const chanId = Number(msg['chanId'])
        if (!client.subs.delete(chanId)) return error(client, 10400, 'Unsubscription failed (generic)', { chanId })
        return send(client, JSON.stringify({ event: 'unsubscribed', status: 'OK', chanId }))
      }
      case 'ping':
        return send(
          client,
          JSON.stringify({ event: 'pong', ts: Date.now(), ...(msg['cid'] === undefined ? {} : { cid: msg['cid'] }) }),
        )
      default:
        return error(client, 10000, 'Unknown event')
    }
  }

  const heartbeatTimer = setInterval(() => {
    const now = Date.now()
    for (const c of clients) {
      for (const sub of c.subs.values()) if (now - sub.lastSentMs >= HEARTBEAT_MS) sendChannel(c, sub, '"hb"')
    }
  }, HEARTBEAT_CHECK_MS)

  let serverId = 0
  return {
    streams: [''],
    accept: acceptOn(['', '/', '/ws/2'], (ws) => {
      const client: Client = { ws, flags: 0, seq: 0, subs: new Map() }
      clients.join(client, (raw) => onMessage(client, raw))
      serverId += 1
      send(
        client,
        JSON.stringify({
          event: 'info',
          version: 2,
          serverId: `00000000-0000-4000-8000-${String(serverId).padStart(12, '0')}`,
          platform: { status: 1 },
        }),
      )
    }),
    onStep: (result) => {
      for (const u of result.updates) {
        if (u.venue !== 'bitfinex') continue
        for (const c of clients) for (const sub of c.subs.values()) if (sub.book.pair === u.pair) update(c, sub)
      }
    },
    connections: clients.connections,
    messagesSent: clients.messagesSent,
    close: () => clearInterval(heartbeatTimer),
  }
}
