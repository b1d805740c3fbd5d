import { parseConfig, SimulatorConfig, type Level } from '@arb/contracts'
import { createLogger } from '@arb/observability'
import { SIZE_DECIMALS, type BookView } from '../src/market.js'
import type { SimulatedExchange } from '../src/protocols/index.js'
import { startSimulator, type Simulator } from '../src/simulator.js'

/** Shared by the per-exchange simulator tests that run a real adapter against one protocol. */

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** One exchange's protocol on port 0, every 20 ms a step, no arbitrage window to race the checks. */
export const startOne = (exchange: SimulatedExchange, pairs: readonly string[]): Promise<Simulator> =>
  startSimulator({
    config: parseConfig(SimulatorConfig, {
      PORT: '0',
      TICK_MS: '20',
      PAIRS: pairs.join(','),
      OPPORTUNITY_EVERY_MS: '600000',
    }),
    log: createLogger({
      service: `simulator-${exchange.profile.id}-test`,
      level: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    }),
    exchanges: [exchange],
  })

/** Top 10 of the simulator's own book, as the Tick contract writes levels. */
export const topOf = (book: BookView): { bids: Level[]; asks: Level[] } => {
  const level = (l: { price: number; size: number }): Level => [
    l.price / 10 ** book.priceDecimals,
    l.size / 10 ** SIZE_DECIMALS,
  ]
  return { bids: book.bids.slice(0, 10).map(level), asks: book.asks.slice(0, 10).map(level) }
}
