import { bl3p } from './bl3p.js'
import { coinbase } from './coinbase.js'
import { kraken } from './kraken.js'
import type { SimulatedExchange } from './exchange.js'

export { coinbase, coinbaseProfile } from './coinbase.js'
export { bl3p, bl3pProfile, BL3P_NOT_FOUND } from './bl3p.js'
export { kraken, krakenProfile } from './kraken.js'
export type { SimulatedExchange, ExchangeServer, ExchangeContext, HttpReply } from './exchange.js'

/** Every simulated exchange; a new exchange is one file and one entry here. */
export const EXCHANGES: readonly SimulatedExchange[] = [coinbase, bl3p, kraken]
