import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '@arb/observability'

export type { JsMsg } from '@nats-io/jetstream'

export interface DurableSettings {
  readonly stream: string
  readonly durable: string
  readonly ackWaitMs: number
  readonly maxAckPending: number
}

/** Creates (or keeps) a durable pull consumer with explicit acks and returns a handle on it. */
export const durableConsumer = async (nc: NatsConnection, s: DurableSettings): Promise<Consumer> => {
  const jsm = await jetstreamManager(nc)
  const config = {
    durable_name: s.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: s.ackWaitMs * 1_000_000,
    max_ack_pending: s.maxAckPending,
  }
  try {
    await jsm.consumers.info(s.stream, s.durable)
    await jsm.consumers.update(s.stream, s.durable, {
      ack_wait: config.ack_wait,
      max_ack_pending: config.max_ack_pending,
    })
  } catch {
    await jsm.consumers.add(s.stream, config)
  }
  return jetstream(nc).consumers.get(s.stream, s.durable)
}

/**
 * Loops over `consume()` and re-creates it when it ends or fails (nats.js example): a
 * consumer whose iterator died silently would stop the service without a sign.
 */
export const consumeForever = (
  consumer: Consumer,
  handle: (msg: JsMsg) => void | Promise<void>,
  log: Logger,
  batch = 1000,
): { stop: () => Promise<void> } => {
  let stopped = false
  let current: { close(): Promise<void | Error> } | undefined
  const done = (async () => {
    while (!stopped) {
      try {
        const messages = await consumer.consume({ max_messages: batch })
        current = messages
        for await (const msg of messages) await handle(msg)
      } catch (err) {
        if (!stopped) log.error({ err }, 'consumer failed, re-creating')
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000))
    }
  })()
  return {
    stop: async () => {
      stopped = true
      await current?.close()
      await done
    },
  }
}
