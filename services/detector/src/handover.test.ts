import { describe, expect, it } from 'vitest'
import type { Signal } from '@arb/contracts'
import { createHandover } from './handover.js'

const T0 = 1_795_564_800_000

const signal = (id: string, state: Signal['state'], at: number, netProfit = 1): Signal => ({
  v: 1,
  id,
  state,
  pair: 'BTC-EUR',
  buy: { exchange: 'coinbase', price: 100, fee: 0.006 },
  sell: { exchange: 'bl3p', price: 102, fee: 0.0025 },
  volume: 1,
  grossSpreadBps: 200,
  netProfit,
  netProfitBps: netProfit * 100,
  openedAt: T0,
  ts: T0 + at,
  cappedBy: 'depth',
  ...(state === 'closed' ? { reason: 'spread closed', durationMs: at } : { curve: [[1, netProfit]] }),
})

describe('handover', () => {
  it('owes nothing when the new leader tracks exactly what was announced', () => {
    const h = createHandover()
    h.announced(signal('a', 'opened', 0), T0)
    h.computed(signal('a', 'opened', 0), T0)
    h.computed(signal('b', 'opened', 0), T0)
    h.computed(signal('b', 'closed', 5), T0)
    h.announced(signal('b', 'opened', 0), T0)
    h.announced(signal('b', 'closed', 5), T0)
    expect(h.takeover(T0 + 100)).toEqual([])
  })

  it('publishes the close it computed while standing by for a signal the old leader left open', () => {
    const h = createHandover()
    h.announced(signal('a', 'opened', 0), T0)
    h.computed(signal('a', 'opened', 0), T0)
    h.computed(signal('a', 'closed', 50), T0 + 50)
    expect(h.takeover(T0 + 900)).toEqual([signal('a', 'closed', 50)])
  })

  it('closes a signal it never tracked with the figures last announced and their peak', () => {
    const h = createHandover()
    h.announced(signal('a', 'opened', 0, 1), T0)
    h.announced(signal('a', 'updated', 10, 3), T0)
    h.announced(signal('a', 'updated', 20, 2), T0)
    const [closed, ...rest] = h.takeover(T0 + 900)
    expect(rest).toEqual([])
    expect(closed).toMatchObject({
      id: 'a',
      state: 'closed',
      ts: T0 + 900,
      netProfit: 2,
      durationMs: 900,
      peakNetProfit: 3,
      peakNetProfitBps: 300,
      reason: 'leader changed: the new leader does not track this signal',
    })
    expect(closed?.curve).toBeUndefined()
  })

  it('opens what it holds open and nobody announced, with the original id, ts and latest figures', () => {
    const h = createHandover()
    h.computed(signal('b', 'opened', 0), T0)
    h.computed(signal('b', 'updated', 10, 2), T0)
    expect(h.takeover(T0 + 900)).toEqual([signal('b', 'opened', 0), signal('b', 'updated', 10, 2)])
  })

  it('never republishes a signal announced closed, and retires its id', () => {
    const h = createHandover()
    h.computed(signal('c', 'opened', 0), T0)
    h.announced(signal('c', 'opened', 0), T0)
    h.announced(signal('c', 'closed', 30), T0)
    expect(h.takeover(T0 + 900)).toEqual([])
    expect(h.isRetired('c')).toBe(true)
    expect(h.isRetired('a')).toBe(false)
  })

  it('forgets closes and retired ids after the keep period', () => {
    const h = createHandover(1000)
    h.computed(signal('a', 'opened', 0), T0)
    h.computed(signal('a', 'closed', 1), T0)
    h.announced(signal('b', 'closed', 1), T0)
    h.computed(signal('x', 'opened', 0), T0 + 5000)
    h.computed(signal('x', 'closed', 1), T0 + 5000)
    h.announced(signal('y', 'closed', 1), T0 + 5000)
    expect(h.size).toMatchObject({ closes: 1, retired: 1, open: 0 })
  })
})
