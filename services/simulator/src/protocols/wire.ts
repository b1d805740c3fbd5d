// Text the exchanges write and JSON they read, where several do it alike; what only one does stays in its file.
import { SIZE_DECIMALS, toDecimalString, type BookView, type LevelChange, type Side } from '../market.js'

/** Every decimal of the book's price grid (`"92596.40"`). */
export const priceText = (book: BookView, units: number): string => toDecimalString(units, book.priceDecimals)

/** All eight decimals (`"0.05000000"`). */
export const sizeText = (units: number): string => toDecimalString(units, SIZE_DECIMALS)

/** Decimal text as a JSON number prints it (`"92585"`, `"0.05"`), for feeds that send it so. */
export const withoutTrailingZeros = (text: string): string =>
  text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text

/** `2022-08-04T15:25:05.010758Z`: ISO 8601 with microseconds, as Coinbase writes `time`. */
export const isoMicros = (epochUs: number): string => {
  const ms = Math.floor(epochUs / 1000)
  const micros = String(Math.floor(epochUs) % 1000).padStart(3, '0')
  return `${new Date(ms).toISOString().slice(0, -1)}${micros}Z`
}

/** One side of a step's changes, best first (bids highest, asks lowest), the order diffs list them in. */
export const bestFirst = (changes: readonly LevelChange[], side: Side): LevelChange[] =>
  changes.filter((c) => c.side === side).sort((a, b) => (side === 'bid' ? b.price - a.price : a.price - b.price))

/** Size by price on each side: a book as a client holds it. */
export interface SizesByPrice {
  readonly bid: Map<number, number>
  readonly ask: Map<number, number>
}

/** The book's top `depth` levels a side (all of them by default). */
export const sizesByPrice = (book: BookView, depth = Infinity): SizesByPrice => ({
  bid: new Map(book.bids.slice(0, depth).map((l) => [l.price, l.size])),
  ask: new Map(book.asks.slice(0, depth).map((l) => [l.price, l.size])),
})

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** A client's text frame as JSON; undefined when it is not JSON, which no JSON text parses to. */
export const parseJson = (raw: string): unknown => {
  try {
    return JSON.parse(raw) as unknown
  } catch {
    return undefined
  }
}
