import type { Signal } from '@arb/contracts'

/**
 * A valid Signal v1 event for tests that store or serve signals without caring about its
 * figures; `over` sets what a test does care about.
 */
export const sampleSignal = (id: string, state: Signal['state'], ts: number, over: Partial<Signal> = {}): Signal => ({
  v: 1,
  id,
  state,
  pair: 'BTC-EUR',
  buy: { exchange: 'bl3p', price: 30_000, fee: 0.0025 },
  sell: { exchange: 'coinbase', price: 30_100, fee: 0.006 },
  volume: 0.5,
  grossSpreadBps: 33.3,
  netProfit: 24.1,
  netProfitBps: 16.06,
  openedAt: 1_700_000_000_000,
  ts,
  ...(state === 'closed' ? { reason: 'spread closed' } : {}),
  ...over,
})
