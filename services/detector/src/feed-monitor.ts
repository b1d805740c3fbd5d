import type { Heartbeat } from '@arb/contracts'
import type { FeedStatus } from '@arb/engine'

interface Seen {
  at: number
  status: Heartbeat['status']
  /** The ingestor's `resyncs` counter at this beat. */
  resyncs: number
  /** The counter grew since the instance's previous beat: it is re-reading its books. */
  resyncing: boolean
}

/**
 * Feed status per exchange from ingestor heartbeats. An exchange is 'ok' while at least one of
 * its ingestor instances said 'ok' within `missedBeats` periods; 'resyncing' when none did and
 * one reported 'degraded' with its `resyncs` counter up since its previous beat (a sequence gap
 * or a bad checksum made it drop its book); 'stale' when the instances heard from all report
 * 'degraded' otherwise; and 'disconnected' when none was heard from. An exchange
 * never heard from is 'disconnected': a detector that just started signals nothing until the
 * ingestors have vouched for their feeds (one heartbeat period).
 *
 * Ages are measured on the detector's clock at receipt, not on the heartbeat's `ts`, so a skewed
 * ingestor clock cannot keep a dead feed alive.
 */
export const feedMonitor = (heartbeatMs: number, missedBeats = 3) => {
  const windowMs = heartbeatMs * missedBeats
  const byExchange = new Map<string, Map<string, Seen>>()
  return {
    /** Records an ingestor heartbeat; returns its exchange, or undefined for any other heartbeat. */
    heard(hb: Heartbeat, now: number): string | undefined {
      if (hb.service !== 'ingestor' || hb.exchange === undefined) return undefined
      let instances = byExchange.get(hb.exchange)
      if (instances === undefined) byExchange.set(hb.exchange, (instances = new Map()))
      const resyncs = hb.counters['resyncs'] ?? 0
      const before = instances.get(hb.instance)
      const resyncing = hb.status !== 'ok' && before !== undefined && resyncs > before.resyncs
      instances.set(hb.instance, { at: now, status: hb.status, resyncs, resyncing })
      return hb.exchange
    },
    statusOf(exchange: string, now: number): FeedStatus {
      const instances = byExchange.get(exchange)
      if (instances === undefined) return 'disconnected'
      let status: FeedStatus = 'disconnected'
      for (const [instance, seen] of instances) {
        // Instance ids change on every restart; forgetting the silent ones keeps the map bounded.
        if (now - seen.at > windowMs) instances.delete(instance)
        else if (seen.status === 'ok') return 'ok'
        else if (seen.resyncing) status = 'resyncing'
        else if (status !== 'resyncing') status = 'stale'
      }
      return status
    },
    exchanges: (): Iterable<string> => byExchange.keys(),
  }
}

export type FeedMonitor = ReturnType<typeof feedMonitor>
