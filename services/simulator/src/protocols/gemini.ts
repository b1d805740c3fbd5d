// Gemini Market Data v2: https://docs.gemini.com/websocket/market-data/v2/level-2-data (samples in
// shared/exchange-samples/gemini.md). Only the `l2` subscription: the initial book with the last 50
// trades, then `l2_updates` diffs and `trade` messages, and a heartbeat every 5 s. v2 documents no ack
// and no error message, and the real feed sends none on subscribing.
import type { WebSocket } from 'ws'
import type { BookView, LevelChange, Trade, VenueProfile } from '../market.js'
import { acceptOn, clientSet, defineExchange, type StartExchange } from './exchange.js'
import { significantDigits, symbolIfQuotedIn } from './profile.js'
import { isRecord, parseJson, priceText, sizeText, withoutTrailingZeros } from './wire.js'

export const geminiProfile: VenueProfile = {
  id: 'gemini',
  // API fee schedule, 30-day volume $0 (gemini.com/fees/api-fee-schedule, 2022).
  takerFee: 0.004,
  // v2 symbols are BASE+QUOTE (BTC-EUR is BTCEUR); fiat quotes only, like the ingestor's pairs.
  symbol: symbolIfQuotedIn(['EUR', 'USD', 'GBP'], (base, quote) => `${base}${quote}`),
  alwaysLists: ['BTC-USD'],
  // BTCUSD and BTCEUR trade on a 0.01 grid; cheaper assets get more decimals.
  priceDecimals: significantDigits({ digits: 5, minDecimals: 2 }),
  depth: 50,
  halfSpreadBps: 1.25,
  offsetBps: 1,
  levelGapBps: [0.3, 1.5],
  topSizeUsd: 3000,
}

// Observed on the real feed (cryptofeed capture, 2021): a heartbeat every 5 s.
const HEARTBEAT_MS = 5000
// The initial response carries "the last 50 trades" (v2 about page).
const INITIAL_TRADES = 50
// No close code is documented: 1008 (policy violation) for a request the feed cannot serve.
const REFUSED = 1008

interface Client {
  readonly ws: WebSocket
  readonly symbols: Set<string>
}

interface Listing {
  readonly book: BookView
  /** Newest first, at most INITIAL_TRADES, as `trade` JSON. */
  readonly trades: string[]
}

export const gemini = defineExchange(geminiProfile, (ctx) => startGemini(ctx))

const startGemini: StartExchange = ({ market, log, nowUs }) => {
  const listings = new Map<string, Listing>()
  for (const book of market.listings('gemini')) listings.set(book.symbol, { book, trades: [] })
  const clients = clientSet<Client>(log)
  const broadcast = (symbol: string, frame: () => string) => clients.broadcast((c) => c.symbols.has(symbol), frame)

  // Gemini prints quantities without trailing zeros ("0.04", "3", "0").
  const quantity = (units: number) => withoutTrailingZeros(sizeText(units))
  const change = (book: BookView, c: LevelChange) => [
    c.side === 'bid' ? 'buy' : 'sell',
    priceText(book, c.price),
    quantity(c.size),
  ]

  // Bids best first, then asks best first, as the real initial response lists them.
  const initial = ({ book, trades }: Listing) =>
    `{"type":"l2_updates","symbol":${JSON.stringify(book.symbol)},"changes":${JSON.stringify([
      ...book.bids.map((l) => change(book, { side: 'bid', price: l.price, size: l.size })),
      ...book.asks.map((l) => change(book, { side: 'ask', price: l.price, size: l.size })),
    ])},"trades":[${trades.join(',')}],"auction_events":[]}`
  const trade = (book: BookView, t: Trade) =>
    JSON.stringify({
      type: 'trade',
      symbol: book.symbol,
      event_id: t.sequence,
      timestamp: Math.floor(nowUs() / 1000),
      price: priceText(book, t.price),
      quantity: quantity(t.size),
      side: t.side,
      tid: t.tradeId,
    })

  const refuse = (client: Client, reason: string) => {
    log.debug({ reason }, 'request refused')
    client.ws.close(REFUSED, reason.slice(0, 120))
  }

  const onMessage = (client: Client, raw: string) => {
    const msg = parseJson(raw)
    if (msg === undefined) return refuse(client, 'malformed JSON')
    const type = isRecord(msg) ? msg['type'] : undefined
    const subscriptions = isRecord(msg) ? msg['subscriptions'] : undefined
    if ((type !== 'subscribe' && type !== 'unsubscribe') || !Array.isArray(subscriptions)) {
      return refuse(client, `${String(type)} is not a subscribe or unsubscribe request`)
    }
    const symbols: string[] = []
    for (const sub of subscriptions as unknown[]) {
      if (!isRecord(sub) || sub['name'] !== 'l2') return refuse(client, 'only the l2 subscription is simulated')
      const list = sub['symbols']
      if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && listings.has(s))) {
        return refuse(client, `unknown symbol in ${JSON.stringify(list)}`)
      }
      symbols.push(...(list as string[]))
    }
    for (const symbol of symbols) {
      if (type === 'unsubscribe') {
        client.symbols.delete(symbol)
      } else if (!client.symbols.has(symbol)) {
        client.symbols.add(symbol)
        clients.send(client, initial(listings.get(symbol)!))
      }
    }
  }

  const heartbeatTimer = setInterval(() => {
    const frame = `{"type":"heartbeat","timestamp":${Math.floor(nowUs() / 1000)}}`
    for (const c of clients) if (c.symbols.size > 0) clients.send(c, frame)
  }, HEARTBEAT_MS)

  return {
    streams: [''],
    accept: acceptOn(['', '/', '/v2/marketdata', '/v2/marketdata/'], (ws) => {
      const client: Client = { ws, symbols: new Set() }
      clients.join(client, (raw) => onMessage(client, raw))
    }),
    onStep: (result) => {
      // The real feed sends a trade before the book change it causes (capture: ANKRUSD at 0.07946).
      for (const t of result.trades) {
        if (t.venue !== 'gemini') continue
        const listing = listings.get(market.book('gemini', t.pair)?.symbol ?? '')
        if (!listing) continue
        const text = trade(listing.book, t)
        listing.trades.unshift(text)
        listing.trades.length = Math.min(listing.trades.length, INITIAL_TRADES)
        broadcast(listing.book.symbol, () => text)
      }
      for (const u of result.updates) {
        if (u.venue !== 'gemini' || u.changes.length === 0) continue
        const book = market.book('gemini', u.pair)
        if (!book) continue
        broadcast(book.symbol, () =>
          JSON.stringify({ type: 'l2_updates', symbol: book.symbol, changes: u.changes.map((c) => change(book, c)) }),
        )
      }
    },
    connections: clients.connections,
    messagesSent: clients.messagesSent,
    close: () => clearInterval(heartbeatTimer),
  }
}
