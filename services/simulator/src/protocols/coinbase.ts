// Coinbase Exchange WebSocket feed: https://docs.cdp.coinbase.com/exchange/websocket-feed/channels
// (samples in shared/exchange-samples/coinbase.md). Only the public market-data channels.
import type { WebSocket } from 'ws'
import type { BookView, LevelChange, Trade, VenueProfile } from '../market.js'
import { acceptOn, clientSet, defineExchange, type StartExchange } from './exchange.js'
import { significantDigits } from './profile.js'
import { isoMicros, isRecord, parseJson, priceText, sizesByPrice, sizeText, type SizesByPrice } from './wire.js'

export const coinbaseProfile: VenueProfile = {
  id: 'coinbase',
  // Base tier (help.coinbase.com "Exchange fees", $0–10K 30-day volume).
  takerFee: 0.006,
  symbol: (pair) => pair,
  // The demo's USD leg: Coinbase quotes BTC-USD whatever PAIRS says.
  alwaysLists: ['BTC-USD'],
  // BTC-EUR and ETH-EUR trade on a 0.01 grid; cheaper assets get more decimals, like quote_increment.
  priceDecimals: significantDigits({ digits: 5, minDecimals: 2 }),
  depth: 50,
  halfSpreadBps: 0.75,
  offsetBps: 0,
  levelGapBps: [0.2, 1.2],
  topSizeUsd: 5000,
}

/** level2_batch batches every 50 ms (channels page, "Level2 Batch"). */
const BATCH_MS = 50
const HEARTBEAT_MS = 1000

type Kind = 'ticker' | 'heartbeat' | 'level2' | 'level2_batch'
// level2_50 is the documented old name of level2_batch.
const CHANNELS: Readonly<Record<string, Kind>> = {
  ticker: 'ticker',
  heartbeat: 'heartbeat',
  level2: 'level2',
  level2_batch: 'level2_batch',
  level2_50: 'level2_batch',
}

interface Client {
  readonly ws: WebSocket
  /** Channel name as the client spelled it (echoed in the ack) → products. */
  readonly subs: Map<string, Set<string>>
  timer: NodeJS.Timeout | undefined
}

interface Product {
  readonly book: BookView
  /** The book as of the last level2_batch flush; batch subscribers get their snapshot from it. */
  readonly published: SizesByPrice
  readonly pending: Map<string, LevelChange>
  open: number
  high: number
  low: number
  volume24h: number
  volume30d: number
  lastTicker: string | undefined
}

/** A subscribe/unsubscribe the feed refuses; its message becomes the error frame's `reason`. */
class RequestError extends Error {
  override name = 'RequestError'
}

export const coinbase = defineExchange(coinbaseProfile, (ctx) => startCoinbase(ctx))

