import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { signalDecoder, type Signal } from '@arb/contracts'
import type { NatsConnection } from '@arb/bus'
import type { Logger } from '@arb/observability'

/**
 * How far back a starting detector reads SIGNALS. Live, that is hours to days of events; a signal
 * whose last event is older than this stays open in the stored history (docs/operations.md).
 */
export const RECOVER_EVENTS = 10_000
/** A read that takes longer (a huge backlog, a stalled server) is cut short: starting matters more. */
const RECOVER_TIMEOUT_MS = 10_000

/**
 * The latest events of the SIGNALS stream, oldest first, as they were when this was called. A
 * detector feeds them to its handover before it may publish, so that the signals a predecessor
 * left open (a crash, a restart, an upgrade) are closed by it with a reason instead of never.
 */
export const recentSignals = async (
  nc: NatsConnection,
  stream: string,
  log: Logger,
  max = RECOVER_EVENTS,
): Promise<Signal[]> => {
  const { state } = await (await jetstreamManager(nc)).streams.info(stream)
  if (state.messages === 0) return []
  const from = Math.max(state.first_seq, state.last_seq - max + 1)
  // An ordered consumer: ephemeral, unacknowledged, deleted by the server once idle.
  const consumer = await jetstream(nc).consumers.get(stream, { opt_start_seq: from })
  const messages = await consumer.consume({ max_messages: Math.min(max, 1000) })
  const timer = setTimeout(() => {
    log.warn({ stream, timeoutMs: RECOVER_TIMEOUT_MS }, 'reading the latest signals timed out')
    void messages.close()
  }, RECOVER_TIMEOUT_MS)
  const events: Signal[] = []
  let invalid = 0
  try {
    for await (const m of messages) {
      try {
        events.push(signalDecoder.decode(m.data))
      } catch {
        invalid++
      }
      if (m.seq >= state.last_seq || m.info.pending === 0) break
    }
  } finally {
    clearTimeout(timer)
    await messages.close()
  }
  if (invalid > 0) log.warn({ stream, invalid }, 'invalid signals skipped while reading the latest signals')
  return events
}
