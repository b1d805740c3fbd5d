import { Type, type Static } from '@sinclair/typebox'
import { EpochMs, ExchangeId, Pair } from './common.js'

/**
 * A feed recording: what an ingestor's adapter sessions were given, one JSON record per line
 * (JSON Lines), in the order the feed handed it to them. The ingestor writes one file per run
 * under RECORD_DIR; REPLAY_FILE and `npm run normalize` read it back through the same session
 * code, so the ticks come out identical, `seq` and `Nats-Msg-Id` included.
 * Public format v1: records and fields may be added, never renamed or removed without bumping `v`.
 */

const v = Type.Literal(1)
const Conn = Type.Integer({
  minimum: 0,
  description: 'connection number within the run, from 0; a reconnect opens a new one',
})
// Hand-written input to `npm run normalize` may leave `conn` out: the record then goes to the
// connection the raw frame lines of that input use.
const OptionalConn = Type.Optional(Conn)

/** First line of a file the ingestor writes. */
export const RecordStart = Type.Object(
  {
    v,
    rec: Type.Literal('start'),
    ts: EpochMs,
    exchange: ExchangeId,
    pairs: Type.Array(Pair),
    instance: Type.String(),
  },
  { description: 'the run: exchange, configured pairs, INSTANCE_ID' },
)
export type RecordStart = Static<typeof RecordStart>

export const RecordOpen = Type.Object(
  { v, rec: Type.Literal('open'), conn: Conn, ts: EpochMs, url: Type.String(), pairs: Type.Array(Pair) },
  { description: 'a connection opened; its session (fresh book state) serves these pairs' },
)
export type RecordOpen = Static<typeof RecordOpen>

export const RecordFrame = Type.Object(
  { v, rec: Type.Literal('frame'), conn: OptionalConn, receivedTs: EpochMs, text: Type.String() },
  { description: 'one WebSocket frame exactly as received (text, not parsed: malformed frames too)' },
)
export type RecordFrame = Static<typeof RecordFrame>

export const RecordSnapshot = Type.Object(
  { v, rec: Type.Literal('snapshot'), conn: OptionalConn, pair: Pair, receivedTs: EpochMs, body: Type.Unknown() },
  { description: 'a REST book snapshot the session asked for, as the parsed JSON body handed to it' },
)
export type RecordSnapshot = Static<typeof RecordSnapshot>

export const RecordClose = Type.Object(
  { v, rec: Type.Literal('close'), conn: Conn, ts: EpochMs, code: Type.Integer(), reason: Type.String() },
  { description: 'a connection closed (WebSocket close code; the feed’s reason when it dropped it)' },
)
export type RecordClose = Static<typeof RecordClose>

export const RecordDropped = Type.Object(
  { v, rec: Type.Literal('dropped'), ts: EpochMs, count: Type.Integer({ minimum: 1 }) },
  { description: 'the disk fell behind and this many records were not written here: a replay may differ from then on' },
)
export type RecordDropped = Static<typeof RecordDropped>

export const FeedRecord = Type.Union(
  [RecordStart, RecordOpen, RecordFrame, RecordSnapshot, RecordClose, RecordDropped],
  {
    $id: 'https://arb.dev/schemas/feed-record.v1.json',
    title: 'FeedRecord',
  },
)
export type FeedRecord = Static<typeof FeedRecord>
