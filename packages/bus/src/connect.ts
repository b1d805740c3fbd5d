import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '@arb/observability'

export type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'

/** How often a process that cannot reach NATS at start-up says it is still trying. */
const WAITING_LOG_EVERY_MS = 5000

/**
 * Connects and never gives up: the client's default stops reconnecting after ~20 s, which
 * would turn a NATS restart into a silently dead service. A server that is not there yet at
 * start-up is waited for (retried every second, logged every 5 s) instead of failing the start.
 */
export const connectNats = async (url: string, log: Logger, name: string): Promise<NatsConnection> => {
  const servers = url.split(',').map((s) => s.trim())
  const startedAt = Date.now()
  const waiting = setInterval(
    () => log.warn({ waitedMs: Date.now() - startedAt }, 'nats not reachable yet, still trying'),
    WAITING_LOG_EVERY_MS,
  )
  let nc: NatsConnection
  try {
    nc = await connect({
      servers,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      waitOnFirstConnect: true,
      // A stack per request halves JetStream publish throughput (TOOLCHAIN.md).
      noAsyncTraces: true,
    })
  } finally {
    clearInterval(waiting)
  }
  log.info({ server: nc.getServer(), waitedMs: Date.now() - startedAt }, 'nats connected')
  const state = watchConnection(nc)
  state.onChange((up, lastedMs) => {
    if (up) log.info({ server: nc.getServer(), downMs: lastedMs }, 'nats reconnected')
    // Closed by this process (shutdown) is no outage.
    else if (!nc.isClosed()) log.warn({ server: nc.getServer() }, 'nats disconnected')
  })
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') log.error({ err: s.error }, 'nats error')
  })()
  return nc
}

export interface ConnectionState {
  /** False from a disconnect until the client has reconnected, and for good once closed. */
  readonly up: boolean
  /** Epoch ms of the last change (or of when watching started). */
  readonly changedAt: number
  /**
   * Called on every change with the new state and how long the previous one lasted; returns a
   * function that removes the listener.
   */
  onChange(listener: (up: boolean, lastedMs: number) => void): () => void
}

const watched = new WeakMap<NatsConnection, ConnectionState>()

/**
 * Whether the connection is up, from the client's status events. `getServer()` cannot tell: it
 * names the server being redialled during an outage too. Watching starts at the first call
 * (`connectNats` makes it right after connecting), so the first call should come early.
 */
export const watchConnection = (nc: NatsConnection): ConnectionState => {
  const known = watched.get(nc)
  if (known) return known
  const listeners = new Set<(up: boolean, lastedMs: number) => void>()
  let up = !nc.isClosed()
  let changedAt = Date.now()
  const set = (next: boolean) => {
    if (next === up) return
    const now = Date.now()
    const lastedMs = now - changedAt
    up = next
    changedAt = now
    for (const l of listeners) l(up, lastedMs)
  }
  const state: ConnectionState = {
    get up() {
      return up
    },
    get changedAt() {
      return changedAt
    },
    onChange(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  watched.set(nc, state)
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') set(false)
      else if (s.type === 'reconnect') set(true)
    }
  })()
  void nc.closed().then(() => set(false))
  return state
}

/** True while the connection is up (not closed, not draining, not reconnecting). */
export const natsIsUp = (nc: NatsConnection): boolean => !nc.isClosed() && !nc.isDraining() && watchConnection(nc).up

/**
 * Drains the connection (sends what is pending, then closes) when NATS is there, and only closes
 * it when it is not: a drain needs the server, so during an outage it rejects ("connection
 * disconnected") and would turn a clean stop into exit 1.
 */
export const drainNats = async (nc: NatsConnection): Promise<void> => {
  if (nc.isClosed()) return
  if (natsIsUp(nc)) {
    try {
      return await nc.drain()
    } catch {
      // NATS went away during the drain; closing is all that is left.
    }
  }
  await nc.close()
}
