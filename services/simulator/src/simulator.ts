import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { WebSocketServer } from 'ws'
import { ConfigError, Pair, type SimulatorConfig } from '@arb/contracts'
import type { Logger } from '@arb/observability'
import { createMarket, type Market, type StepResult, type WindowEvent } from './market.js'
import { EXCHANGES, type ExchangeServer, type SimulatedExchange } from './protocols/index.js'

export interface SimulatorOptions {
  readonly config: SimulatorConfig
  readonly log: Logger
  readonly exchanges?: readonly SimulatedExchange[]
  /** Coinbase's 5 s subscribe deadline; tests shorten it. */
  readonly subscribeTimeoutMs?: number
}

export interface Endpoint {
  readonly exchange: string
  /** Base URL, e.g. `ws://127.0.0.1:8900/coinbase`; what an ingestor's EXCHANGE_URL points at. */
  readonly url: string
  /** Paths a client opens under `url` ('' is the base URL itself). */
  readonly streams: readonly string[]
}

export interface Simulator {
  readonly port: number
  readonly httpUrl: string
  readonly endpoints: readonly Endpoint[]
  readonly market: Market
  close(): Promise<void>
}

const SUBSCRIBE_TIMEOUT_MS = 5000
// A step loop that falls further behind than this gives up the backlog rather than bursting it.
const MAX_BACKLOG_STEPS = 1000
const LAG_WARN_EVERY_MS = 10_000
const CLOSE_GRACE_MS = 1000
const MAX_PAYLOAD_BYTES = 64 * 1024

const pairPattern = new RegExp(Pair.pattern ?? '.')

export const parsePairs = (raw: string): string[] => {
  const pairs = [
    ...new Set(
      raw
        .split(',')
        .map((p) => p.trim().toUpperCase())
        .filter(Boolean),
    ),
  ]
  const bad = pairs.filter((p) => !pairPattern.test(p))
  if (pairs.length === 0 || bad.length > 0) {
    throw new ConfigError([{ path: 'PAIRS', message: `expected BASE-QUOTE pairs, got "${raw}"` }])
  }
  return pairs
}

/**
 * EXCHANGES: a deployment or test that runs ingestors for some exchanges only wants its arbitrage
 * windows between those; with all eight most would fall elsewhere.
 */
export const onlyListed = (all: readonly SimulatedExchange[], list: string): readonly SimulatedExchange[] => {
  const ids = [
    ...new Set(
      list
        .split(',')
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean),
    ),
  ]
  if (ids.length === 0) return all
  const unknown = ids.filter((id) => !all.some((e) => e.profile.id === id))
  if (unknown.length > 0) {
    const known = all.map((e) => e.profile.id).join(', ')
    throw new ConfigError([{ path: 'EXCHANGES', message: `unknown: ${unknown.join(', ')} (known: ${known})` }])
  }
  return all.filter((e) => ids.includes(e.profile.id))
}

/**
 * Starts the market, one HTTP server for /health and /state, and every exchange's WebSocket
 * protocol on its own path of the same port.
 */
