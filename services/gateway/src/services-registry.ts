import { heartbeatDecoder, type Heartbeat, type Topology } from '@arb/contracts'
import type { Msg, NatsConnection, Subscription } from '@arb/bus'
import type { Logger } from '@arb/observability'

/** The last heartbeat of one (service, instance), with when the gateway received it. */
export interface LiveInstance extends Heartbeat {
  readonly lastSeen: number
  /** Per-second change of each counter between this heartbeat and the instance's previous one. */
  readonly rates: Readonly<Record<string, number>>
}

export interface RegistryStats {
  /** Valid heartbeats received. */
  received: number
  /** Heartbeats dropped because they failed the contract. */
  invalid: number
  lastReceivedTs: number | null
}

export interface ServicesRegistry {
  /** Instances heard from within the TTL, sorted by service then instance. */
  list(): LiveInstance[]
  readonly stats: Readonly<RegistryStats>
  stop(): void
}

/** Code-point order, so the listing does not depend on the host's locale. */
export const byServiceThenInstance = (
  a: { service: string; instance: string },
  b: { service: string; instance: string },
): number => (a.service !== b.service ? (a.service < b.service ? -1 : 1) : a.instance < b.instance ? -1 : 1)

/**
 * Counters are monotonic per process, so the difference of two beats over their publisher's own
 * interval is the rate (frames/s, ticks/s, …). A counter that went down (a restart reusing the
 * instance id) or a beat with no interval gives no rate rather than a wrong one.
 */
export const counterRates = (before: Heartbeat, after: Heartbeat): Record<string, number> => {
  const seconds = (after.ts - before.ts) / 1000
  const rates: Record<string, number> = {}
  if (seconds <= 0 || before.startedAt !== after.startedAt) return rates
  for (const [name, value] of Object.entries(after.counters)) {
    const was = before.counters[name]
    if (was !== undefined && value >= was) rates[name] = Math.round(((value - was) / seconds) * 100) / 100
  }
  return rates
}

export interface RegistrySettings {
  /** Pending while the gateway waits for NATS at start-up: the registry subscribes once it is there. */
  readonly nc: NatsConnection | Promise<NatsConnection>
  readonly topo: Topology
  readonly ttlMs: number
  readonly log: Logger
  readonly now?: () => number
}

/**
 * Presence from `arb.heartbeats` (core NATS). Liveness is judged by the gateway's own clock at
 * receipt, so a publisher with a skewed clock is neither dropped early nor kept forever.
 */
export const startServicesRegistry = ({ nc, topo, ttlMs, log, now = Date.now }: RegistrySettings): ServicesRegistry => {
  const live = new Map<string, LiveInstance>()
  const stats: RegistryStats = { received: 0, invalid: 0, lastReceivedTs: null }

  const prune = (at: number) => {
    for (const [key, entry] of live) if (at - entry.lastSeen > ttlMs) live.delete(key)
  }

  const onBeat = (err: Error | null, msg: Msg) => {
    if (err) {
      log.warn({ err }, 'heartbeat subscription error')
      return
    }
    let hb: Heartbeat
    try {
      hb = heartbeatDecoder.decode(msg.data)
    } catch (err) {
      stats.invalid++
      // One line per 100 so a misbehaving publisher cannot flood the log.
      if (stats.invalid % 100 === 1) log.warn({ err, invalid: stats.invalid }, 'invalid heartbeat ignored')
      return
    }
    const at = now()
    stats.received++
    stats.lastReceivedTs = at
    const key = `${hb.service}\u0000${hb.instance}`
    const previous = live.get(key)
    // Beats of one publisher arrive in order on core NATS, but two processes may share an instance id.
    if (previous === undefined || previous.ts <= hb.ts) {
      live.set(key, { ...hb, lastSeen: at, rates: previous === undefined ? {} : counterRates(previous, hb) })
    }
    prune(at)
  }
  let stopped = false
  let sub: Subscription | undefined
  void Promise.resolve(nc).then((c) => {
    if (!stopped) sub = c.subscribe(topo.heartbeats, { callback: onBeat })
  })

  return {
    stats,
    list() {
      prune(now())
      return [...live.values()].sort(byServiceThenInstance)
    },
    stop() {
      stopped = true
      // Closing the connection closes its subscriptions: nothing is left to undo then.
      if (sub !== undefined && !sub.isClosed()) sub.unsubscribe()
    },
  }
}
