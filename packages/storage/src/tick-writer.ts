import type pg from 'pg'
import type { Level, Tick } from '@arb/contracts'
import { copyFrom } from './copy-in.js'
import { WriteError } from './errors.js'
import { poolQueryTimeout, type Pool } from './pool.js'

/** A tick as stored: `seq` is required (the persister derives one when the exchange has none). */
export type StoredTick = Omit<Tick, 'seq'> & { readonly seq: string }

export interface TickWriter {
  /** Writes the ticks in one transaction; ticks already stored are skipped. Resolves with rows inserted. */
  write(ticks: readonly StoredTick[]): Promise<number>
  /**
   * An empty batch to fill as messages arrive: each tick is encoded when added, so the caller
   * holds bytes rather than thousands of parsed objects (which the GC would copy and promote).
   */
  batch(expectedRows?: number): TickBatch
  /** Writes a batch, like `write`; a failed batch can be written again. */
  writeBatch(batch: TickBatch): Promise<number>
}

// Named everywhere, so that a column a later migration adds does not shift the binary layout.
const COLUMN_LIST = 'ts, exchange, pair, seq, exchange_ts, bid_px, bid_sz, ask_px, ask_sz'
const COPY_TICKS = `COPY ticks (${COLUMN_LIST}) FROM STDIN (FORMAT binary)`
// One query string, so one implicit transaction: the staging table is emptied at its commit.
const COPY_STAGE_AND_INSERT = `COPY pg_temp.ticks_stage (${COLUMN_LIST}) FROM STDIN (FORMAT binary);
  INSERT INTO ticks (${COLUMN_LIST}) SELECT ${COLUMN_LIST} FROM pg_temp.ticks_stage
  ON CONFLICT (exchange, pair, seq, ts) DO NOTHING`
const UNIQUE_VIOLATION = '23505'
/** Batches that go straight to the staging path after one hit a duplicate: redeliveries come in runs. */
const STAGED_AFTER_CONFLICT = 16

/**
 * Writes ticks in PostgreSQL's binary COPY format, one transaction per batch, skipping ticks
 * already stored. Usually a plain `COPY ticks FROM STDIN`; when that hits the unique key (a
 * redelivery), the batch goes instead through a per-connection temporary staging table and
 * `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, and so do the next few batches. Each path is
 * a single query: under load every extra round trip waited tens of milliseconds behind the
 * NATS messages in the event loop.
 *
 * Measured on the development machine (10 levels a side, 5,000-row batches, this table and its
 * indexes), PostgreSQL + Node µs per row: unnest() of text array literals 40 + 9;
 * json_to_recordset 26 + 6; text COPY to staging 18 + 8 (printing floats is the Node cost);
 * binary COPY to staging 13 + 2; binary COPY straight into the table 9 + 2. Binary skips float
 * printing in Node and float parsing in PostgreSQL, which at 40 floats a row is most of both.
 */
export const tickWriter = (pool: Pool): TickWriter => {
  const staged = new WeakSet<object>()
  let stagedBatchesLeft = 0
  const timeoutMs = poolQueryTimeout(pool)

  const viaStaging = async (client: pg.PoolClient, data: Buffer): Promise<number> => {
    if (!staged.has(client)) {
      await client.query('CREATE TEMP TABLE IF NOT EXISTS ticks_stage (LIKE ticks) ON COMMIT DELETE ROWS')
      staged.add(client)
    }
    const tags = await copyFrom(client, COPY_STAGE_AND_INSERT, data, timeoutMs)
    return Number(/^INSERT \d+ (\d+)/.exec(tags[1] ?? '')?.[1] ?? 0)
  }

  const writeBatch = async (batch: TickBatch): Promise<number> => {
    if (batch.length === 0) return 0
    const data = batch.bytes()
    let client
    try {
      client = await pool.connect()
    } catch (cause) {
      throw new WriteError('ticks', batch.length, { cause })
    }
    let broken: Error | undefined
    try {
      if (stagedBatchesLeft > 0) {
        stagedBatchesLeft--
        return await viaStaging(client, data)
      }
      try {
        await copyFrom(client, COPY_TICKS, data, timeoutMs)
        return batch.length
      } catch (err) {
        if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err
        stagedBatchesLeft = STAGED_AFTER_CONFLICT
        return await viaStaging(client, data)
      }
    } catch (cause) {
      // A server error leaves the connection usable (the implicit transaction is gone); one
      // without an SQLSTATE is a broken connection, which is discarded rather than reused.
      if (!(cause as { code?: string }).code) broken = cause as Error
      throw new WriteError('ticks', batch.length, { cause })
    } finally {
      client.release(broken)
    }
  }

  return {
    batch: (expectedRows) => new TickBatch(expectedRows),
    writeBatch,
    write: (ticks) => {
      const b = new TickBatch(ticks.length)
      for (const t of ticks) b.add(t)
      return writeBatch(b)
    },
  }
}

