import { createInterface } from 'node:readline'
import { feedRecordDecoder, type FeedRecord } from '@arb/contracts'

/**
 * Lines of a feed recording or of piped exchange frames. Each line is classified on its own, so
 * a hand-made input can mix raw frames with records (a REST snapshot between two frames).
 */

export type InputLine =
  | { readonly kind: 'record'; readonly record: FeedRecord }
  | { readonly kind: 'frame'; readonly text: string }
  | { readonly kind: 'bad'; readonly reason: string }

// Every record has a top-level `rec` member and no exchange frame has one. Testing the text first
// spares parsing each frame twice (a Coinbase snapshot is megabytes).
const MAYBE_RECORD = /"rec"\s*:/

/** A JSON object with a `rec` member is a record (or a bad one); anything else is a raw frame, as is. */
export const classifyLine = (line: string): InputLine => {
  if (!MAYBE_RECORD.test(line)) return { kind: 'frame', text: line }
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return { kind: 'frame', text: line }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('rec' in value)) {
    return { kind: 'frame', text: line }
  }
  if (feedRecordDecoder.check(value)) return { kind: 'record', record: value }
  try {
    feedRecordDecoder.decode(line)
    return { kind: 'bad', reason: 'not a feed record' }
  } catch (err) {
    return { kind: 'bad', reason: (err as Error).message }
  }
}

/** The lines of a stream, without their `\n` or `\r\n`. */
export const readLines = (input: NodeJS.ReadableStream): AsyncIterable<string> =>
  createInterface({ input, crlfDelay: Infinity })