const startCoinbase: StartExchange = ({ market, log, nowUs, subscribeTimeoutMs }) => {
  const products = new Map<string, Product>()
  for (const book of market.listings('coinbase')) {
    const mid = ((book.bids[0]?.price ?? 0) + (book.asks[0]?.price ?? 0)) / 2
    // Start the rolling volumes at a plausible level rather than zero; trades add to them.
    const volume24h = (book.bids[0]?.size ?? 0) * 5000
    products.set(book.symbol, {
      book,
      published: sizesByPrice(book),
      pending: new Map(),
      open: mid,
      high: mid,
      low: mid,
      volume24h,
      volume30d: volume24h * 30,
      lastTicker: undefined,
    })
  }
  const clients = clientSet<Client>(log)
  const send = clients.send
  const wants = (client: Client, kind: Kind, product: string) => {
    for (const [name, set] of client.subs) if (CHANNELS[name] === kind && set.has(product)) return true
    return false
  }
  const broadcast = (kind: Kind, product: string, frame: () => string) =>
    clients.broadcast((c) => wants(c, kind, product), frame)

  const price = (p: Product, units: number) => priceText(p.book, units)
  const l2update = (id: string, p: Product, changes: Iterable<LevelChange>) =>
    JSON.stringify({
      type: 'l2update',
      product_id: id,
      changes: Array.from(changes, (c) => [c.side === 'bid' ? 'buy' : 'sell', price(p, c.price), sizeText(c.size)]),
      time: isoMicros(nowUs()),
    })
  const snapshot = (id: string, p: Product, batched: boolean) => {
    const side = (levels: Iterable<readonly [number, number]>) =>
      Array.from(levels, ([px, sz]) => [price(p, px), sizeText(sz)])
    const bids = batched
      ? [...p.published.bid].sort((a, b) => b[0] - a[0])
      : p.book.bids.map((l) => [l.price, l.size] as const)
    const asks = batched
      ? [...p.published.ask].sort((a, b) => a[0] - b[0])
      : p.book.asks.map((l) => [l.price, l.size] as const)
    return JSON.stringify({ type: 'snapshot', product_id: id, bids: side(bids), asks: side(asks) })
  }
  const ticker = (id: string, p: Product, t: Trade) => {
    const bid = p.book.bids[0]
    const ask = p.book.asks[0]
    return JSON.stringify({
      type: 'ticker',
      sequence: t.sequence,
      product_id: id,
      price: price(p, t.price),
      open_24h: price(p, Math.round(p.open)),
      volume_24h: sizeText(p.volume24h),
      low_24h: price(p, Math.round(p.low)),
      high_24h: price(p, Math.round(p.high)),
      volume_30d: sizeText(p.volume30d),
      best_bid: bid ? price(p, bid.price) : '0',
      best_bid_size: sizeText(bid?.size ?? 0),
      best_ask: ask ? price(p, ask.price) : '0',
      best_ask_size: sizeText(ask?.size ?? 0),
      side: t.side,
      time: isoMicros(nowUs()),
      trade_id: t.tradeId,
      last_size: sizeText(t.size),
    })
  }

  // Publishes what changed since the last flush, measured against what batch clients hold.
  const flush = () => {
    for (const [id, p] of products) {
      if (p.pending.size === 0) continue
      const changes: LevelChange[] = []
      for (const c of p.pending.values()) {
        const held = p.published[c.side]
        if ((held.get(c.price) ?? 0) === c.size) continue
        if (c.size === 0) held.delete(c.price)
        else held.set(c.price, c.size)
        changes.push(c)
      }
      p.pending.clear()
      if (changes.length > 0) broadcast('level2_batch', id, () => l2update(id, p, changes))
    }
  }
  const beat = () => {
    for (const [id, p] of products) {
      broadcast('heartbeat', id, () =>
        JSON.stringify({
          type: 'heartbeat',
          sequence: p.book.sequence,
          last_trade_id: p.book.lastTradeId,
          product_id: id,
          time: isoMicros(nowUs()),
        }),
      )
    }
  }
  const batchTimer = setInterval(flush, BATCH_MS)
  const heartbeatTimer = setInterval(beat, HEARTBEAT_MS)

  /** Channel → products a request names; throws the reason Coinbase would give. */
  const resolve = (msg: Record<string, unknown>, unsubscribe: boolean): [string, string[] | undefined][] => {
    const top = msg['product_ids']
    if (top !== undefined && !isStringArray(top)) throw new RequestError('product_ids must be an array of strings')
    const channels = msg['channels']
    if (!Array.isArray(channels) || channels.length === 0) throw new RequestError('channels must be a non-empty array')
    return channels.map((ch: unknown): [string, string[] | undefined] => {
      const name = typeof ch === 'string' ? ch : isRecord(ch) && typeof ch['name'] === 'string' ? ch['name'] : undefined
      if (name === undefined) throw new RequestError('channel must be a name or {name, product_ids}')
      if (!(name in CHANNELS)) throw new RequestError(`${name} is not a valid channel`)
      const own = isRecord(ch) ? ch['product_ids'] : undefined
      if (own !== undefined && !isStringArray(own)) throw new RequestError('product_ids must be an array of strings')
      const ids = own ?? top
      if (ids === undefined && !unsubscribe) throw new RequestError(`no product_ids for channel ${name}`)
      for (const id of ids ?? []) if (!products.has(id)) throw new RequestError(`${id} is not a valid product`)
      return [name, ids]
    })
  }

  const ack = (client: Client) =>
    JSON.stringify({
      type: 'subscriptions',
      channels: [...client.subs].map(([name, ids]) => ({ name, product_ids: [...ids] })),
    })

  const onMessage = (client: Client, raw: string) => {
    const msg = parseJson(raw)
    if (msg === undefined) {
      send(client, JSON.stringify({ type: 'error', message: 'Failed to parse request', reason: 'malformed JSON' }))
      return
    }
    const type = isRecord(msg) ? msg['type'] : undefined
    if (!isRecord(msg) || (type !== 'subscribe' && type !== 'unsubscribe')) {
      const reason = `${String(type)} is not a valid message type`
      send(client, JSON.stringify({ type: 'error', message: 'Failed to subscribe', reason }))
      return
    }
    let requested: [string, string[] | undefined][]
    try {
      requested = resolve(msg, type === 'unsubscribe')
    } catch (err) {
      if (!(err instanceof RequestError)) throw err
      const message = type === 'subscribe' ? 'Failed to subscribe' : 'Failed to unsubscribe'
      log.debug({ reason: err.message }, 'request rejected')
      send(client, JSON.stringify({ type: 'error', message, reason: err.message }))
      return
    }
    if (type === 'unsubscribe') {
      for (const [name, ids] of requested) {
        const set = client.subs.get(name)
        if (ids === undefined) client.subs.delete(name)
        else for (const id of ids) set?.delete(id)
        if (set?.size === 0) client.subs.delete(name)
      }
      send(client, ack(client))
      return
    }
    const added: [Kind, string][] = []
    for (const [name, ids] of requested) {
      const set = client.subs.get(name) ?? new Set<string>()
      client.subs.set(name, set)
      for (const id of ids ?? []) {
        if (set.has(id)) continue
        set.add(id)
        added.push([CHANNELS[name]!, id])
      }
    }
    clearTimeout(client.timer)
    client.timer = undefined
    log.debug({ subscriptions: Object.fromEntries([...client.subs].map(([n, s]) => [n, [...s]])) }, 'subscribed')
    send(client, ack(client))
    for (const [kind, id] of added) {
      const p = products.get(id)!
      if (kind === 'level2' || kind === 'level2_batch') send(client, snapshot(id, p, kind === 'level2_batch'))
      // Like the real feed, a new ticker subscriber gets the latest ticker straight away.
      if (kind === 'ticker' && p.lastTicker) send(client, p.lastTicker)
    }
  }

  return {
    streams: [''],
    accept: acceptOn(['', '/'], (ws) => {
      const client: Client = { ws, subs: new Map(), timer: undefined }
      client.timer = setTimeout(() => {
        log.info({ subscribeTimeoutMs }, 'no subscribe in time, closing')
        ws.close(4001, 'subscribe timeout')
      }, subscribeTimeoutMs)
      clients.join(
        client,
        (raw) => onMessage(client, raw),
        () => clearTimeout(client.timer),
      )
    }),
    onStep: (result) => {
      for (const u of result.updates) {
        if (u.venue !== 'coinbase') continue
        const p = products.get(u.pair)
        if (!p) continue
        for (const c of u.changes) p.pending.set(`${c.side}:${c.price}`, c)
        // Unbatched level2 (auth-only on the real feed) streams every step: the benchmark path.
        broadcast('level2', u.pair, () => l2update(u.pair, p, u.changes))
      }
      for (const t of result.trades) {
        if (t.venue !== 'coinbase') continue
        const p = products.get(t.pair)
        if (!p) continue
        p.high = Math.max(p.high, t.price)
        p.low = Math.min(p.low, t.price)
        p.volume24h += t.size
        p.volume30d += t.size
        p.lastTicker = ticker(t.pair, p, t)
        broadcast('ticker', t.pair, () => p.lastTicker!)
      }
    },
    connections: clients.connections,
    messagesSent: clients.messagesSent,
    close: () => {
      clearInterval(batchTimer)
      clearInterval(heartbeatTimer)
      for (const c of clients) clearTimeout(c.timer)
    },
  }
}
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')
