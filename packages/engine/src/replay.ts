import type { Signal, Tick } from '@arb/contracts'
import type { Engine } from './engine.js'

const NONE: readonly Signal[] = Object.freeze([])

/** An engine driven in the ticks' own time, for replays and backtests. */
export interface Replayer {
  /** Sweeps up to the tick's receivedTs, then feeds the tick; returns the events of both, in order. */
  onTick(tick: Tick): readonly Signal[]
  /** Sweeps up to `until` (the end of the data): closes what went stale by then; the rest stays open. */
  flush(until: number): readonly Signal[]
  readonly engine: Engine
}

/**
 * Drives an engine without a clock. The detector sweeps on a 250 ms wall-clock timer; a replay
 * instead sweeps at the exact moment each quote an open signal depends on became too old
 * (`engine.nextExpiry()`), before the first tick received at or after it. So a replay of the same
 * ticks always gives the same events, whatever the speed of the machine.
 */
export const replayer = (engine: Engine): Replayer => {
  const sweepUntil = (t: number, out: Signal[] | undefined): Signal[] | undefined => {
    for (let e = engine.nextExpiry(); e <= t; e = engine.nextExpiry()) {
      // Each sweep closes at least the signal whose quote expired at e, so this ends.
      for (const s of engine.sweep(e)) (out ??= []).push(s)
    }
    return out
  }
  return {
    engine,
    onTick(tick) {
      const swept = sweepUntil(tick.receivedTs, undefined)
      const events = engine.onTick(tick)
      if (swept === undefined) return events
      for (const s of events) swept.push(s)
      return swept
    },
    flush: (until) => sweepUntil(until, undefined) ?? NONE,
  }
}
