import { ConfigError, tickDecoder, type Pair, type Tick } from '@arb/contracts'
import {
  adapters,
  getAdapter,
  SessionDriver,
  singleConnection,
  UnknownExchangeError,
  type DriveCounters,
  type ExchangeAdapter,
} from '@arb/exchanges'
import { UsageError } from '@arb/observability'
import { resolvePairs } from './ingest.js'
import { classifyLine, readLines } from './input.js'

/**
 * `npm run normalize`: exchange frames (or a feed recording) in, the ticks the ingestor would
 * publish out, through the same adapter sessions driven the same way (`SessionDriver`), with every
 * problem on the side under a stable code. Frames are JSON lines as the exchange sent them; a line
 * that is a feed record (a JSON object with `rec`) is applied as such, so a REST snapshot can sit
 * between raw frames and a whole recording replays with its receive times.
 */

/** One problem, as a line on stderr. */
export interface LineProblem {
  readonly code: string
  /** 1-based line of the input. */
  readonly line: number
  readonly reason: string
  readonly excerpt: string
}

export interface NormalizeOptions {
  readonly adapter: ExchangeAdapter
  /** Pairs of the connection raw frames belong to. */
  readonly pairs: readonly Pair[]
  readonly input: NodeJS.ReadableStream
  /** receivedTs of the raw frame on line N is `ts + N - 1`; the clock when the line is read if undefined. */
  readonly ts?: number | undefined
  readonly now?: () => number
  readonly onTick: (tick: Tick) => Promise<void> | void
  readonly onProblem: (problem: LineProblem) => void
}

export interface NormalizeSummary extends Omit<DriveCounters, 'lastMessageTs'> {
  lines: number
  records: number
  invalidTicks: number
  problems: number
}

export interface NormalizeArgs {
  readonly exchange?: string | undefined
  readonly pairs?: string | undefined
  readonly ts?: string | undefined
}

/** The adapter, pairs and clock the command line asks for; UsageError (exit 2) when it cannot be run. */
export const normalizeArgs = (args: NormalizeArgs): Pick<NormalizeOptions, 'adapter' | 'pairs' | 'ts'> => {
  const known = Object.keys(adapters).join(', ')
  if (args.exchange === undefined) throw new UsageError(`--exchange is required; known exchanges: ${known}`)
  let adapter: ExchangeAdapter
  let pairs: Pair[]
  try {
    adapter = getAdapter(args.exchange)
    pairs = resolvePairs(adapter, args.pairs)
  } catch (err) {
    if (err instanceof UnknownExchangeError) throw new UsageError(err.message, { cause: err })
    if (err instanceof ConfigError) throw new UsageError(`--pairs: ${err.issues[0]?.message ?? ''}`, { cause: err })
    throw err
  }
  if (args.ts === undefined) return { adapter, pairs, ts: undefined }
  const ts = /^\d+$/.test(args.ts) ? Number(args.ts) : Date.parse(args.ts)
  if (!Number.isFinite(ts)) throw new UsageError(`--ts must be epoch milliseconds or an ISO time, got ${args.ts}`)
  return { adapter, pairs, ts }
}

const EXCERPT_CHARS = 120

export const runNormalize = async (o: NormalizeOptions): Promise<NormalizeSummary> => {
  const now = o.now ?? Date.now
  let line = 0
  let records = 0
  let invalidTicks = 0
  let problems = 0
  const out: Tick[] = []
  const problem = (p: Omit<LineProblem, 'line'>) => {
    problems++
    o.onProblem({ code: p.code, line, reason: p.reason, excerpt: p.excerpt })
  }
  const driver = new SessionDriver({
    adapter: o.adapter,
    pairs: o.pairs,
    onTicks: (ticks) => out.push(...ticks),
    onProblem: problem,
  })
  let rawChecked = false
  for await (const text of readLines(o.input)) {
    line++
    if (text.trim() === '') continue
    const input = classifyLine(text)
    if (input.kind === 'bad') {
      problem({ code: 'ARB_ERR_BAD_RECORD', reason: input.reason, excerpt: text.slice(0, EXCERPT_CHARS) })
      continue
    }
    if (input.kind === 'record') {
      records++
      const r = input.record
      if (r.rec === 'start' && r.exchange !== o.adapter.id) {
        throw new UsageError(`line ${line}: a ${r.exchange} recording, but --exchange ${o.adapter.id}`)
      }
      driver.apply(r)
    } else {
      if (!rawChecked && !singleConnection(o.adapter, o.pairs)) {
        throw new UsageError(
          `line ${line}: ${o.adapter.id} opens one connection per pair, so raw frames need exactly one pair (--pairs)`,
        )
      }
      rawChecked = true
      driver.frame(input.text, o.ts === undefined ? now() : o.ts + line - 1)
    }
    for (const tick of out.splice(0)) {
      // The ingestor publishes only ticks that pass the schema; say so rather than print one it would drop.
      if (tickDecoder.check(tick)) {
        await o.onTick(tick)
        continue
      }
      invalidTicks++
      let reason = 'invalid tick'
      try {
        tickDecoder.decode(JSON.stringify(tick))
      } catch (err) {
        reason = (err as Error).message
      }
      problem({ code: 'ARB_ERR_INVALID_MESSAGE', reason, excerpt: JSON.stringify(tick).slice(0, EXCERPT_CHARS) })
    }
  }
  const { lastMessageTs: _last, ...counters } = driver.counters
  return { lines: line, records, ...counters, invalidTicks, problems }
}
