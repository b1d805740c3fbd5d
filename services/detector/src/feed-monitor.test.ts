import { describe, expect, it } from 'vitest'
import type { Heartbeat } from '@arb/contracts'
import { feedMonitor } from './feed-monitor.js'

const T0 = 1_700_000_000_000

const hb = (over: Partial<Heartbeat>): Heartbeat => ({
  v: 1,
  service: 'ingestor',
  instance: 'i1',
  exchange: 'bl3p',
  startedAt: T0,
  ts: T0,
  status: 'ok',
  lastMessageTs: null,
  counters: {},
  ...over,
})

describe('feedMonitor', () => {
  it.each([
    ['never heard from', [], 0, 'disconnected'],
    ['an ok beat', [[0, hb({})]], 100, 'ok'],
    ['an ok beat 3 periods ago', [[0, hb({})]], 3000, 'ok'],
    ['no beat for more than 3 periods', [[0, hb({})]], 3001, 'disconnected'],
    ['a degraded beat', [[0, hb({ status: 'degraded' })]], 100, 'stale'],
    [
      'an ok replica next to a degraded one',
      [
        [0, hb({ status: 'degraded' })],
        [10, hb({ instance: 'i2' })],
      ],
      100,
      'ok',
    ],
    [
      'ok then degraded from the same instance',
      [
        [0, hb({})],
        [10, hb({ status: 'degraded' })],
      ],
      100,
      'stale',
    ],
    ['a beat for another exchange', [[0, hb({ exchange: 'coinbase' })]], 100, 'disconnected'],
    ['a detector heartbeat', [[0, hb({ service: 'detector' })]], 100, 'disconnected'],
    [
      'degraded with more resyncs than the beat before',
      [
        [0, hb({ counters: { resyncs: 1 } })],
        [10, hb({ status: 'degraded', counters: { resyncs: 2 } })],
      ],
      100,
      'resyncing',
    ],
    [
      'still degraded, no new resync',
      [
        [0, hb({ counters: { resyncs: 1 } })],
        [10, hb({ status: 'degraded', counters: { resyncs: 2 } })],
        [20, hb({ status: 'degraded', counters: { resyncs: 2 } })],
      ],
      100,
      'stale',
    ],
    [
      'a resync while another replica is ok',
      [
        [0, hb({ counters: { resyncs: 0 } })],
        [10, hb({ status: 'degraded', counters: { resyncs: 1 } })],
        [20, hb({ instance: 'i2' })],
      ],
      100,
      'ok',
    ],
  ] as const)('%s → %s', (_name, beats, at, expected) => {
    const m = feedMonitor(1000)
    for (const [t, beat] of beats) m.heard(beat, T0 + t)
    expect(m.statusOf('bl3p', T0 + at)).toBe(expected)
  })

  it('judges age by receipt time, not by the heartbeat’s own clock', () => {
    const m = feedMonitor(1000)
    m.heard(hb({ ts: T0 + 60_000 }), T0)
    expect(m.statusOf('bl3p', T0 + 3001)).toBe('disconnected')
  })
})
