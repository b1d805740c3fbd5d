import { hostname } from 'node:os'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Heartbeat, ServiceName, Topology } from '@arb/contracts'

export interface HeartbeatSource {
  readonly service: ServiceName
  readonly instance: string
  readonly exchange?: string
  /** Called at every beat; gives the live part of the heartbeat. */
  readonly snapshot: () => Pick<Heartbeat, 'status' | 'lastMessageTs' | 'counters'>
}

export const defaultInstanceId = (): string => `${hostname()}-${process.pid}`

/**
 * Publishes presence on core NATS (not JetStream): a missed beat is harmless and an old one
 * is worthless, so there is nothing to persist.
 */
export const startHeartbeat = (nc: NatsConnection, topo: Topology, src: HeartbeatSource, periodMs: number) => {
  const startedAt = Date.now()
  const beat = () => {
    if (nc.isClosed()) return
    const hb: Heartbeat = {
      v: 1,
      service: src.service,
      instance: src.instance,
      ...(src.exchange ? { exchange: src.exchange } : {}),
      startedAt,
      ts: Date.now(),
      ...src.snapshot(),
    }
    nc.publish(topo.heartbeats, JSON.stringify(hb))
  }
  beat()
  const timer = setInterval(beat, periodMs)
  return { stop: () => clearInterval(timer), beat }
}
