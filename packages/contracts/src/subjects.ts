import type { ExchangeId, Pair } from './common.js'

/**
 * NATS subjects and JetStream stream names. `prefix` namespaces everything (tests use it to
 * isolate themselves on a shared server); production leaves it empty.
 */
export interface Topology {
  readonly tick: (exchange: ExchangeId, pair: Pair) => string
  readonly allTicks: string
  readonly signals: string
  readonly heartbeats: string
  readonly ticksStream: string
  readonly signalsStream: string
}

export const topology = (prefix = ''): Topology => {
  const p = prefix === '' ? '' : `${prefix}.`
  const s = prefix === '' ? '' : `${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}_`
  return {
    tick: (exchange, pair) => `${p}ticks.${exchange}.${pair}`,
    allTicks: `${p}ticks.>`,
    signals: `${p}arb.signals`,
    heartbeats: `${p}arb.heartbeats`,
    ticksStream: `${s}TICKS`,
    signalsStream: `${s}SIGNALS`,
  }
}

/** Subject of a tick on the production topology, e.g. `ticks.kraken.BTC-EUR`. */
export const tickSubject = (t: { exchange: ExchangeId; pair: Pair }): string => topology().tick(t.exchange, t.pair)

/** JetStream de-duplication id: the same exchange message from two replicas gets the same id. */
export const tickMsgId = (t: { exchange: ExchangeId; pair: Pair; seq?: string | undefined }): string | undefined =>
  t.seq === undefined ? undefined : `${t.exchange}:${t.pair}:${t.seq}`
