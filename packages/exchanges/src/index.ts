import { ArbError } from '@arb/contracts'
import { binance } from './binance.js'
import { bitfinex } from './bitfinex.js'
import { bitstamp } from './bitstamp.js'
import { bl3p } from './bl3p.js'
import { coinbase } from './coinbase.js'
import { gemini } from './gemini.js'
import { kraken } from './kraken.js'
import { okx } from './okx.js'
import type { ExchangeAdapter } from './types.js'

export type { AdapterSession, Endpoint, ExchangeAdapter, FrameResult, Keepalive, ResyncCause } from './types.js'
export { BookSide, L2Book, isCrossed, levelsEqual, type Side } from './book.js'
export { FrameChain, fnv1a64 } from './seq.js'
export { TickGate, TICK_REFRESH_MS } from './tick-gate.js'
export {
  runFeed,
  backoffDelay,
  PING_INTERVAL_MS,
  HANDSHAKE_TIMEOUT_MS,
  MAX_PAYLOAD_BYTES,
  type Feed,
  type FeedCounters,
  type FeedLogger,
  type FeedOptions,
  type FeedRecorder,
  type FeedStatus,
  type ConnectionInfo,
} from './feed.js'
export {
  SessionDriver,
  applyFrame,
  applySnapshot,
  problemOf,
  singleConnection,
  PROBLEM_CODES,
  type DriveCounters,
  type DriveProblem,
  type DriverOptions,
  type InputOutcome,
  type ProblemCode,
} from './drive.js'
export { coinbase } from './coinbase.js'
export { binance } from './binance.js'
export { bl3p } from './bl3p.js'
export { kraken } from './kraken.js'
export { gemini } from './gemini.js'
export { bitstamp } from './bitstamp.js'
export { bitfinex } from './bitfinex.js'
export { okx } from './okx.js'

/** Every adapter by exchange id. Adding an exchange = one adapter file + one line here. */
export const adapters: Readonly<Record<string, ExchangeAdapter>> = Object.freeze({
  coinbase,
  bl3p,
  kraken,
  bitstamp,
  binance,
  bitfinex,
  gemini,
  okx,
})

/** Base-tier taker fee per exchange id (fractions); the detector's FEES env overrides any of them. */
export const defaultTakerFees = (): Record<string, number> =>
  Object.fromEntries(Object.values(adapters).map((a) => [a.id, a.takerFee]))

export class UnknownExchangeError extends ArbError {
  readonly known: readonly string[]
  constructor(id: string, known: readonly string[]) {
    super('ARB_ERR_UNKNOWN_EXCHANGE', `unknown exchange "${id}"; known exchanges: ${known.join(', ')}`)
    this.known = known
  }
}

/** The adapter for `id`; throws UnknownExchangeError (ARB_ERR_UNKNOWN_EXCHANGE) naming the known ids. */
export const getAdapter = (id: string): ExchangeAdapter => {
  const adapter = Object.hasOwn(adapters, id) ? adapters[id] : undefined
  if (adapter === undefined) throw new UnknownExchangeError(id, Object.keys(adapters))
  return adapter
}
