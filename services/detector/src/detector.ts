import { decodeLiveTick, heartbeatDecoder, signalDecoder, type Signal, type Topology } from '@arb/contracts'
import type { JsPublisher, NatsConnection } from '@arb/bus'
import { createEngine, type EngineOptions } from '@arb/engine'
import type { Logger } from '@arb/observability'
import { feedMonitor } from './feed-monitor.js'
import { createHandover } from './handover.js'
import type { LeaderLease } from './leader.js'

/** Often enough that a silent feed's signals close within ~MAX_QUOTE_AGE_MS + 250 ms. */
export const SWEEP_MS = 250
/** At most one warning per this period for invalid ticks; the rest are counted. */
const INVALID_WARN_EVERY_MS = 10_000

export interface DetectorDeps {
  readonly nc: NatsConnection
  readonly topo: Topology
  readonly log: Logger
  readonly publisher: JsPublisher
  readonly engine: Omit<EngineOptions, 'initialFeedStatus'>
  readonly heartbeatMs: number
  readonly sweepMs?: number
  readonly now?: () => number
  /**
   * Leader election among replicas: every replica computes every event, only the leader publishes.
   * Without one this detector always publishes.
   */
  readonly lease?: Pick<LeaderLease, 'isLeader'>
  /**
   * The latest events on arb.signals from before this instance started (recover.ts). Until they
   * are read it does not publish; then the handover knows what a predecessor left open, and the
   * first leadership closes it with a reason instead of leaving it open forever.
   */
  readonly recover?: () => Promise<readonly Signal[]>
}

export interface DetectorCounters extends Record<string, number> {
  ticks: number
  invalid: number
  opened: number
  updated: number
  closed: number
  /** Ticks the engine skipped: a second ingestor replica's copy, or older than the book it holds. */
  ignored: number
  errors: number
  /** Events sent to arb.signals (as leader). */
  published: number
  /** Events computed while standing by, not published. */
  suppressed: number
  /** Times this instance became leader. */
  takeovers: number
}

export interface Detector {
  readonly counters: Readonly<DetectorCounters>
  lastMessageTs(): number | null
  /** Whether this instance publishes (always true without a lease). */
  isLeader(): boolean
  stop(): Promise<void>
}

/**
 * Ticks in (core NATS: the lowest latency; JetStream still stores them for the persister),
 * Signal events out to JetStream with `Nats-Msg-Id = <id>:<state>:<ts>`. Feed status comes from
 * ingestor heartbeats. With a lease, standby replicas compute the same events without publishing
 * them and watch arb.signals, so that the one that takes over publishes what the old leader could
 * not (see handover.ts).
 */
