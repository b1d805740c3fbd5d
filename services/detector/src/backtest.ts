import { splitPair, type Signal } from '@arb/contracts'
import { createEngine, replayer, type EngineOptions } from '@arb/engine'
import type { Pool } from '@arb/storage'
import { readTicks } from './tick-reader.js'

export interface BacktestOptions {
  readonly from: number
  readonly to: number
  readonly pairs?: readonly string[]
  readonly engine: Omit<EngineOptions, 'initialFeedStatus'>
  readonly windowRows?: number
  /** Every event, in order (the CLI's `--events`); awaited, so a slow consumer slows the read. */
  readonly onEvent?: (s: Signal) => void | Promise<void>
  /** Called after each window of ticks. */
  readonly onProgress?: (p: BacktestProgress) => void
}

export interface BacktestProgress {
  readonly ticks: number
  readonly events: number
  /** receivedTs of the last tick read. */
  readonly at: number
  /** Share of the time range done, 0..1. */
  readonly done: number
}

/** One exchange route of one pair: buy on `buy`, sell on `sell`. */
export interface RouteSummary {
  readonly pair: string
  readonly quote: string
  readonly buy: string
  readonly sell: string
  /** Signals opened. */
  readonly signals: number
  /** Of those, still open at the end of the range (excluded from the durations). */
  readonly openAtEnd: number
  /** Net profit of each signal as it opened, i.e. what acting on `opened` would have made: total and median. */
  readonly netProfitTotal: number
  readonly netProfitMedian: number
  /** Median of the peak net profit of the signals that closed. */
  readonly peakNetProfitMedian: number | null
  readonly durationMedianMs: number | null
  readonly durationMaxMs: number | null
  /** Signals whose size a balance capped when they opened. */
  readonly balanceCapped: number
}

export interface BacktestSummary {
  readonly from: number
  readonly to: number
  readonly ticks: number
  readonly events: number
  readonly elapsedMs: number
  readonly routes: readonly RouteSummary[]
}

