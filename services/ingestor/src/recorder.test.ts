import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { feedRecordDecoder, type FeedRecord, type RecordFrame } from '@arb/contracts'
import type { FeedLogger } from '@arb/exchanges'
import { basicIso, openRecording, recordingName } from './recorder.js'

const T0 = Date.parse('2026-05-30T10:15:00.123Z')

let dir: string | undefined
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

const logger = () => {
  const entries: { level: string; msg: string; [k: string]: unknown }[] = []
  const at = (level: string) => (obj: object, msg: string) => void entries.push({ ...obj, level, msg })
  const log: FeedLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  return { log, entries }
}

const read = (path: string): FeedRecord[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => feedRecordDecoder.decode(l))

const frame = (i: number): RecordFrame => ({
  v: 1,
  rec: 'frame',
  conn: 0,
  receivedTs: T0 + i,
  text: `{"channel":"heartbeat","n":${i}}`,
})

describe('openRecording', () => {
  it('names the file after exchange, start and instance, and writes valid records in order', async () => {
    dir = mkdtempSync(`${tmpdir()}/arb-rec-`)
    expect(basicIso(T0)).toBe('20260530T101500.123Z')
    expect(recordingName('kraken', T0, 'host/42 a')).toBe('kraken-20260530T101500.123Z-host_42_a.jsonl')
    const { log, entries } = logger()
    const rec = openRecording({
      dir: `${dir}/new`,
      exchange: 'kraken',
      pairs: ['BTC-EUR'],
      instance: 'i-1',
      log,
      now: () => T0,
    })
    expect(rec.path).toBe(`${dir}/new/kraken-20260530T101500.123Z-i-1.jsonl`)
    rec.record({ v: 1, rec: 'open', conn: 0, ts: T0, url: 'wss://user:secret@example.com/ws', pairs: ['BTC-EUR'] })
    rec.record(frame(1))
    rec.record({ v: 1, rec: 'snapshot', conn: 0, pair: 'BTC-EUR', receivedTs: T0 + 2, body: { bids: [['1', '2']] } })
    rec.record({ v: 1, rec: 'close', conn: 0, ts: T0 + 3, code: 1000, reason: 'shutdown' })
    await rec.close()
    rec.record(frame(4)) // after close: ignored
    expect(read(rec.path)).toEqual([
      { v: 1, rec: 'start', ts: T0, exchange: 'kraken', pairs: ['BTC-EUR'], instance: 'i-1' },
      { v: 1, rec: 'open', conn: 0, ts: T0, url: 'wss://user:***@example.com/ws', pairs: ['BTC-EUR'] },
      frame(1),
      { v: 1, rec: 'snapshot', conn: 0, pair: 'BTC-EUR', receivedTs: T0 + 2, body: { bids: [['1', '2']] } },
      { v: 1, rec: 'close', conn: 0, ts: T0 + 3, code: 1000, reason: 'shutdown' },
    ])
    expect(rec.stats).toMatchObject({ records: 5, dropped: 0 })
    expect(entries.find((e) => e.msg === 'recording closed')).toMatchObject({ path: rec.path, records: 5, dropped: 0 })
  })

  it('drops records instead of buffering without bound, counts them, and marks the hole in the file', async () => {
    dir = mkdtempSync(`${tmpdir()}/arb-rec-`)
    const { log, entries } = logger()
    const rec = openRecording({ dir, exchange: 'bl3p', pairs: ['BTC-EUR'], instance: 'i', log, maxBufferedBytes: 500 })
    // One synchronous burst: the disk cannot take any of it before the burst ends.
    for (let i = 0; i < 100; i++) rec.record(frame(i))
    const dropped = rec.stats.dropped
    expect(dropped).toBeGreaterThan(80)
    expect(rec.stats.records + dropped).toBe(101)
    expect(entries.filter((e) => e.msg === 'recording behind, record dropped')).toHaveLength(10)
    await new Promise((resolve) => setTimeout(resolve, 100))
    rec.record(frame(100))
    await rec.close()

    const records = read(rec.path)
    const written = 100 - dropped
    expect(records.slice(1, 1 + written)).toEqual([...Array(written).keys()].map(frame))
    expect(records.slice(1 + written)).toEqual([
      { v: 1, rec: 'dropped', ts: expect.any(Number), count: dropped },
      frame(100),
    ])
  })

  it('fails at start-up when the directory cannot be written', () => {
    dir = mkdtempSync(`${tmpdir()}/arb-rec-`)
    writeFileSync(`${dir}/file`, '')
    const { log } = logger()
    expect(() => openRecording({ dir: `${dir}/file`, exchange: 'kraken', pairs: [], instance: 'i', log })).toThrow(
      /EEXIST|ENOTDIR/,
    )
  })
})
