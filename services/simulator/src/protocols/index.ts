import { binance } from './binance.js'
import { bitfinex } from './bitfinex.js'
import { bitstamp } from './bitstamp.js'
import { bl3p } from './bl3p.js'
import { coinbase } from './coinbase.js'
import { gemini } from './gemini.js'
import { kraken } from './kraken.js'
import { okx } from './okx.js'
import type { SimulatedExchange } from './exchange.js'

export { coinbase, coinbaseProfile } from './coinbase.js'
export { bl3p, bl3pProfile } from './bl3p.js'
export { kraken, krakenProfile } from './kraken.js'
export { okx, okxExchange, okxProfile, type OkxOptions } from './okx.js'
export { gemini, geminiProfile } from './gemini.js'
export { bitstamp, bitstampProfile } from './bitstamp.js'
export { bitfinex, bitfinexProfile } from './bitfinex.js'
export { binance, binanceProfile } from './binance.js'
export { NOT_FOUND } from './exchange.js'
export type { SimulatedExchange, ExchangeServer, ExchangeContext, HttpReply } from './exchange.js'

/** Every simulated exchange; a new exchange is one file and one entry here. */
export const EXCHANGES: readonly SimulatedExchange[] = [
  coinbase,
  bl3p,
  kraken,
  bitstamp,
  binance,
  bitfinex,
  gemini,
  okx,
]
