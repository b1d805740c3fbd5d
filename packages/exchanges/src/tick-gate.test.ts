import { describe, expect, it } from 'vitest'
import { TICK_REFRESH_MS, TickGate } from './tick-gate.js'

describe('TickGate', () => {
  it('passes a changed top at once, an unchanged one only after TICK_REFRESH_MS', () => {
    const gate = new TickGate()
    const t0 = 1_700_000_000_000
    expect(gate.pass([[100, 1]], [[101, 1]], t0)).toBe(true)
    expect(gate.pass([[100, 1]], [[101, 1]], t0 + 10)).toBe(false)
    expect(gate.pass([[100, 2]], [[101, 1]], t0 + 20)).toBe(true)
    expect(gate.pass([[100, 2]], [[101, 1]], t0 + 20 + TICK_REFRESH_MS - 1)).toBe(false)
    expect(gate.pass([[100, 2]], [[101, 1]], t0 + 20 + TICK_REFRESH_MS)).toBe(true)
  })
})