export const startDetector = (deps: DetectorDeps): Detector => {
  const { nc, topo, publisher } = deps
  const log = deps.log.child({ component: 'detector' })
  const now = deps.now ?? Date.now
  const engine = createEngine({ ...deps.engine, initialFeedStatus: 'disconnected' })
  const monitor = feedMonitor(deps.heartbeatMs)
  const counters: DetectorCounters = {
    ticks: 0,
    invalid: 0,
    opened: 0,
    updated: 0,
    closed: 0,
    ignored: 0,
    errors: 0,
    published: 0,
    suppressed: 0,
    takeovers: 0,
  }
  const handover = createHandover()
  let recovering = deps.recover !== undefined
  /** Heard on arb.signals while the history is read: newer than it, so applied after it. */
  let heardWhileRecovering: Signal[] = []
  let stopped = false
  let leading = deps.lease === undefined && !recovering
  const exchanges = new Set<string>()
  let lastMessageTs: number | null = null
  let lastInvalidWarn = -Infinity
  let invalidSinceWarn = 0

  const send = (s: Signal) => {
    counters.published++
    handover.announced(s, now())
    publisher.publish(topo.signals, JSON.stringify(s), `${s.id}:${s.state}:${s.ts}`)
    if (s.state === 'updated') {
      log.debug({ id: s.id, volume: s.volume, netProfitBps: s.netProfitBps }, 'signal updated')
      return
    }
    const fields = {
      id: s.id,
      pair: s.pair,
      buy: s.buy.exchange,
      sell: s.sell.exchange,
      netProfitBps: s.netProfitBps,
      volume: s.volume,
      ...(s.reason === undefined ? {} : { reason: s.reason }),
    }
    log.info(fields, s.state === 'opened' ? 'signal opened' : 'signal closed')
  }

  /** Follows the lease; on becoming leader, first publishes what the handover owes consumers. */
  const checkLeadership = (): boolean => {
    const leader = !recovering && (deps.lease === undefined || deps.lease.isLeader())
    if (leader === leading) return leader
    leading = leader
    watchSignals(!leader)
    if (leader) {
      counters.takeovers++
      const owed = handover.takeover(now())
      log.info({ owed: owed.length }, 'publishing as leader')
      owed.forEach(send)
    } else log.info('standing by')
    return leader
  }

  const publish = (events: readonly Signal[]) => {
    if (events.length === 0) return
    const leader = checkLeadership()
    const t = now()
    for (const s of events) {
      counters[s.state]++
      handover.computed(s, t)
      if (leader && !handover.isRetired(s.id)) send(s)
      else counters.suppressed++
    }
  }

  const refreshStatus = (exchange: string, t: number) => {
    const status = monitor.statusOf(exchange, t)
    if (engine.feedStatus(exchange) === status) return
    log.info({ exchange, status }, 'feed status changed')
    publish(engine.setFeedStatus(exchange, status, t))
  }

  const invalid = (err: unknown, subject: string) => {
    counters.invalid++
    const t = now()
    if (t - lastInvalidWarn < INVALID_WARN_EVERY_MS) {
      invalidSinceWarn++
      return
    }
    log.warn({ err, subject, droppedSinceLastWarning: invalidSinceWarn }, 'invalid tick dropped')
    lastInvalidWarn = t
    invalidSinceWarn = 0
  }

  const onFailure = (err: unknown, what: string) => {
    counters.errors++
    log.error({ err }, what)
  }

  const ticks = nc.subscribe(topo.allTicks, {
    callback: (err, msg) => {
      if (err) return onFailure(err, 'tick subscription failed')
      let tick
      try {
        // Anyone may publish on ticks.>: size, shape, crossed books and clocks are checked before the engine sees it.
        tick = decodeLiveTick(msg.data, now())
      } catch (e) {
        return invalid(e, msg.subject)
      }
      counters.ticks++
      lastMessageTs = now()
      if (!exchanges.has(tick.exchange)) {
        exchanges.add(tick.exchange)
        if (deps.engine.fees[tick.exchange] === undefined) {
          log.warn({ exchange: tick.exchange }, 'no taker fee configured for exchange; it is never compared')
        }
      }
      try {
        publish(engine.onTick(tick))
        counters.ignored = engine.stats.ignoredTicks
      } catch (e) {
        onFailure(e, 'engine failed on a tick')
      }
    },
  })

  const heartbeats = nc.subscribe(topo.heartbeats, {
    callback: (err, msg) => {
      if (err) return onFailure(err, 'heartbeat subscription failed')
      let hb
      try {
        hb = heartbeatDecoder.decode(msg.data)
      } catch (e) {
        return log.debug({ err: e }, 'invalid heartbeat ignored')
      }
      const t = now()
      const exchange = monitor.heard(hb, t)
      if (exchange === undefined) return
      exchanges.add(exchange)
      try {
        refreshStatus(exchange, t)
      } catch (e) {
        onFailure(e, 'feed status update failed')
      }
    },
  })

  /**
   * Standby replicas learn what the leader published. The leader records its own publishes and
   * unsubscribes: the echo of thousands of signals a second would only cost it time.
   */
  let signals: ReturnType<typeof nc.subscribe> | undefined
  function watchSignals(on: boolean): void {
    if (!on) {
      signals?.unsubscribe()
      signals = undefined
      return
    }
    signals ??= nc.subscribe(topo.signals, {
      callback: (err, msg) => {
        if (err) return onFailure(err, 'signal subscription failed')
        try {
          const s = signalDecoder.decode(msg.data)
          if (recovering) heardWhileRecovering.push(s)
          else handover.announced(s, now())
        } catch (e) {
          log.debug({ err: e }, 'invalid signal ignored')
        }
      },
    })
  }
  watchSignals(!leading)

  const timer = setInterval(() => {
    try {
      checkLeadership()
      const t = now()
      for (const exchange of exchanges) refreshStatus(exchange, t)
      publish(engine.sweep(t))
    } catch (e) {
      onFailure(e, 'sweep failed')
    }
  }, deps.sweepMs ?? SWEEP_MS)

  const recovered = (events: readonly Signal[]) => {
    if (stopped) return
    const t = now()
    for (const s of events) handover.announced(s, t)
    for (const s of heardWhileRecovering) handover.announced(s, t)
    heardWhileRecovering = []
    recovering = false
    log.info({ events: events.length, open: handover.size.announced }, 'latest signals read')
    checkLeadership()
  }
  void deps.recover?.().then(recovered, (err: unknown) => {
    log.warn({ err }, 'could not read the latest signals: what a predecessor left open stays open')
    recovered([])
  })

  checkLeadership()

  return {
    counters,
    lastMessageTs: () => lastMessageTs,
    isLeader: () => leading,
    async stop() {
      stopped = true
      leading = false
      clearInterval(timer)
      ticks.unsubscribe()
      heartbeats.unsubscribe()
      watchSignals(false)
      await publisher.flush()
    },
  }
}
