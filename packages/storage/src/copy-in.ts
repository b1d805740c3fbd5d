import type pg from 'pg'

/**
 * The part of pg's connection a `COPY ... FROM STDIN` needs. pg talks to any object with a
 * `submit` method this way (the "Submittable" protocol pg-cursor, pg-query-stream and
 * pg-copy-streams are built on); this is the smallest one that sends a ready buffer.
 */
interface CopyConnection {
  query(text: string): void
  sendCopyFromChunk(chunk: Buffer): void
  endCopyFrom(): void
}

// Sent as several CopyData messages: pg copies each chunk into a new buffer with its header,
// so one huge chunk would briefly double the batch in memory.
const CHUNK_BYTES = 256 * 1024

class CopyFromBuffer {
  readonly text: string
  /** Read by pg's client, which fails the query when no answer came in time. */
  readonly query_timeout: number | undefined
  /** Set by pg's client when `query_timeout` is; it clears its timer when this is called. */
  callback: ((err: unknown) => void) | undefined
  private readonly data: Buffer
  private readonly tags: string[] = []
  private failed = false
  private settle!: { resolve: (tags: string[]) => void; reject: (err: unknown) => void }
  readonly done: Promise<string[]>

  constructor(text: string, data: Buffer, timeoutMs: number | undefined) {
    this.text = text
    this.data = data
    this.query_timeout = timeoutMs
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }))
  }

  submit(connection: CopyConnection): void {
    connection.query(this.text)
  }

  handleCopyInResponse(connection: CopyConnection): void {
    for (let off = 0; off < this.data.length; off += CHUNK_BYTES) {
      connection.sendCopyFromChunk(this.data.subarray(off, off + CHUNK_BYTES))
    }
    connection.endCopyFrom()
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.tags.push(msg.text ?? '')
  }

  // Server errors are followed by ReadyForQuery, a lost connection is not: settle at once, as
  // pg's own Query does; the client sends nothing more on this connection until ReadyForQuery.
  handleError(err: unknown): void {
    this.failed = true
    this.callback?.(err)
    this.settle.reject(err)
  }

  handleReadyForQuery(): void {
    if (this.failed) return
    this.callback?.(null)
    this.settle.resolve(this.tags)
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/**
 * Runs `text`, one simple-protocol query that may hold several statements, one of them
 * `COPY ... FROM STDIN`, with `data` as the whole COPY input. Several statements in one query
 * run as one transaction, in a single round trip. Resolves with each statement's command tag
 * (`COPY 5000`, `INSERT 0 4990`); rejects with `Query read timeout` when no answer came within
 * `timeoutMs`.
 */
export const copyFrom = (client: pg.ClientBase, text: string, data: Buffer, timeoutMs?: number): Promise<string[]> => {
  const q = new CopyFromBuffer(text, data, timeoutMs)
  // pg's typings only know QueryConfig; at run time it accepts any Submittable.
  void (client.query as unknown as (s: CopyFromBuffer) => unknown)(q)
  return q.done
}
