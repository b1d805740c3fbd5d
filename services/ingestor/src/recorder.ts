import { createWriteStream, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import type { FeedRecord, Pair } from '@arb/contracts'
import type { FeedLogger, FeedRecorder } from '@arb/exchanges'
import { redactUrl } from '@arb/observability'

/**
 * RECORD_DIR: one feed recording (feed-record.v1, JSON Lines) per run, written through a stream so
 * the feed never waits for the disk. Memory is bounded: while more than `maxBufferedBytes` wait to
 * be written, new records are dropped, counted and logged, and a `dropped` record marks the place
 * in the file once the disk catches up.
 */

export interface RecordingOptions {
  readonly dir: string
  readonly exchange: string
  readonly pairs: readonly Pair[]
  readonly instance: string
  readonly log: FeedLogger
  readonly maxBufferedBytes?: number
  readonly now?: () => number
}

export interface RecordingStats {
  records: number
  /** Records not written: the disk fell behind, or writing failed. */
  dropped: number
  bytes: number
}

export interface Recording {
  readonly path: string
  /** For FeedOptions.recorder. */
  readonly record: FeedRecorder
  readonly stats: Readonly<RecordingStats>
  /** Writes what is buffered and closes the file. */
  close(): Promise<void>
}

/** A few seconds of a busy feed; a single larger record (a Coinbase snapshot) still goes through an empty buffer. */
export const MAX_BUFFERED_BYTES = 32 * 1024 * 1024

// First few, then one in a thousand: a slow disk must not flood the log as well.
const worthLogging = (count: number): boolean => count <= 10 || count % 1000 === 0

/** `2026-05-30T10:15:00.123Z` → `20260530T101500.123Z`: ISO 8601 basic format, no `:` in file names. */
export const basicIso = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '')

/** `<exchange>-<start, ISO basic>-<instance>.jsonl`, the instance reduced to file-name-safe characters. */
export const recordingName = (exchange: string, startMs: number, instance: string): string =>
  `${exchange}-${basicIso(startMs)}-${instance.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`

/** Creates the file at once, so a directory that cannot be written fails at start-up. */
export const openRecording = (o: RecordingOptions): Recording => {
  const now = o.now ?? Date.now
  const max = o.maxBufferedBytes ?? MAX_BUFFERED_BYTES
  const started = now()
  mkdirSync(o.dir, { recursive: true })
  const path = join(o.dir, recordingName(o.exchange, started, o.instance))
  const out = createWriteStream('', { fd: openSync(path, 'wx'), highWaterMark: 1024 * 1024 })
  const stats: RecordingStats = { records: 0, dropped: 0, bytes: 0 }
  let failed = false
  let closed = false
  // Dropped since the last record written: the `dropped` record that marks the hole.
  let hole = 0

  out.on('error', (err) => {
    if (!failed) o.log.error({ err, path }, 'recording failed, no more records are written')
    failed = true
  })

  const put = (line: string): void => {
    out.write(line)
    stats.records++
    stats.bytes += line.length
  }

  const write = (r: FeedRecord): void => {
    if (closed) return
    const line = `${JSON.stringify(r.rec === 'open' ? { ...r, url: redactUrl(r.url) } : r)}\n`
    // Characters, not bytes: near enough for a bound on memory, and free.
    if (failed || (out.writableLength > 0 && out.writableLength + line.length > max)) {
      stats.dropped++
      hole++
      if (worthLogging(stats.dropped)) {
        o.log.warn(
          { path, dropped: stats.dropped, bufferedBytes: out.writableLength },
          'recording behind, record dropped',
        )
      }
      return
    }
    if (hole > 0) {
      put(`${JSON.stringify({ v: 1, rec: 'dropped', ts: now(), count: hole } satisfies FeedRecord)}\n`)
      hole = 0
    }
    put(line)
  }

  write({ v: 1, rec: 'start', ts: started, exchange: o.exchange, pairs: [...o.pairs], instance: o.instance })
  o.log.info({ path }, 'recording')

  return {
    path,
    record: write,
    stats,
    close: () => {
      if (closed) return Promise.resolve()
      if (hole > 0 && !failed) put(`${JSON.stringify({ v: 1, rec: 'dropped', ts: now(), count: hole })}\n`)
      closed = true
      return new Promise<void>((resolve) => {
        const done = () => {
          o.log.info({ path, ...stats }, 'recording closed')
          resolve()
        }
        if (failed) {
          out.destroy()
          return done()
        }
        out.end(done)
      })
    },
  }
}