const median = (xs: number[]): number => {
  const s = xs.sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

interface RouteStats {
  pair: string
  buy: string
  sell: string
  openProfits: number[]
  peaks: number[]
  durations: number[]
  open: Set<string>
  balanceCapped: number
}

/** Collects the per-route figures of the summary from the event stream. */
export const summarizer = () => {
  const routes = new Map<string, RouteStats>()
  return {
    add(s: Signal): void {
      const key = `${s.pair} ${s.buy.exchange} ${s.sell.exchange}`
      let r = routes.get(key)
      if (r === undefined) {
        r = {
          pair: s.pair,
          buy: s.buy.exchange,
          sell: s.sell.exchange,
          openProfits: [],
          peaks: [],
          durations: [],
          open: new Set(),
          balanceCapped: 0,
        }
        routes.set(key, r)
      }
      if (s.state === 'opened') {
        r.openProfits.push(s.netProfit)
        r.open.add(s.id)
        if (s.cappedBy === 'balance') r.balanceCapped++
      } else if (s.state === 'closed' && r.open.delete(s.id)) {
        r.durations.push(s.durationMs ?? s.ts - s.openedAt)
        r.peaks.push(s.peakNetProfit ?? s.netProfit)
      }
    },
    routes(): RouteSummary[] {
      return [...routes.values()]
        .sort((a, b) => a.pair.localeCompare(b.pair) || a.buy.localeCompare(b.buy) || a.sell.localeCompare(b.sell))
        .map((r) => ({
          pair: r.pair,
          quote: splitPair(r.pair).quote,
          buy: r.buy,
          sell: r.sell,
          signals: r.openProfits.length,
          openAtEnd: r.open.size,
          netProfitTotal: r.openProfits.reduce((a, b) => a + b, 0),
          netProfitMedian: median([...r.openProfits]),
          peakNetProfitMedian: r.peaks.length > 0 ? median([...r.peaks]) : null,
          durationMedianMs: r.durations.length > 0 ? median([...r.durations]) : null,
          durationMaxMs: r.durations.length > 0 ? Math.max(...r.durations) : null,
          balanceCapped: r.balanceCapped,
        }))
    },
  }
}

/**
 * Replays the ticks stored in `[from, to)` through a fresh engine in their own time (as the
 * replay CLI does: sweeps at the exact moment a quote went stale, every feed taken as healthy,
 * since feed status is not stored), then closes what went stale by `to`.
 */
export const runBacktest = async (pool: Pool, o: BacktestOptions): Promise<BacktestSummary> => {
  const started = performance.now()
  const r = replayer(createEngine(o.engine))
  const summary = summarizer()
  let ticks = 0
  let events = 0
  const emit = async (out: readonly Signal[]) => {
    for (const s of out) {
      events++
      summary.add(s)
      if (o.onEvent !== undefined) await o.onEvent(s)
    }
  }
  const read = readTicks(pool, {
    from: o.from,
    to: o.to,
    ...(o.pairs === undefined ? {} : { pairs: o.pairs }),
    ...(o.windowRows === undefined ? {} : { windowRows: o.windowRows }),
  })
  for await (const window of read) {
    for (const tick of window) {
      const out = r.onTick(tick)
      if (out.length > 0) await emit(out)
    }
    ticks += window.length
    const at = window[window.length - 1]?.receivedTs ?? o.from
    o.onProgress?.({ ticks, events, at, done: (at - o.from) / (o.to - o.from) })
  }
  await emit(r.flush(o.to))
  return {
    from: o.from,
    to: o.to,
    ticks,
    events,
    elapsedMs: performance.now() - started,
    routes: summary.routes(),
  }
}

const duration = (ms: number | null): string => {
  if (ms === null) return '-'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`
  return `${(ms / 3_600_000).toFixed(1)} h`
}

const money = (x: number | null) => (x === null ? '-' : x.toFixed(2))

/** The summary as a plain-text table: one row per route, then totals per quote currency. */
export const formatSummary = (s: BacktestSummary): string => {
  const header = [
    'pair',
    'buy → sell',
    'signals',
    'open at end',
    'net profit total',
    'net profit median',
    'peak median',
    'duration median',
    'duration max',
    'balance-capped',
  ]
  const pct = (n: number, of: number) => (of === 0 ? '-' : `${n} (${Math.round((100 * n) / of)}%)`)
  const rows = s.routes.map((r) => [
    r.pair,
    `${r.buy} → ${r.sell}`,
    String(r.signals),
    String(r.openAtEnd),
    `${money(r.netProfitTotal)} ${r.quote}`,
    `${money(r.netProfitMedian)} ${r.quote}`,
    r.peakNetProfitMedian === null ? '-' : `${money(r.peakNetProfitMedian)} ${r.quote}`,
    duration(r.durationMedianMs),
    duration(r.durationMaxMs),
    pct(r.balanceCapped, r.signals),
  ])
  const quotes = [...new Set(s.routes.map((r) => r.quote))].sort()
  for (const q of quotes) {
    const of = s.routes.filter((r) => r.quote === q)
    const signals = of.reduce((a, r) => a + r.signals, 0)
    const capped = of.reduce((a, r) => a + r.balanceCapped, 0)
    const maxDuration = of.reduce<number | null>(
      (m, r) => (r.durationMaxMs === null ? m : Math.max(m ?? 0, r.durationMaxMs)),
      null,
    )
    rows.push([
      `all ${q}`,
      '',
      String(signals),
      String(of.reduce((a, r) => a + r.openAtEnd, 0)),
      `${money(of.reduce((a, r) => a + r.netProfitTotal, 0))} ${q}`,
      '',
      '',
      '',
      duration(maxDuration),
      pct(capped, signals),
    ])
  }
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => (r[k] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, k) => (k < 2 ? c.padEnd(widths[k] ?? 0) : c.padStart(widths[k] ?? 0)))
      .join('  ')
      .trimEnd()
  const rate = s.elapsedMs > 0 ? Math.round((s.ticks / s.elapsedMs) * 1000) : 0
  return [
    `backtest ${new Date(s.from).toISOString()} → ${new Date(s.to).toISOString()}: ${s.ticks} ticks, ${s.events} events, ${(s.elapsedMs / 1000).toFixed(1)} s (${rate} ticks/s)`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...(rows.length === 0 ? ['(no signals)'] : rows.map(line)),
    '',
  ].join('\n')
}
