import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { ArbError, tickDecoder, type Signal } from '@arb/contracts'
import { createEngine, replayer, type EngineOptions } from '@arb/engine'

export interface ReplayCounts {
  /** Lines read, blank ones included. */
  lines: number
  ticks: number
  /** Lines skipped because they were not a valid tick. */
  invalid: number
  events: number
}

export interface ReplayIo {
  readonly input: Readable
  /** One event; awaited, so a slow stdout slows the reading. */
  readonly onEvent: (s: Signal) => void | Promise<void>
  /** One skipped line: its number (from 1) and why. */
  readonly onInvalid: (line: number, err: ArbError) => void
}

/**
 * Feeds tick JSON lines through a fresh engine in the ticks' own time (see `replayer`): the same
 * input always gives the same events, byte for byte. Every feed is taken as healthy (feed status
 * is not in the ticks); stale quotes still close signals, at the moment they went stale. Signals
 * open at the end of the input stay open: running out of input is not a feed going silent.
 */
export const runReplay = async (engine: Omit<EngineOptions, 'initialFeedStatus'>, io: ReplayIo) => {
  const r = replayer(createEngine(engine))
  const counts: ReplayCounts = { lines: 0, ticks: 0, invalid: 0, events: 0 }
  const lines = createInterface({ input: io.input, crlfDelay: Infinity })
  for await (const line of lines) {
    counts.lines++
    if (line.trim() === '') continue
    let tick
    try {
      tick = tickDecoder.decode(line)
    } catch (err) {
      counts.invalid++
      io.onInvalid(counts.lines, err instanceof ArbError ? err : new ArbError('ARB_ERR_INVALID_MESSAGE', String(err)))
      continue
    }
    counts.ticks++
    for (const s of r.onTick(tick)) {
      counts.events++
      await io.onEvent(s)
    }
  }
  return counts
}
