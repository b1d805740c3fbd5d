import type pg from 'pg'
import type { Level, Tick } from '@arb/contracts'
import type { Pool } from '@arb/storage'

/**
 * Rows a window of ticks aims at: the reader's memory bound. A 10-level tick is about 1.5 KB in JS;
 * windows small enough to die young in V8's nursery kept the backtest at ~200 MB RSS where 20,000-row
 * windows took 600 MB, at the same speed.
 */
export const DEFAULT_WINDOW_ROWS = 2500
const FIRST_WINDOW_MS = 1000
/** A window changes by at most this factor from one read to the next. */
const MAX_GROWTH = 4

const PAIR = /^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$/

export interface ReadTicksOptions {
  /** Epoch ms, inclusive. */
  readonly from: number
  /** Epoch ms, exclusive. */
  readonly to: number
  /** Pairs to read; default every pair in the table. */
  readonly pairs?: readonly string[]
  readonly windowRows?: number
}

/**
 * Streams stored ticks in `[from, to)` ordered by (ts, exchange, pair, seq), as windows of about
 * `windowRows` ticks: bounded memory whatever the range. `ticks` has no index on `ts` alone, so
 * each window is read as `pair = ANY(pairs) AND ts in [a, b)`, which the (pair, ts) index answers
 * (and a hypertable prunes to the chunks of that time). A window's width adapts to the row count
 * of the one before, and the next window is already being read (on a second connection) while the
 * caller works through the current one. Rows come as binary COPY, so no float is printed by
 * PostgreSQL or parsed from text by Node.
 */
export async function* readTicks(pool: Pool, o: ReadTicksOptions): AsyncGenerator<Tick[]> {
  const pairs = o.pairs ?? (await listPairs(pool))
  for (const p of pairs) if (!PAIR.test(p)) throw new RangeError(`not a pair: ${JSON.stringify(p)}`)
  if (pairs.length === 0 || !(o.from < o.to)) return
  const target = o.windowRows ?? DEFAULT_WINDOW_ROWS
  let a = o.from
  let b = Math.min(o.to, a + FIRST_WINDOW_MS)
  let pending: Promise<Tick[]> | undefined = readWindow(pool, pairs, a, b)
  while (pending !== undefined) {
    const rows: Tick[] = await pending
    const ratio = rows.length === 0 ? MAX_GROWTH : target / rows.length
    const span = Math.max(1, Math.round((b - a) * Math.min(MAX_GROWTH, Math.max(1 / MAX_GROWTH, ratio))))
    a = b
    b = Math.min(o.to, a + span)
    pending = a < o.to ? readWindow(pool, pairs, a, b) : undefined
    // Unhandled until awaited: keep a failure of the read ahead from crashing the process meanwhile.
    pending?.catch(() => undefined)
    if (rows.length > 0) yield rows
  }
}

/** Every pair in `ticks`, by a loose scan of the (pair, ts) index: one probe per pair, not a table scan. */
export const listPairs = async (pool: Pool): Promise<string[]> => {
  const r = await pool.query<{ pair: string }>(`
    WITH RECURSIVE p AS (
      SELECT min(pair) AS pair FROM ticks
      UNION ALL
      SELECT (SELECT min(pair) FROM ticks WHERE pair > p.pair) FROM p WHERE p.pair IS NOT NULL
    )
    SELECT pair FROM p WHERE pair IS NOT NULL`)
  return r.rows.map((x) => x.pair)
}

const iso = (ms: number) => new Date(ms).toISOString()

// COPY takes no parameters: the literals are ISO timestamps we format and pairs checked against PAIR.
const windowSql = (pairs: readonly string[], a: number, b: number) => `
  COPY (SELECT ts, exchange, pair, seq, exchange_ts, bid_px, bid_sz, ask_px, ask_sz
          FROM ticks
         WHERE pair = ANY(ARRAY[${pairs.map((p) => `'${p}'`).join(',')}]::text[])
           AND ts >= '${iso(a)}' AND ts < '${iso(b)}'
         ORDER BY ts, exchange, pair, seq) TO STDOUT (FORMAT binary)`

const readWindow = async (pool: Pool, pairs: readonly string[], a: number, b: number): Promise<Tick[]> => {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    return await copyOut(client, windowSql(pairs, a, b))
  } catch (err) {
    // Without an SQLSTATE the connection itself failed: do not give it back to the pool.
    if (!(err as { code?: string }).code) broken = err as Error
    throw err
  } finally {
    client.release(broken)
  }
}

/**
 * A `COPY ... TO STDOUT (FORMAT binary)` as a pg Submittable (the protocol pg-copy-streams uses):
 * pg hands each CopyData message's bytes to handleCopyData, and they are decoded at once.
 */
class CopyOutTicks {
  readonly text: string
  readonly rows: Tick[] = []
  private readonly decoder = new TickRowDecoder(this.rows)
  private failed = false
  private settle!: { resolve: (rows: Tick[]) => void; reject: (err: unknown) => void }
  readonly done: Promise<Tick[]>

  constructor(text: string) {
    this.text = text
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }))
  }

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text)
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    try {
      this.decoder.push(msg.chunk)
    } catch (err) {
      this.failed = true
      this.settle.reject(err)
    }
  }

  handleError(err: unknown): void {
    this.failed = true
    this.settle.reject(err)
  }

  handleReadyForQuery(): void {
    if (!this.failed) this.settle.resolve(this.rows)
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
}

