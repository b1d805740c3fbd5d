import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '@arb/observability'

export interface PublisherStats {
  published: number
  duplicates: number
  failed: number
  inFlight: number
}

export interface JsPublisher {
  /** Fire-and-track: resolves when JetStream stored it (or it was a duplicate); never rejects. */
  publish(subject: string, payload: string, msgId: string | undefined): Promise<void>
  readonly stats: Readonly<PublisherStats>
  /** Waits until every publish in flight has been acknowledged or has failed. */
  flush(): Promise<void>
}

const PUBLISH_TIMEOUT_MS = 5000

/**
 * JetStream publisher with `Nats-Msg-Id` de-duplication: two replicas publishing the same
 * exchange message store it once.
 */
export const jsPublisher = (nc: NatsConnection, log: Logger, js: JetStreamClient = jetstream(nc)): JsPublisher => {
  const stats: PublisherStats = { published: 0, duplicates: 0, failed: 0, inFlight: 0 }
  const pending = new Set<Promise<void>>()
  return {
    stats,
    publish(subject, payload, msgId) {
      stats.inFlight++
      const p = js
        .publish(subject, payload, { ...(msgId ? { msgID: msgId } : {}), timeout: PUBLISH_TIMEOUT_MS })
        .then((ack) => {
          if (ack.duplicate) stats.duplicates++
          else stats.published++
        })
        .catch((err: unknown) => {
          stats.failed++
          // Logged at most once per 1000 so an outage does not flood the log.
          if (stats.failed % 1000 === 1) log.error({ err, subject, failed: stats.failed }, 'jetstream publish failed')
        })
        .finally(() => {
          stats.inFlight--
          pending.delete(p)
        })
      pending.add(p)
      return p
    },
    async flush() {
      await Promise.all([...pending])
    },
  }
}
