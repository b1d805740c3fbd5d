import type { Signal } from '@arb/contracts'

/**
 * How long the closes a standby computed, and the ids announced closed, are remembered: far longer
 * than the lease TTL and the time two replicas' engines can disagree about a close (a quote's age
 * plus a sweep), yet bounded at high signal rates (thousands of closes a second in the benchmark).
 */
const DEFAULT_KEEP_MS = 60_000
/** And at most this many of each, oldest dropped first. */
const MAX_KEPT = 100_000

interface Announced {
  last: Signal
  peakNetProfit: number
  peakNetProfitBps: number
}

export interface Handover {
  /** An event seen on arb.signals (from the leader, or this instance's own publish). */
  announced(s: Signal, at: number): void
  /** An event this instance's engine computed, published or not. */
  computed(s: Signal, at: number): void
  /** True once anyone announced the signal closed: nothing more may be published for it. */
  isRetired(id: string): boolean
  /**
   * What a new leader publishes before anything else, so consumers see every signal the old
   * leader left open closed exactly once, and every signal this engine holds open opened:
   * - announced open but not open here: the close this engine computed for it while standing by,
   *   or, when it never tracked it (it started later), a close stamped `now` with the figures
   *   last announced;
   * - open here but never announced: its `opened` (and latest `updated`) as computed, ids and ts
   *   unchanged, so JetStream de-duplicates them against anything the old leader did get out.
   */
  takeover(now: number): Signal[]
  readonly size: Readonly<{ announced: number; open: number; closes: number; retired: number }>
}

/** Bookkeeping that lets a standby detector take over from a leader without losing or repeating a lifecycle event. */
export const createHandover = (keepMs = DEFAULT_KEEP_MS): Handover => {
  const announced = new Map<string, Announced>()
  const open = new Map<string, { opened: Signal; last: Signal }>()
  // Insertion-ordered by time, so pruning only looks at the front.
  const closes = new Map<string, { at: number; event: Signal }>()
  const retired = new Map<string, number>()

  const prune = <T>(m: Map<string, T>, at: number, time: (v: T) => number) => {
    for (const [k, v] of m) {
      if (at - time(v) <= keepMs && m.size <= MAX_KEPT) break
      m.delete(k)
    }
  }

  return {
    announced(s, at) {
      if (s.state === 'closed') {
        announced.delete(s.id)
        // Only a close nobody announced is ever published by a takeover. Forgetting the rest at once
        // keeps a leader's own closes (thousands a second at full load) from living 60 s in the old
        // generation: every close it publishes is announced right after it is computed.
        closes.delete(s.id)
        retired.delete(s.id)
        retired.set(s.id, at)
        prune(retired, at, (t) => t)
        return
      }
      const a = announced.get(s.id)
      if (a === undefined) {
        announced.set(s.id, { last: s, peakNetProfit: s.netProfit, peakNetProfitBps: s.netProfitBps })
        return
      }
      a.last = s
      a.peakNetProfit = Math.max(a.peakNetProfit, s.netProfit)
      a.peakNetProfitBps = Math.max(a.peakNetProfitBps, s.netProfitBps)
    },
    computed(s, at) {
      if (s.state === 'opened') open.set(s.id, { opened: s, last: s })
      else if (s.state === 'updated') {
        const o = open.get(s.id)
        if (o !== undefined) o.last = s
      } else {
        open.delete(s.id)
        closes.set(s.id, { at, event: s })
        prune(closes, at, (c) => c.at)
      }
    },
    isRetired: (id) => retired.has(id),
    takeover(now) {
      const out: Signal[] = []
      for (const [id, a] of announced) {
        if (open.has(id)) continue
        const computed = closes.get(id)?.event
        if (computed !== undefined) {
          out.push(computed)
          continue
        }
        const { curve: _curve, ...figures } = a.last
        const ts = Math.max(now, a.last.ts + 1)
        out.push({
          ...figures,
          state: 'closed',
          ts,
          reason: 'leader changed: the new leader does not track this signal',
          durationMs: ts - a.last.openedAt,
          peakNetProfit: a.peakNetProfit,
          peakNetProfitBps: a.peakNetProfitBps,
        })
      }
      for (const [id, o] of open) {
        if (announced.has(id) || retired.has(id)) continue
        out.push(o.opened)
        if (o.last !== o.opened) out.push(o.last)
      }
      return out
    },
    get size() {
      return { announced: announced.size, open: open.size, closes: closes.size, retired: retired.size }
    },
  }
}
