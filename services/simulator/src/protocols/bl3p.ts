// BL3P public WebSocket API v1: https://github.com/BitonicNL/bl3p-api/blob/master/docs/public_api/websocket.md
// (samples in shared/exchange-samples/bl3p.md). The URL picks market and channel; there is no
// subscribe, ack or heartbeat, and every orderbook message is the whole book.
import type { WebSocket } from 'ws'
import type { BookView, Level, VenueProfile } from '../market.js'
import { clientSet, defineExchange, NOT_FOUND, type StartExchange } from './exchange.js'
import { symbolIfQuotedIn } from './profile.js'

export const bl3pProfile: VenueProfile = {
  id: 'bl3p',
  // No official fee page was found; 0.25% is what third-party bots configure (bl3p.md).
  takerFee: 0.0025,
  // BL3P quotes in EUR only: BTC-EUR is market BTCEUR.
  symbol: symbolIfQuotedIn(['EUR'], (base, quote) => `${base}${quote}`),
  alwaysLists: [],
  // price_int is EUR × 1e5, so the grid is 0.00001 EUR.
  priceDecimals: () => 5,
  // The captured book carries 30 levels a side; spreads and gaps are wider than Coinbase's.
  depth: 30,
  halfSpreadBps: 10,
  offsetBps: 3,
  levelGapBps: [2, 8],
  topSizeUsd: 3000,
}

type Channel = 'orderbook' | 'trades'

interface Client {
  readonly ws: WebSocket
  readonly market: string
  readonly channel: Channel
}

export const bl3p = defineExchange(bl3pProfile, (ctx) => startBl3p(ctx))

const startBl3p: StartExchange = ({ market, log, nowUs }) => {
  const books = new Map<string, BookView>()
  for (const book of market.listings('bl3p')) books.set(book.symbol, book)
  const clients = clientSet<Client>(log)
  const broadcast = (symbol: string, channel: Channel, frame: () => string) =>
    clients.broadcast((c) => c.market === symbol && c.channel === channel, frame)
  const levels = (side: readonly Level[]) =>
    side.map((l) => ({ price_int: l.price, amount_int: l.size, count: l.orders }))
  const orderbook = (book: BookView) =>
    JSON.stringify({ marketplace: book.symbol, asks: levels(book.asks), bids: levels(book.bids) })

  const streams = [...books.keys()].flatMap((m) => [`/1/${m}/orderbook`, `/1/${m}/trades`])

  return {
    streams,
    accept: (ws, rest) => {
      const [version, symbol = '', channel, ...extra] = rest.split('/').filter(Boolean)
      const book = books.get(symbol)
      if (version !== '1' || !book || (channel !== 'orderbook' && channel !== 'trades') || extra.length > 0) {
        log.info({ path: rest }, 'unknown market or channel, closing')
        ws.close(NOT_FOUND, book ? `unknown channel ${String(channel)}` : `unknown market ${symbol}`)
        return
      }
      const client: Client = { ws, market: symbol, channel }
      clients.join(client)
      if (channel === 'orderbook') clients.send(client, orderbook(book))
    },
    onStep: (result) => {
      for (const u of result.updates) {
        if (u.venue !== 'bl3p') continue
        const book = market.book('bl3p', u.pair)
        if (book) broadcast(book.symbol, 'orderbook', () => orderbook(book))
      }
      for (const t of result.trades) {
        if (t.venue !== 'bl3p') continue
        const symbol = market.book('bl3p', t.pair)?.symbol
        if (!symbol) continue
        broadcast(symbol, 'trades', () =>
          JSON.stringify({
            date: Math.floor(nowUs() / 1e6),
            marketplace: symbol,
            price_int: t.price,
            type: t.side,
            amount_int: t.size,
          }),
        )
      }
    },
    connections: clients.connections,
    messagesSent: clients.messagesSent,
    close: () => undefined,
  }
}
