import { readdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Heartbeat, ProcessGauges, ServiceName, Topology } from '@arb/contracts'
import { natsIsUp } from './connect.js'

export interface HeartbeatSource {
  readonly service: ServiceName
  readonly instance: string
  readonly exchange?: string
  /** Called at every beat; gives the live part of the heartbeat. */
  readonly snapshot: () => Pick<Heartbeat, 'status' | 'reason' | 'lastMessageTs' | 'counters'>
}

export const defaultInstanceId = (): string => `${hostname()}-${process.pid}`

// Coarse enough to cost nothing measurable, fine enough to see a 50 ms stall.
const LOOP_DELAY_RESOLUTION_MS = 10

/** Reads the process gauges; the event-loop histogram restarts at every read, so each beat covers its own interval. */
export const processGauges = (): { read: () => ProcessGauges; stop: () => void } => {
  const loop = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS })
  loop.enable()
  const read = () => {
    const mem = process.memoryUsage()
    const gauges: ProcessGauges = {
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      heapTotalBytes: mem.heapTotal,
      externalBytes: mem.external,
      eventLoopDelayP99Ms: loop.count > 0 ? Math.round(loop.percentile(99) / 1e4) / 100 : 0,
      activeResources: process.getActiveResourcesInfo().length,
      ...openFds(),
    }
    loop.reset()
    return gauges
  }
  return { read, stop: () => loop.disable() }
}

const openFds = (): { openFds?: number } => {
  try {
    return { openFds: readdirSync('/proc/self/fd').length }
  } catch {
    return {}
  }
}

/**
 * Publishes presence on core NATS (not JetStream): a missed beat is harmless and an old one
 * is worthless, so there is nothing to persist, and nothing is sent while NATS is down.
 */
export const startHeartbeat = (nc: NatsConnection, topo: Topology, src: HeartbeatSource, periodMs: number) => {
  const startedAt = Date.now()
  const gauges = processGauges()
  const beat = () => {
    if (!natsIsUp(nc)) return
    const hb: Heartbeat = {
      v: 1,
      service: src.service,
      instance: src.instance,
      ...(src.exchange ? { exchange: src.exchange } : {}),
      startedAt,
      ts: Date.now(),
      ...src.snapshot(),
      process: gauges.read(),
    }
    nc.publish(topo.heartbeats, JSON.stringify(hb))
  }
  beat()
  const timer = setInterval(beat, periodMs)
  return {
    stop: () => {
      clearInterval(timer)
      gauges.stop()
    },
    beat,
  }
}
