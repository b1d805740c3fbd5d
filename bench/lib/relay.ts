/**
 * The floor of bench/detector-latency.bench.ts: what the same harness measures when the detector
 * is replaced by a process that does nothing but turn each bl3p bid that changes side into a signal-shaped event
 * (JSON.parse in, the detector's own publisher and JSON out). Same NATS, same streams storing
 * ticks and signals, same heartbeat. Whatever the detector's p99 exceeds this by is the detector.
 */
import { topology, type Signal, type Tick } from '@arb/contracts'
import { connectNats, DEFAULT_STREAM_SETTINGS, drainNats, ensureStreams, jsPublisher, startHeartbeat } from '@arb/bus'
import { createLogger } from '@arb/observability'

const log = createLogger({ service: 'relay', level: 'warn' })
const topo = topology(process.env['NATS_PREFIX'] ?? '')
const nc = await connectNats(process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', log, 'bench-relay')
await ensureStreams(nc, topo, DEFAULT_STREAM_SETTINGS, log)
const publisher = jsPublisher(nc, log)
const counters = { ticks: 0, published: 0 }
let n = 0
let wasCrossing = false

nc.subscribe(topo.allTicks, {
  callback: (_err, msg) => {
    const t = JSON.parse(msg.string()) as Tick
    counters.ticks++
    if (t.exchange !== 'bl3p') return
    const bid = t.bids[0]![0]
    // The detector's events, without its engine: one each time the bench's bl3p bid changes side.
    const crossing = bid > 101
    if (crossing === wasCrossing) return
    wasCrossing = crossing
    const s: Signal = {
      v: 1,
      id: `relay-${++n}`,
      state: 'opened',
      pair: t.pair,
      buy: { exchange: 'coinbase', price: 100, fee: 0.006 },
      sell: { exchange: 'bl3p', price: bid, fee: 0.0025 },
      volume: 1,
      grossSpreadBps: 150,
      netProfit: 0.64,
      netProfitBps: 64,
      openedAt: t.receivedTs,
      ts: t.receivedTs,
      cappedBy: 'depth',
      curve: [[1, 0.64]],
    }
    publisher.publish(topo.signals, JSON.stringify(s), `${s.id}:${s.state}:${s.ts}`)
    counters.published++
  },
})

const heartbeat = startHeartbeat(
  nc,
  topo,
  { service: 'detector', instance: 'relay', snapshot: () => ({ status: 'ok', lastMessageTs: null, counters }) },
  Number(process.env['HEARTBEAT_MS'] ?? 1000),
)
process.once('SIGTERM', () => {
  heartbeat.stop()
  void publisher.flush().then(() => drainNats(nc))
})
