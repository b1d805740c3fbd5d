import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'

/**
 * A real WebSocket server on 127.0.0.1 that replays recorded exchange frames to every client
 * (tardis/cryptofeed playback): feed and ingestor tests run against it instead of mocked sockets.
 * It records what clients send, and can drop, kill or starve connections to exercise reconnects.
 */

export interface ReplayConnection {
  /** 0 for the first connection accepted, then 1, 2, … */
  readonly index: number
  /** Request path and query, e.g. `/1/BTCEUR/orderbook`. */
  readonly path: string
}

export interface ReplayServerOptions {
  /** Frames sent in order to each new connection; a function chooses them per connection. Default none. */
  readonly frames?: readonly string[] | ((connection: ReplayConnection) => readonly string[])
  /** Pause between two frames; 0 (default) sends them back to back. */
  readonly intervalMs?: number
  /** Start only after the client's first message (its subscribe), as Coinbase does. */
  readonly afterFirstMessage?: boolean
  /** Start over after the last frame, forever (needs `intervalMs` > 0). */
  readonly loop?: boolean
  /** Close each connection (code 1000) once its frames are sent: a server that keeps hanging up. */
  readonly endAfterFrames?: boolean
  /** Answer protocol pings (default true); false plays a peer that is gone while TCP stays up. */
  readonly autoPong?: boolean
}

export interface ReceivedMessage {
  readonly connection: number
  readonly path: string
  readonly data: string
}

export interface ReplayServer {
  /** `ws://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string
  readonly port: number
  /** Connections accepted so far. */
  readonly connectionCount: number
  readonly openConnections: number
  /** Request path of each connection, by index. */
  readonly paths: readonly string[]
  /** `Date.now()` when each connection was accepted, by index. */
  readonly connectedAt: readonly number[]
  /** Every text message clients sent, in arrival order. */
  readonly received: readonly ReceivedMessage[]
  /** Frames for connections accepted from now on. */
  setFrames(frames: ReplayServerOptions['frames']): void
  /** Sends one frame to every open connection. */
  send(frame: string): void
  /** Stops sending anything, on open and future connections, while keeping them open; `false` resumes for new ones. */
  silence(on?: boolean): void
  /** Closes every open connection with a close frame. */
  drop(code?: number, reason?: string): void
  /** Destroys every open connection's socket without a close frame. */
  terminate(): void
  /** Resolves once `count` connections have been accepted in total. */
  waitForConnections(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/** Frames of a JSON Lines fixture: one frame per non-empty line, sent as is (malformed lines included). */
export const loadFrames = (path: string | URL): string[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')

export const startReplayServer = async (options: ReplayServerOptions = {}): Promise<ReplayServer> => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: options.autoPong ?? true })
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve)
    wss.once('error', reject)
  })
  const port = (wss.address() as AddressInfo).port
  let frames = options.frames ?? []
  let silent = false
  const open = new Set<WebSocket>()
  // The pending step of each connection's replay, as a canceller (a timeout or an immediate).
  const pending = new Map<WebSocket, () => void>()
  const paths: string[] = []
  const connectedAt: number[] = []
  const received: ReceivedMessage[] = []
  const waiters = new Set<() => void>()
  const intervalMs = options.intervalMs ?? 0

  const replay = (ws: WebSocket, list: readonly string[]) => {
    let i = 0
    const step = () => {
      pending.delete(ws)
      if (silent || ws.readyState !== WebSocket.OPEN) return
      if (i >= list.length) {
        if (options.endAfterFrames) return ws.close(1000, 'replay done')
        if (!options.loop || list.length === 0 || intervalMs <= 0) return
        i = 0
      }
      ws.send(list[i++]!)
      if (intervalMs > 0) {
        const t = setTimeout(step, intervalMs)
        pending.set(ws, () => clearTimeout(t))
      } else {
        const t = setImmediate(step)
        pending.set(ws, () => clearImmediate(t))
      }
    }
    step()
  }

  wss.on('connection', (ws, req) => {
    const connection: ReplayConnection = { index: paths.length, path: req.url ?? '/' }
    paths.push(connection.path)
    connectedAt.push(Date.now())
    open.add(ws)
    const list = typeof frames === 'function' ? frames(connection) : frames
    let started = false
    const start = () => {
      if (started) return
      started = true
      replay(ws, list)
    }
    ws.on('message', (data) => {
      received.push({ connection: connection.index, path: connection.path, data: String(data) })
      if (options.afterFirstMessage) start()
    })
    ws.on('close', () => {
      open.delete(ws)
      pending.get(ws)?.()
      pending.delete(ws)
    })
    ws.on('error', () => {
      // A client that vanishes mid-write is part of what these tests do.
    })
    if (!options.afterFirstMessage) start()
    for (const w of waiters) w()
  })

  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    get connectionCount() {
      return paths.length
    },
    get openConnections() {
      return open.size
    },
    paths,
    connectedAt,
    received,
    setFrames(next) {
      frames = next ?? []
    },
    send(frame) {
      for (const ws of open) if (ws.readyState === WebSocket.OPEN) ws.send(frame)
    },
    silence(on = true) {
      silent = on
    },
    drop(code = 1001, reason = 'going away') {
      for (const ws of open) ws.close(code, reason)
    },
    terminate() {
      for (const ws of open) ws.terminate()
    },
    waitForConnections(count, timeoutMs = 10_000) {
      if (paths.length >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} connections (have ${paths.length})`))
        }, timeoutMs)
        const check = () => {
          if (paths.length < count) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
      })
    },
    async close() {
      for (const ws of open) ws.terminate()
      for (const cancel of pending.values()) cancel()
      pending.clear()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}
