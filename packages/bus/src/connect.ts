import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '@arb/observability'

export type { NatsConnection } from '@nats-io/transport-node'

/**
 * Connects and never gives up: the client's default stops reconnecting after ~20 s, which
 * would turn a NATS restart into a silently dead service.
 */
export const connectNats = async (url: string, log: Logger, name: string): Promise<NatsConnection> => {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: true,
    // A stack per request halves JetStream publish throughput (TOOLCHAIN.md).
    noAsyncTraces: true,
  })
  log.info({ server: nc.getServer() }, 'nats connected')
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') log.warn({ server: s.server }, 'nats disconnected')
      else if (s.type === 'reconnect') log.info({ server: s.server }, 'nats reconnected')
      else if (s.type === 'error') log.error({ err: s.error }, 'nats error')
    }
  })()
  return nc
}

/** True while the connection is up (not closed, not reconnecting). */
export const natsIsUp = (nc: NatsConnection): boolean => !nc.isClosed() && !nc.isDraining() && nc.getServer() !== ''
