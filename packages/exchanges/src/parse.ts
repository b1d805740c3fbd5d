import type { Level } from '@arb/contracts'
import type { Side } from './book.js'
import type { FrameResult } from './types.js'

/** Helpers shared by the adapters' parsers. */

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

// The bounds of the contracts' EpochMs: a timestamp outside them is reported as absent, not published.
const MIN_EPOCH_MS = 946_684_800_000
const MAX_EPOCH_MS = 4_102_444_800_000

/** ISO-8601 text → epoch ms, or null when absent or not a usable date. */
export const isoToEpochMs = (v: unknown): number | null => {
  if (typeof v !== 'string') return null
  const ms = Date.parse(v)
  return Number.isFinite(ms) && ms >= MIN_EPOCH_MS && ms <= MAX_EPOCH_MS ? ms : null
}

/** Epoch ms → itself, or null when outside the contracts' EpochMs bounds. */
export const epochMs = (ms: number): number | null =>
  Number.isFinite(ms) && ms >= MIN_EPOCH_MS && ms <= MAX_EPOCH_MS ? ms : null

/** Decimal text → number; undefined unless finite and >= 0. */
export const decimal = (v: unknown): number | undefined => {
  if (typeof v !== 'string' || v === '') return undefined
  const n = Number(v)
  return Number.isFinite(n) && n >= 0 ? n : undefined
}

/**
 * `[["price", "size", …], …]` in decimal text → levels; undefined when any entry is unreadable or
 * has a zero price. Elements after the size (order ids, counts) are ignored.
 */
export const decimalLevels = (raw: unknown): Level[] | undefined => {
  if (!Array.isArray(raw)) return undefined
  const out: Level[] = []
  for (const entry of raw as unknown[]) {
    if (!Array.isArray(entry)) return undefined
    const price = decimal(entry[0])
    const size = decimal(entry[1])
    if (price === undefined || price === 0 || size === undefined) return undefined
    out.push([price, size])
  }
  return out
}

/**
 * `[["buy" | "sell", "price", "size"], …]` in decimal text (Coinbase `l2update`, Gemini
 * `l2_updates`) → `[side, price, size]`, buy = bid; undefined when any entry is unreadable or has a
 * zero price. `size` is the level's new total, 0 removing it.
 */
export const sideChanges = (raw: unknown): [Side, number, number][] | undefined => {
  if (!Array.isArray(raw)) return undefined
  const out: [Side, number, number][] = []
  for (const entry of raw as unknown[]) {
    if (!Array.isArray(entry)) return undefined
    const side = entry[0] === 'buy' ? 'bid' : entry[0] === 'sell' ? 'ask' : undefined
    const price = decimal(entry[1])
    const size = decimal(entry[2])
    if (side === undefined || price === undefined || price === 0 || size === undefined) return undefined
    out.push([side, price, size])
  }
  return out
}

export const CONTROL: FrameResult = Object.freeze({ kind: 'control' })

export const failure = (reason: string): FrameResult => ({ kind: 'error', reason })

/** Short, safe rendering of an untrusted value for a reason string. */
export const excerpt = (v: unknown, max = 60): string => {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v))
  return s.length > max ? `${s.slice(0, max)}…` : s
}
