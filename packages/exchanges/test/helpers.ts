import { loadFrames } from '@arb/testkit'
import type { FeedLogger } from '../src/index.js'

/** Frames of `fixtures/<exchange>/<name>.jsonl` (citations in the folder's SOURCES.md). */
export const fixture = (exchange: string, name: string): string[] =>
  loadFrames(new URL(`../fixtures/${exchange}/${name}.jsonl`, import.meta.url))

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly msg: string
  readonly [field: string]: unknown
}

/** A logger that keeps what it is told, so tests can assert on what the feed logged. */
export const captureLog = (): FeedLogger & { entries: LogEntry[]; find: (msg: string) => LogEntry[] } => {
  const entries: LogEntry[] = []
  const at =
    (level: LogEntry['level']) =>
    (obj: object, msg: string): void => {
      entries.push({ ...obj, level, msg })
    }
  return {
    entries,
    find: (msg) => entries.filter((e) => e.msg === msg),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  }
}
