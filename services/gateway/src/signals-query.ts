import { EpochMs, SignalState, type Pair } from '@arb/contracts'
import { BadRequestError } from './errors.js'
import type { SignalsQuery } from './schemas.js'

/**
 * Pure parts of GET /signals: time and cursor parsing, and the parameterized SQL. Every value
 * reaches PostgreSQL as a bind parameter; only fixed fragments are concatenated.
 */

const EPOCH_MS_MIN = EpochMs.minimum ?? 0
const EPOCH_MS_MAX = EpochMs.maximum ?? Number.MAX_SAFE_INTEGER

// Date.parse rolls 2024-02-31 over to March 2 instead of failing, and PostgreSQL would reject
// the same text with a 500: check the calendar date first.
const isRealDate = (iso: string): boolean => {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso)
  if (m === null) return false
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const date = new Date(Date.UTC(y, mo - 1, d))
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d
}

/** Epoch ms from `from`/`to`: digits are epoch ms, anything else ISO 8601 (shape already checked by the schema). */
export const parseTime = (field: string, raw: string): number => {
  const ms = /^\d+$/.test(raw) ? Number(raw) : isRealDate(raw) ? Date.parse(raw) : Number.NaN
  if (Number.isNaN(ms)) throw new BadRequestError(field, `${field} is not a valid date: ${raw}`)
  // Same bounds as the EpochMs contract: catches epoch seconds passed as milliseconds.
  if (ms < EPOCH_MS_MIN || ms > EPOCH_MS_MAX) {
    throw new BadRequestError(field, `${field} must lie between 2000-01-01 and 2100-01-01 (epoch ms, not seconds)`)
  }
  return ms
}

/**
 * Position of the last row of a page. `ts` is PostgreSQL's own microsecond text of the row's
 * timestamp, so the keyset comparison is exact even for rows not written at whole milliseconds.
 */
export interface Cursor {
  readonly ts: string
  readonly id: string
  readonly state: SignalState
}

const CURSOR_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
const STATES: readonly string[] = SignalState.anyOf.map((s) => s.const)

export const encodeCursor = (c: Cursor): string =>
  Buffer.from(JSON.stringify([c.ts, c.id, c.state])).toString('base64url')

export const decodeCursor = (raw: string): Cursor => {
  const bad = () => new BadRequestError('cursor', 'cursor is malformed; pass back nextCursor unchanged')
  if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw bad()
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))
  } catch {
    throw bad()
  }
  if (!Array.isArray(value) || value.length !== 3) throw bad()
  const [ts, id, state] = value as unknown[]
  if (typeof ts !== 'string' || !CURSOR_TS.test(ts) || !isRealDate(ts) || Number.isNaN(Date.parse(ts))) throw bad()
  if (typeof id !== 'string' || id.length === 0 || id.length > 128 || id.includes('\u0000')) throw bad()
  if (typeof state !== 'string' || !STATES.includes(state)) throw bad()
  return { ts, id, state: state as SignalState }
}

export interface SignalsFilter {
  readonly pair?: Pair
  readonly exchange?: string
  readonly state?: SignalState
  readonly fromMs?: number
  readonly toMs?: number
  readonly limit: number
  readonly after?: Cursor
}

/** Validates what the schema cannot express (dates, their order, the cursor) and returns the filter. */
export const toFilter = (q: SignalsQuery): SignalsFilter => {
  const fromMs = q.from === undefined ? undefined : parseTime('from', q.from)
  const toMs = q.to === undefined ? undefined : parseTime('to', q.to)
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
    throw new BadRequestError('from', 'from must not be later than to')
  }
  return {
    ...(q.pair !== undefined ? { pair: q.pair } : {}),
    ...(q.exchange !== undefined ? { exchange: q.exchange } : {}),
    ...(q.state !== undefined ? { state: q.state } : {}),
    ...(fromMs !== undefined ? { fromMs } : {}),
    ...(toMs !== undefined ? { toMs } : {}),
    limit: q.limit,
    ...(q.cursor !== undefined ? { after: decodeCursor(q.cursor) } : {}),
  }
}

// The microsecond UTC text a cursor carries; parsed back by ::timestamptz without loss.
const CURSOR_TS_SQL = `to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

/**
 * Newest first, ties broken by (id, state) so the order is total and keyset pages neither
 * repeat nor skip rows. Fetches one row more than the page to learn whether another follows.
 */
export const signalsSql = (f: SignalsFilter): { text: string; values: unknown[] } => {
  const values: unknown[] = []
  const param = (v: unknown) => {
    values.push(v)
    return `$${values.length}`
  }
  const where: string[] = []
  if (f.pair !== undefined) where.push(`pair = ${param(f.pair)}`)
  if (f.exchange !== undefined) {
    const p = param(f.exchange)
    where.push(`(buy_exchange = ${p} OR sell_exchange = ${p})`)
  }
  if (f.state !== undefined) where.push(`state = ${param(f.state)}`)
  if (f.fromMs !== undefined) where.push(`ts >= ${param(new Date(f.fromMs).toISOString())}::timestamptz`)
  if (f.toMs !== undefined) where.push(`ts <= ${param(new Date(f.toMs).toISOString())}::timestamptz`)
  if (f.after !== undefined) {
    where.push(`(ts, id, state) < (${param(f.after.ts)}::timestamptz, ${param(f.after.id)}, ${param(f.after.state)})`)
  }
  const text =
    `SELECT payload, id, state, ${CURSOR_TS_SQL} AS cursor_ts FROM arb_signals` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ts DESC, id DESC, state DESC LIMIT ${param(f.limit + 1)}`
  return { text, values }
}

/**
 * A signal id as a bound value. PostgreSQL text cannot hold NUL (the driver would get an
 * encoding error, a 500), and no stored signal has one: the persister refuses them.
 */
export const checkSignalId = (id: string): string => {
  if (id.includes('\u0000')) throw new BadRequestError('id', 'id must not contain a NUL character')
  return id
}

/** Most events GET /signals/:id returns; the newest are kept. */
export const MAX_EVENTS = 1000

// Lifecycle order breaks ties between events of one signal stamped in the same millisecond.
export const signalEventsSql = (id: string): { text: string; values: unknown[] } => ({
  text:
    `SELECT payload FROM arb_signals WHERE id = $1 ` +
    `ORDER BY ts DESC, CASE state WHEN 'closed' THEN 2 WHEN 'updated' THEN 1 ELSE 0 END DESC LIMIT $2`,
  values: [id, MAX_EVENTS + 1],
})