const PG_EPOCH_MS = 946_684_800_000
const TWO_POW_32 = 4_294_967_296
const FLOAT8_OID = 701
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')
const HEADER_BYTES = SIGNATURE.length + 8
const COLUMNS = 9
// A 10-level tick takes about 640 bytes. The first buffer is capped so that the small batches
// of a quiet market do not each allocate megabytes; a full batch regrows it a few times.
const BYTES_PER_ROW_GUESS = 700
const MAX_INITIAL_ROWS = 1000

/**
 * Ticks in PostgreSQL's binary COPY format, columns as in COLUMN_LIST
 * (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4): timestamptz as
 * int64 microseconds since 2000-01-01, text as UTF-8, float8[] as a one-dimensional array of
 * big-endian doubles.
 */
export class TickBatch {
  private buf: Buffer
  private off = HEADER_BYTES
  private rows = 0
  private sealed: Buffer | undefined

  constructor(expectedRows = 1000) {
    const rows = Math.min(Math.max(1, expectedRows), MAX_INITIAL_ROWS)
    this.buf = Buffer.allocUnsafe(HEADER_BYTES + 2 + rows * BYTES_PER_ROW_GUESS)
    SIGNATURE.copy(this.buf, 0)
    this.buf.writeInt32BE(0, 11) // flags
    this.buf.writeInt32BE(0, 15) // header extension length
  }

  get length(): number {
    return this.rows
  }

  add(t: StoredTick): void {
    if (this.sealed) throw new Error('TickBatch: add() after bytes()')
    // Upper bound of the row: UTF-8 takes at most 3 bytes per UTF-16 unit, and every level is
    // one 12-byte element in each of two arrays.
    const text = 3 * (t.exchange.length + t.pair.length + t.seq.length)
    this.reserve(2 + 2 * 12 + 3 * 4 + text + 4 * 24 + 24 * (t.bids.length + t.asks.length))
    const start = this.off
    try {
      this.buf.writeInt16BE(COLUMNS, this.off)
      this.off += 2
      this.timestamp(t.receivedTs)
      this.text(t.exchange)
      this.text(t.pair)
      this.text(t.seq)
      if (t.exchangeTs === null) {
        this.buf.writeInt32BE(-1, this.off)
        this.off += 4
      } else this.timestamp(t.exchangeTs)
      this.column(t.bids, 0)
      this.column(t.bids, 1)
      this.column(t.asks, 0)
      this.column(t.asks, 1)
    } catch (err) {
      // All or nothing: half a row would make the whole batch unreadable to PostgreSQL.
      this.off = start
      throw err
    }
    this.rows++
  }

  /** The complete COPY input (header, rows, trailer); the batch is closed to further rows. */
  bytes(): Buffer {
    if (!this.sealed) {
      this.reserve(2)
      this.buf.writeInt16BE(-1, this.off)
      this.sealed = this.buf.subarray(0, this.off + 2)
    }
    return this.sealed
  }

  private timestamp(ms: number): void {
    const b = this.buf
    const o = this.off
    // Microseconds stay exact in a double until the year 2255; two 32-bit halves avoid a BigInt
    // per value.
    const us = Math.round((ms - PG_EPOCH_MS) * 1000)
    const hi = Math.floor(us / TWO_POW_32)
    b.writeInt32BE(8, o)
    b.writeInt32BE(hi, o + 4)
    b.writeUInt32BE(us - hi * TWO_POW_32, o + 8)
    this.off = o + 12
  }

  private text(s: string): void {
    const o = this.off
    const n = this.buf.write(s, o + 4, 'utf8')
    this.buf.writeInt32BE(n, o)
    this.off = o + 4 + n
  }

  private column(levels: readonly Level[], k: 0 | 1): void {
    const b = this.buf
    let o = this.off
    const n = levels.length
    if (n === 0) {
      // Zero dimensions: PostgreSQL's empty array.
      b.writeInt32BE(12, o)
      b.writeInt32BE(0, o + 4)
      b.writeInt32BE(0, o + 8)
      b.writeInt32BE(FLOAT8_OID, o + 12)
      this.off = o + 16
      return
    }
    b.writeInt32BE(20 + 12 * n, o)
    b.writeInt32BE(1, o + 4) // dimensions
    b.writeInt32BE(0, o + 8) // no nulls
    b.writeInt32BE(FLOAT8_OID, o + 12)
    b.writeInt32BE(n, o + 16)
    b.writeInt32BE(1, o + 20) // lower bound
    o += 24
    for (let i = 0; i < n; i++) {
      b.writeInt32BE(8, o)
      b.writeDoubleBE((levels[i] as Level)[k], o + 4)
      o += 12
    }
    this.off = o
  }

  private reserve(n: number): void {
    if (this.off + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n))
    this.buf.copy(next, 0, 0, this.off)
    this.buf = next
  }
}
