import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '@arb/observability'

export type { Consumer, JsMsg } from '@nats-io/jetstream'

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

const RECREATE_AFTER_MS = 1000

/**
 * Like `consumeForever`, but hands each message to a synchronous callback as it arrives (the
 * client's callback mode). Measured on this machine it moves 4-5x more messages per second than
 * the async iterator, whose per-message promise dominates at high rates. `onMessage` must not
 * throw and must not block: it only buffers; the caller does the slow work elsewhere. The
 * server's `max_ack_pending` is what bounds how many messages can be outstanding.
 */
export const pullForever = (
  consumer: Consumer,
  onMessage: (msg: JsMsg) => void,
  log: Logger,
  { maxMessages = 1000 }: { maxMessages?: number } = {},
): { stop: () => Promise<void> } => {
  let stopped = false
  let current: { close(): Promise<void | Error> } | undefined
  let wake: (() => void) | undefined
  const done = (async () => {
    while (!stopped) {
      try {
        const messages = await consumer.consume({
          max_messages: maxMessages,
          callback: (msg) => {
            try {
              onMessage(msg)
            } catch (err) {
              // Swallowed so one bad message does not stop the subscription (the client stops
              // a callback consumer on a throw); the message stays unacked and comes back.
              log.error({ err, seq: msg.seq }, 'message handler threw')
            }
          },
        })
        current = messages
        if (stopped) {
          await messages.close().catch(() => undefined)
          break
        }
        const err = await messages.closed()
        if (!stopped) log.error({ err }, 'consumer stopped, re-creating')
      } catch (err) {
        if (!stopped) log.error({ err }, 'consumer failed, re-creating')
      }
      if (!stopped) await new Promise<void>((r) => ((wake = r), setTimeout(r, RECREATE_AFTER_MS)))
    }
  })()
  return {
    stop: async () => {
      stopped = true
      wake?.()
      // Drained before it is closed: a plain close drops what the server already sent and is
      // still in the socket, which would then sit unacked until ack_wait. A drain flushes, so
      // those messages reach onMessage first. `sub` is the client's own subscription object.
      const sub = (current as { sub?: { drain(): Promise<void> } } | undefined)?.sub
      await sub?.drain().catch(() => undefined)
      // Closing over a connection that is already closed rejects; there is nothing left to close.
      await current?.close().catch(() => undefined)
      await done
    },
  }
}