export const startSimulator = async ({
  config,
  log,
  exchanges: offered = EXCHANGES,
  subscribeTimeoutMs = SUBSCRIBE_TIMEOUT_MS,
}: SimulatorOptions): Promise<Simulator> => {
  const exchanges = onlyListed(offered, config.EXCHANGES)
  if (config.OPPORTUNITY_MIN_NET_BPS > config.OPPORTUNITY_MAX_NET_BPS) {
    throw new ConfigError([{ path: 'OPPORTUNITY_MIN_NET_BPS', message: 'must not exceed OPPORTUNITY_MAX_NET_BPS' }])
  }
  const market = createMarket({
    seed: config.SEED,
    tickMs: config.TICK_MS,
    pairs: parsePairs(config.PAIRS),
    venues: exchanges.map((e) => e.profile),
    volatilityBps: config.VOLATILITY_BPS,
    opportunityEveryMs: config.OPPORTUNITY_EVERY_MS,
    opportunityMs: config.OPPORTUNITY_MS,
    netBps: [config.OPPORTUNITY_MIN_NET_BPS, config.OPPORTUNITY_MAX_NET_BPS],
  })
  const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000)
  const servers: { exchange: SimulatedExchange; server: ExchangeServer }[] = exchanges.map((exchange) => ({
    exchange,
    server: exchange.start({ market, log, nowUs, subscribeTimeoutMs }),
  }))

  const startedAt = performance.now()
  let bookChanges = 0
  let stepErrors = 0
  let forcedDisconnects = 0
  const health = () => ({
    status: 'ok',
    uptimeS: Math.round((performance.now() - startedAt) / 1000),
    steps: market.state().step,
    bookChanges,
    stepErrors,
    forcedDisconnects,
    connections: Object.fromEntries(servers.map((s) => [s.exchange.profile.id, s.server.connections()])),
    messagesSent: Object.fromEntries(servers.map((s) => [s.exchange.profile.id, s.server.messagesSent()])),
  })
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }
  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    if (req.method === 'GET' && path === '/health') return json(res, 200, health())
    if (req.method === 'GET' && path === '/state') {
      const state = market.state()
      return json(res, 200, {
        tickMs: config.TICK_MS,
        seed: config.SEED,
        windowActive: state.window !== null,
        ...state,
      })
    }
    const target = req.method === 'GET' ? servers.find((s) => underBase(path, s.exchange.basePath)) : undefined
    const reply = target?.server.http?.(
      path.slice(target.exchange.basePath.length),
      new URL(req.url ?? '/', 'http://localhost').searchParams,
    )
    if (reply !== undefined) {
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers })
      return res.end(JSON.stringify(reply.body))
    }
    return json(res, 404, { error: 'not found' })
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD_BYTES })
  http.on('upgrade', (req, socket, head) => {
    socket.on('error', (err) => log.debug({ err }, 'socket error'))
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    const target = servers.find(({ exchange: { basePath } }) => underBase(path, basePath))
    if (!target) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clientLog = log.child({ exchange: target.exchange.profile.id, remote: req.socket.remoteAddress, path })
      clientLog.info('client connected')
      ws.on('error', (err) => clientLog.debug({ err }, 'client socket error'))
      ws.on('close', (code) => clientLog.info({ code }, 'client disconnected'))
      target.server.accept(ws, path.slice(target.exchange.basePath.length))
    })
  })

  const logWindow = (e: WindowEvent) => {
    const { pair, buy, sell, targetNetBps, openedAtMs, closesAtMs } = e.window
    const fields = {
      pair,
      buy,
      sell,
      grossBps: round2(e.grossBps),
      netBps: round2(e.netBps),
      targetNetBps: round2(targetNetBps),
      topSize: e.topSize,
    }
    const durationMs = closesAtMs - openedAtMs
    // The closing edge is the books after the close, i.e. back to no opportunity.
    if (e.kind === 'opened') log.info({ ...fields, durationMs }, 'arbitrage window opened')
    else log.info({ ...fields, durationMs }, 'arbitrage window closed')
  }
  const dispatch = (result: StepResult) => {
    for (const u of result.updates) bookChanges += u.changes.length
    for (const e of result.events) logWindow(e)
    for (const { exchange, server } of servers) {
      try {
        server.onStep(result)
      } catch (err) {
        stepErrors += 1
        log.error({ err, exchange: exchange.profile.id }, 'exchange failed to publish a step')
      }
    }
  }

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(config.PORT, config.HOST, () => {
        http.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    for (const { server } of servers) server.close()
    wss.close()
    throw err
  }

  // Steps are due by wall time, not by timer count: timers fire late (and no faster than 1 ms),
  // so a TICK_MS of 1 still gives a thousand steps a second by catching up within each turn.
  const loopStart = performance.now()
  let done = 0
  let dropped = 0
  let lastLagWarn = -Infinity
  const loop = setInterval(() => {
    const now = performance.now()
    const due = Math.floor((now - loopStart) / config.TICK_MS)
    if (due - done > MAX_BACKLOG_STEPS) {
      dropped += due - done - MAX_BACKLOG_STEPS
      done = due - MAX_BACKLOG_STEPS
      if (now - lastLagWarn > LAG_WARN_EVERY_MS) {
        lastLagWarn = now
        log.warn({ tickMs: config.TICK_MS, droppedSteps: dropped }, 'cannot keep up with TICK_MS, skipping steps')
      }
    }
    while (done < due) {
      done += 1
      dispatch(market.step())
    }
  }, config.TICK_MS)

  // A forced reconnect of every client, as exchanges do at maintenance or on their 24 h limit;
  // terminate() sends no close frame, so clients see 1006 like a dropped link.
  const disconnects =
    config.DISCONNECT_EVERY_MS > 0
      ? setInterval(() => {
          forcedDisconnects += 1
          log.info({ clients: wss.clients.size, forcedDisconnects }, 'dropping every client (DISCONNECT_EVERY_MS)')
          for (const ws of wss.clients) ws.terminate()
        }, config.DISCONNECT_EVERY_MS)
      : undefined

  const port = (http.address() as AddressInfo).port
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST

  return {
    port,
    httpUrl: `http://${host}:${port}`,
    endpoints: servers.map(({ exchange, server }) => ({
      exchange: exchange.profile.id,
      url: `ws://${host}:${port}${exchange.basePath}`,
      streams: server.streams,
    })),
    market,
    close: async () => {
      clearInterval(loop)
      clearInterval(disconnects)
      for (const { server } of servers) server.close()
      for (const ws of wss.clients) ws.close(1001, 'simulator shutting down')
      const deadline = performance.now() + CLOSE_GRACE_MS
      while (wss.clients.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

const underBase = (path: string, basePath: string): boolean => path === basePath || path.startsWith(`${basePath}/`)

const round2 = (x: number) => Math.round(x * 100) / 100