const copyOut = (client: pg.ClientBase, text: string): Promise<Tick[]> => {
  const q = new CopyOutTicks(text)
  // pg's typings only know QueryConfig; at run time it accepts any Submittable.
  void (client.query as unknown as (s: CopyOutTicks) => unknown)(q)
  return q.done
}

const PG_EPOCH_MS = 946_684_800_000
const TWO_POW_32 = 4_294_967_296
const HEADER_BYTES = 19 // 11-byte signature, flags, header extension length
const COLUMNS = 9

/**
 * Decodes rows of PostgreSQL's binary COPY format
 * (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4) with the columns of
 * `windowSql` into Ticks. PostgreSQL sends one row per CopyData message (the header rides with
 * the first), but a row split across messages is still put back together.
 */
export class TickRowDecoder {
  private headerDone = false
  private rest: Buffer | undefined
  private ended = false
  // Prices of the side being decoded; sizes are zipped onto them as they are read.
  private prices = new Float64Array(16)
  private readonly out: Tick[]

  constructor(out: Tick[]) {
    this.out = out
  }

  push(chunk: Buffer): void {
    const buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk])
    this.rest = undefined
    let off = 0
    if (!this.headerDone) {
      if (buf.length < HEADER_BYTES) {
        this.rest = Buffer.from(buf)
        return
      }
      if (buf.toString('latin1', 0, 11) !== 'PGCOPY\n\xff\r\n\0') throw new Error('not a binary COPY stream')
      off = HEADER_BYTES + buf.readInt32BE(15)
      this.headerDone = true
    }
    while (off < buf.length && !this.ended) {
      const next = this.row(buf, off)
      if (next < 0) break
      off = next
    }
    // Copied: pg reuses the buffer the chunk is a view of.
    if (off < buf.length && !this.ended) this.rest = Buffer.from(buf.subarray(off))
  }

  /** Decodes the row at `off`; returns the offset after it, or -1 when the buffer ends inside it. */
  private row(b: Buffer, off: number): number {
    if (off + 2 > b.length) return -1
    const fields = b.readInt16BE(off)
    if (fields === -1) {
      this.ended = true
      return off + 2
    }
    if (fields !== COLUMNS) throw new Error(`binary COPY row with ${fields} columns, expected ${COLUMNS}`)
    // Check the row is complete before decoding anything (field lengths chain through it).
    let o = off + 2
    for (let f = 0; f < COLUMNS; f++) {
      if (o + 4 > b.length) return -1
      const len = b.readInt32BE(o)
      o += 4 + (len > 0 ? len : 0)
    }
    if (o > b.length) return -1
    // A DataView reads big-endian doubles without Buffer's byte-by-byte copy.
    this.view = new DataView(b.buffer, b.byteOffset, b.length)
    o = off + 2
    const receivedTs = this.ts(b, o + 4)
    o += 12
    let len = b.readInt32BE(o)
    const exchange = b.toString('utf8', o + 4, o + 4 + len)
    o += 4 + len
    len = b.readInt32BE(o)
    const pair = b.toString('utf8', o + 4, o + 4 + len)
    o += 4 + len
    len = b.readInt32BE(o)
    const seq = b.toString('utf8', o + 4, o + 4 + len)
    o += 4 + len
    len = b.readInt32BE(o)
    const exchangeTs = len < 0 ? null : this.ts(b, o + 4)
    o += 4 + (len > 0 ? len : 0)
    const bidPx = o
    o = skip(b, o)
    const bids = this.levels(b, bidPx, o)
    o = skip(b, o)
    const askPx = o
    o = skip(b, o)
    const asks = this.levels(b, askPx, o)
    o = skip(b, o)
    this.out.push({ v: 1, exchange, pair, seq, exchangeTs, receivedTs, bids, asks })
    return o
  }

  /** timestamptz: int64 microseconds since 2000-01-01, read as two halves (no BigInt per value). */
  private ts(b: Buffer, o: number): number {
    return (b.readInt32BE(o) * TWO_POW_32 + b.readUInt32BE(o + 4)) / 1000 + PG_EPOCH_MS
  }

  /** Zips the float8[] at `pxOff` (prices) with the one at `szOff` (sizes) into levels. */
  private levels(b: Buffer, pxOff: number, szOff: number): Level[] {
    const n = this.floats(b, pxOff, true)
    const m = this.floats(b, szOff, false)
    if (m !== n) throw new Error(`price and size arrays differ in length (${n} and ${m})`)
    return this.zipped
  }

  private zipped: Level[] = []
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0))

  /** Reads a one-dimensional float8[] (column length at `o`); prices go to the scratch array, sizes are zipped. */
  private floats(b: Buffer, o: number, prices: boolean): number {
    const ndim = b.readInt32BE(o + 4)
    if (ndim === 0) {
      if (!prices) this.zipped = []
      return 0
    }
    const n = b.readInt32BE(o + 16)
    const v = this.view
    let p = o + 28
    if (prices) {
      if (this.prices.length < n) this.prices = new Float64Array(n * 2)
      const px = this.prices
      for (let i = 0; i < n; i++, p += 12) px[i] = v.getFloat64(p)
      return n
    }
    const px = this.prices
    const levels: Level[] = []
    for (let i = 0; i < n; i++, p += 12) levels.push([px[i] as number, v.getFloat64(p)])
    this.zipped = levels
    return n
  }
}

/** The offset after the field whose length is at `o`. */
const skip = (b: Buffer, o: number): number => {
  const len = b.readInt32BE(o)
  return o + 4 + (len > 0 ? len : 0)
}
