import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer, type WebSocket } from 'ws'
import { eventually } from '@arb/testkit'
import { okx, runFeed, type ExchangeAdapter, type Feed } from '../src/index.js'
import { captureLog, fixture } from './helpers.js'

/**
 * The feed's application-level keep-alive (`adapter.keepalive`, OKX's text ping/pong) against a real
 * `ws` server on 127.0.0.1 that answers like OKX: the text `pong` for the text `ping`.
 */

const INTERVAL_MS = 300
const adapter: ExchangeAdapter = { ...okx, keepalive: { ...okx.keepalive!, intervalMs: INTERVAL_MS } }
const [ack] = fixture('okx', 'real-other')

interface OkxLikeServer {
  readonly url: string
  /** Text frames received, by connection index. */
  readonly received: string[][]
  readonly sockets: WebSocket[]
  close(): Promise<void>
}

const startServer = async (options: { answer: boolean }): Promise<OkxLikeServer> => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  const received: string[][] = []
  const sockets: WebSocket[] = []
  wss.on('connection', (ws) => {
    const mine: string[] = []
    received.push(mine)
    sockets.push(ws)
    ws.on('message', (data) => {
      const text = String(data)
      mine.push(text)
      if (text === 'ping' && options.answer) ws.send('pong')
    })
  })
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    received,
    sockets,
    close: async () => {
      for (const ws of wss.clients) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

let server: OkxLikeServer | undefined
let feed: Feed | undefined

afterEach(async () => {
  await feed?.stop()
  await server?.close()
  feed = undefined
  server = undefined
})

const start = async (answer: boolean) => {
  server = await startServer({ answer })
  const log = captureLog()
  feed = runFeed({
    adapter,
    pairs: ['BTC-USDT'],
    baseUrl: server.url,
    log,
    onTicks: () => undefined,
    staleAfterMs: 60_000,
    backoffMinMs: 20,
    backoffMaxMs: 50,
    random: () => 1,
  })
  return { server, feed, log }
}

const pings = (frames: readonly string[] | undefined) => (frames ?? []).filter((f) => f === 'ping').length

describe('feed keep-alive (adapter.keepalive)', () => {
  it('sends the frame after intervalMs of silence and takes the reply as neither data nor malformed', async () => {
    const { server, feed } = await start(true)
    await eventually(() => (pings(server.received[0]) >= 3 ? true : undefined), 5000, 'three pings')
    expect(JSON.parse(server.received[0]![0]!)).toEqual(okx.subscribe(['BTC-USDT'])[0])
    expect(feed.counters).toMatchObject({ malformed: 0, errors: 0, reconnects: 0, pongTimeouts: 0 })
    expect(feed.counters.frames).toBeGreaterThanOrEqual(2)
    // A pong is not data: it must not pass for book traffic.
    expect(feed.counters.lastMessageTs).toBeNull()
    expect(server.received).toHaveLength(1)
  })

  it('sends nothing while frames keep arriving', async () => {
    const { server, feed } = await start(true)
    await eventually(() => server.sockets[0], 5000, 'a connection')
    const timer = setInterval(() => server.sockets[0]!.send(ack!), INTERVAL_MS / 6)
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 5))
    clearInterval(timer)
    expect(pings(server.received[0])).toBe(0)
    expect(feed.counters.frames).toBeGreaterThan(10)
    await eventually(() => (pings(server.received[0]) >= 1 ? true : undefined), 5000, 'a ping once quiet')
  })

  it('reconnects when the reply does not come', async () => {
    const { server, feed, log } = await start(false)
    await eventually(() => (server.received.length >= 2 ? true : undefined), 5000, 'a second connection')
    expect(pings(server.received[0])).toBe(1)
    expect(feed.counters.pongTimeouts).toBeGreaterThanOrEqual(1)
    expect(log.find('no keepalive reply, reconnecting')[0]).toMatchObject({ level: 'warn', intervalMs: INTERVAL_MS })
    expect(log.find('reconnecting')[0]).toMatchObject({ reason: 'keepalive timeout' })
  })
})
