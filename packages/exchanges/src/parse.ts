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

/** Decimal text → number; undefined unless finite and >= 0. */
export const decimal = (v: unknown): number | undefined => {
  if (typeof v !== 'string' || v === '') return undefined
  const n = Number(v)
  return Number.isFinite(n) && n >= 0 ? n : undefined
}

export const CONTROL: FrameResult = Object.freeze({ kind: 'control' })

export const failure = (reason: string): FrameResult => ({ kind: 'error', reason })

/** Short, safe rendering of an untrusted value for a reason string. */
export const excerpt = (v: unknown, max = 60): string => {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v))
  return s.length > max ? `${s.slice(0, max)}…` : s
}
