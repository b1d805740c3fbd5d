// Bitstamp WebSocket API v2 (https://www.bitstamp.net/websocket/v2/) and the REST order book
// (GET /api/v2/order_book/<pair>/), as captured in shared/exchange-samples/bitstamp.md. Only the
// public `diff_order_book_<pair>` channel, with the heartbeat; the book starts from REST.
import type { WebSocket } from 'ws'
import type { BookView, Level, LevelChange, VenueProfile } from '../market.js'
import { acceptOn, clientSet, defineExchange, type HttpReply, type StartExchange } from './exchange.js'
import { significantDigits, symbolIfQuotedIn } from './profile.js'
import { bestFirst, isRecord, parseJson, priceText, sizeText } from './wire.js'

export const bitstampProfile: VenueProfile = {
  id: 'bitstamp',
  // Entry-tier taker fee, unverified (third-party summary of bitstamp.net/fee_schedule).
  takerFee: 0.004,
  // `btceur`: lower case, no separator. Fiat quotes only, like the ingestor's pairs.
  symbol: symbolIfQuotedIn(['EUR', 'USD'], (base, quote) => `${base}${quote}`.toLowerCase()),
  alwaysLists: ['BTC-USD'],
  // The captures quote BTC and ETH to 0.01 and GALA/EUR (0.38) to 0.00001.
  priceDecimals: significantDigits({ digits: 5, minDecimals: 2 }),
  depth: 60,
  halfSpreadBps: 2,
  offsetBps: 1.5,
  levelGapBps: [0.5, 2.5],
  topSizeUsd: 3000,
}

const CHANNEL_PREFIX = 'diff_order_book_'

interface Client {
  readonly ws: WebSocket
  /** Channel names subscribed to. */
  readonly channels: Set<string>
}

interface Book {
  readonly view: BookView
  /** Epoch µs of the last change, strictly increasing: what diffs and the REST snapshot carry. */
  micros: number
}

export const bitstamp = defineExchange(bitstampProfile, (ctx) => startBitstamp(ctx))

const startBitstamp: StartExchange = ({ market, log, nowUs }) => {
  const books = new Map<string, Book>()
  for (const view of market.listings('bitstamp')) books.set(view.symbol, { view, micros: nowUs() })
  const clients = clientSet<Client>(log)
  const send = clients.send
  const event = (name: string, channel: string, data: unknown) => JSON.stringify({ event: name, channel, data })
  // `bts:error` with a null code is the shape seen for a malformed request; the subscription
  // error text is not from a capture.
  const error = (message: string) => event('bts:error', '', { code: null, message })

  const levels = (book: Book, side: Iterable<Pick<Level, 'price' | 'size'>>) =>
    Array.from(side, (l) => [priceText(book.view, l.price), sizeText(l.size)])
  const stamp = (micros: number) => ({ timestamp: String(Math.floor(micros / 1e6)), microtimestamp: String(micros) })

  // Best first on both sides, as in the captured diffs; field order as captured: data, channel, event.
  const diff = (book: Book, changes: readonly LevelChange[]) =>
    JSON.stringify({
      data: {
        ...stamp(book.micros),
        bids: levels(book, bestFirst(changes, 'bid')),
        asks: levels(book, bestFirst(changes, 'ask')),
      },
      channel: CHANNEL_PREFIX + book.view.symbol,
      event: 'data',
    })

  const onMessage = (client: Client, raw: string) => {
    const msg = parseJson(raw)
    if (!isRecord(msg)) return send(client, error('Incorrect JSON format.'))
    const name = msg['event']
    if (name === 'bts:heartbeat') return send(client, event('bts:heartbeat', '', { status: 'success' }))
    if (name !== 'bts:subscribe' && name !== 'bts:unsubscribe') return send(client, error('Invalid event.'))
    const channel = isRecord(msg['data']) ? msg['data']['channel'] : undefined
    const known = typeof channel === 'string' && channel.startsWith(CHANNEL_PREFIX)
    if (!known || !books.has(channel.slice(CHANNEL_PREFIX.length))) {
      return send(client, error(`Bad subscription string: ${String(channel)}.`))
    }
    if (name === 'bts:subscribe') {
      client.channels.add(channel)
      send(client, event('bts:subscription_succeeded', channel, {}))
    } else {
      client.channels.delete(channel)
      send(client, event('bts:unsubscription_succeeded', channel, {}))
    }
  }

  const orderBook = (rest: string): HttpReply | undefined => {
    const m = /^\/api\/v2\/order_book\/([a-z0-9]+)\/?$/.exec(rest)
    if (!m) return undefined
    const book = books.get(m[1]!)
    // Not a captured reply: Bitstamp's answer for an unknown pair was not found in any source.
    if (!book) return { status: 404, body: { status: 'error', reason: 'Not found' } }
    return {
      status: 200,
      body: { ...stamp(book.micros), bids: levels(book, book.view.bids), asks: levels(book, book.view.asks) },
    }
  }

  return {
    streams: [''],
    accept: acceptOn(['', '/'], (ws) => {
      const client: Client = { ws, channels: new Set() }
      clients.join(client, (raw) => onMessage(client, raw))
    }),
    // GET only (simulator.ts); query parameters such as `group` are accepted and ignored.
    http: (rest) => orderBook(rest),
    onStep: (result) => {
      for (const u of result.updates) {
        if (u.venue !== 'bitstamp') continue
        const view = market.book('bitstamp', u.pair)
        const book = view && books.get(view.symbol)
        if (!book) continue
        // Stamped whether or not anyone listens, so the REST snapshot always names its last change.
        book.micros = Math.max(nowUs(), book.micros + 1)
        const channel = CHANNEL_PREFIX + book.view.symbol
        clients.broadcast(
          (c) => c.channels.has(channel),
          () => diff(book, u.changes),
        )
      }
    },
    connections: clients.connections,
    messagesSent: clients.messagesSent,
    close: () => undefined,
  }
}
