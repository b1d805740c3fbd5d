import { afterEach, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { connectNats, type NatsConnection } from '@arb/bus'
import { heartbeatDecoder, tickDecoder, topology, type Heartbeat } from '@arb/contracts'
import { createLogger, type Logger } from '@arb/observability'
import { adapters } from '@arb/exchanges'
import {
  eventually,
  loadFrames,
  startReplayServer,
  startService,
  testNatsUrl,
  uniqueName,
  type ReplayServer,
  type ServiceProcess,
} from '@arb/testkit'

/** The built composition root (`dist/main.js`, as the images run it) against a replay server and real NATS. */

const log: Logger = createLogger({ service: 'ingestor-test', level: 'silent' })
const SKL = loadFrames(new URL('../../../packages/exchanges/fixtures/coinbase/real-skl-gbp.jsonl', import.meta.url))

let proc: ServiceProcess | undefined
let server: ReplayServer | undefined
let nc: NatsConnection | undefined
let cleanup: (() => Promise<void>) | undefined

afterEach(async () => {
  await proc?.stop()
  await server?.close()
  await cleanup?.()
  await nc?.drain()
  proc = undefined
  server = undefined
  nc = undefined
  cleanup = undefined
})

describe('ingestor main', () => {
  it('refuses an unknown EXCHANGE at start-up and names the known ones', async () => {
    proc = startService('ingestor', 'ingestor', { EXCHANGE: 'nosuchexchange', NATS_URL: await testNatsUrl() })
    const running = proc
    const code = await new Promise((resolve) => running.child.once('exit', (c) => resolve(c)))
    expect(code).toBe(1)
    const fatal = running.lines.find((l) => l['level'] === 60)
    expect(fatal?.['err']).toMatchObject({
      code: 'ARB_ERR_UNKNOWN_EXCHANGE',
      message: `unknown exchange "nosuchexchange"; known exchanges: ${Object.keys(adapters).join(', ')}`,
    })
  })

  it('streams ticks to JetStream, beats, and stops cleanly on SIGTERM', async () => {
    const natsUrl = await testNatsUrl()
    const prefix = uniqueName('ingmain')
    const topo = topology(prefix)
    nc = await connectNats(natsUrl, log, 'ingestor-main-test')
    const conn = nc
    cleanup = async () => {
      const jsm = await jetstreamManager(conn)
      await jsm.streams.delete(topo.ticksStream).catch(() => undefined)
      await jsm.streams.delete(topo.signalsStream).catch(() => undefined)
    }
    const beats: Heartbeat[] = []
    const sub = nc.subscribe(topo.heartbeats)
    void (async () => {
      for await (const m of sub) beats.push(heartbeatDecoder.decode(m.data))
    })()
    server = await startReplayServer({ frames: SKL, afterFirstMessage: true })
    proc = startService('ingestor', 'ingestor', {
      EXCHANGE: 'coinbase',
      EXCHANGE_URL: server.url,
      PAIRS: 'SKL-GBP',
      NATS_URL: natsUrl,
      NATS_PREFIX: prefix,
      HEARTBEAT_MS: '200',
      INSTANCE_ID: 'it-1',
    })

    const beat = await eventually(
      () => beats.find((b) => b.status === 'ok' && b.counters['published'] === 2),
      15_000,
      'a heartbeat with two published ticks',
    )
    expect(beat).toMatchObject({ service: 'ingestor', instance: 'it-1', exchange: 'coinbase' })
    expect(beat.lastMessageTs).toBeGreaterThan(0)
    // The process gauges an operator or the soak bench reads: plausible values for a small Node process.
    const gauges = beat.process!
    expect(gauges.rssBytes).toBeGreaterThan(10 * 2 ** 20)
    expect(gauges.rssBytes).toBeLessThan(2 ** 30)
    expect(gauges.heapUsedBytes).toBeGreaterThan(0)
    expect(gauges.heapUsedBytes).toBeLessThan(gauges.rssBytes)
    expect(gauges.eventLoopDelayP99Ms).toBeGreaterThanOrEqual(0)
    expect(gauges.eventLoopDelayP99Ms).toBeLessThan(1000)
    // At least the NATS socket, the exchange socket and the heartbeat timer.
    expect(gauges.activeResources).toBeGreaterThanOrEqual(3)
    expect(gauges.openFds).toBeGreaterThanOrEqual(5)
    const jsm = await jetstreamManager(nc)
    const stored = await jsm.streams.getMessage(topo.ticksStream, { seq: 1 })
    expect(stored?.subject).toBe(topo.tick('coinbase', 'SKL-GBP'))
    expect(tickDecoder.decode(stored!.data).pair).toBe('SKL-GBP')

    const messages = proc.lines.map((l) => l['msg'])
    expect(messages).toEqual(expect.arrayContaining(['starting', 'nats connected', 'connected', 'subscribed']))
    expect(proc.lines.find((l) => l['msg'] === 'starting')).toMatchObject({ exchange: 'coinbase', pairs: ['SKL-GBP'] })
    expect(await proc.stop()).toBe(0)
    expect(proc.lines.at(-1)?.['msg']).toBe('stopped')
    sub.unsubscribe()
  })
})
