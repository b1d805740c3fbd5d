import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { jetstream } from '@nats-io/jetstream'
import { topology, type Topology } from '@arb/contracts'
import { createLogger } from '@arb/observability'
import { eventually, startNats, uniqueName, type OwnNats } from '@arb/testkit'
import {
  connectNats,
  DEFAULT_STREAM_SETTINGS,
  ensureStreams,
  jsPublisher,
  natsIsUp,
  type NatsConnection,
} from '../src/index.js'
import type { PublishBufferSettings } from '../src/publisher.js'

/**
 * The publisher's buffer against a nats-server of the test's own, stopped and started again on
 * the same port and store: what it holds, in which order, with which ids, and what it gives up.
 */

const log = createLogger({ service: 'publisher-test', level: process.env['LOG_LEVEL'] ?? 'silent' })
let nats: OwnNats
let nc: NatsConnection
let topo: Topology

beforeAll(async () => {
  nats = await startNats()
  nc = await connectNats(nats.url, log, 'publisher-test')
})

afterAll(async () => {
  await nc?.close()
  await nats?.close()
})

afterEach(async () => {
  // Every test leaves the server running for the next one.
  await nats.start()
  await eventually(() => (natsIsUp(nc) ? true : undefined), 10_000, 'reconnected')
})

const setup = async (buffer: PublishBufferSettings) => {
  topo = topology(uniqueName('pub'))
  await ensureStreams(nc, topo, DEFAULT_STREAM_SETTINGS, log)
  return jsPublisher(nc, log, { buffer })
}

const subject = () => topo.tick('coinbase', 'BTC-EUR')
const id = (i: number) => `coinbase:BTC-EUR:${i}`
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k)

/** The Nats-Msg-Id of every message in the test's TICKS stream, in stream order. */
const storedIds = async (): Promise<string[]> => {
  const consumer = await jetstream(nc).consumers.get(topo.ticksStream)
  const ids: string[] = []
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 })
    let n = 0
    for await (const m of batch) {
      ids.push(m.headers?.get('Nats-Msg-Id') ?? '')
      n++
    }
    if (n === 0) return ids
  }
}

const down = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
  await nats.stop(signal)
  await eventually(() => (natsIsUp(nc) ? undefined : true), 5000, 'the client to notice')
}

describe('jsPublisher through a NATS outage', () => {
  it('holds what is published while NATS is down and sends it after, in order, with the original ids', async () => {
    const pub = await setup({ maxMessages: 1000, policy: 'drop-oldest' })
    for (const i of range(0, 100)) pub.publish(subject(), `{"i":${i}}`, id(i))
    await eventually(() => (pub.stats.published === 100 ? true : undefined), 10_000, '100 acks')

    await down()
    for (const i of range(100, 300)) pub.publish(subject(), `{"i":${i}}`, id(i))
    // Nothing is sent into the outage: it would only time out.
    expect(pub.stats).toMatchObject({ buffered: 200, inFlight: 0, bufferDropped: 0 })
    await nats.start()
    await eventually(() => (pub.stats.buffered === 0 ? true : undefined), 15_000, 'the buffer drained')

    expect(pub.stats).toMatchObject({ published: 300, republished: 200, duplicates: 0, bufferDropped: 0 })
    expect(pub.stats.bufferPeak).toBe(200)
    expect(await storedIds()).toEqual(range(0, 300).map(id))
  })

  it('drop-oldest gives up the oldest held messages once full, and counts them', async () => {
    const pub = await setup({ maxMessages: 50, policy: 'drop-oldest' })
    await down()
    for (const i of range(0, 80)) pub.publish(subject(), `{"i":${i}}`, id(i))
    expect(pub.stats).toMatchObject({ buffered: 50, bufferPeak: 50, bufferDropped: 30 })
    await nats.start()
    await eventually(() => (pub.stats.buffered === 0 ? true : undefined), 15_000, 'the buffer drained')
    expect(await storedIds()).toEqual(range(30, 80).map(id))
    expect(pub.stats).toMatchObject({ published: 50, republished: 50, bufferDropped: 30 })
  })

  it('drop-newest keeps the first held messages and gives up the later ones', async () => {
    const pub = await setup({ maxMessages: 50, policy: 'drop-newest' })
    await down()
    for (const i of range(0, 80)) pub.publish(subject(), `{"i":${i}}`, id(i))
    expect(pub.stats).toMatchObject({ buffered: 50, bufferDropped: 30 })
    await nats.start()
    await eventually(() => (pub.stats.buffered === 0 ? true : undefined), 15_000, 'the buffer drained')
    expect(await storedIds()).toEqual(range(0, 50).map(id))
  })

  it('sends again what was in flight when the server was killed, and JetStream stores each id once', async () => {
    const pub = await setup({ maxMessages: 100_000, policy: 'drop-oldest' })
    const n = 20_000
    for (const i of range(0, n)) pub.publish(subject(), `{"i":${i}}`, id(i))
    // Killed with acks outstanding: some messages are stored without their ack ever arriving.
    await eventually(() => (pub.stats.published > 0 ? true : undefined), 10_000, 'the first acks')
    await down('SIGKILL')
    const cutOff = pub.stats.buffered
    expect(cutOff).toBeGreaterThan(0)
    await nats.start()
    await eventually(() => (pub.stats.buffered === 0 ? true : undefined), 30_000, 'the buffer drained')

    const ids = await storedIds()
    expect(ids.length).toBe(n)
    expect(new Set(ids).size).toBe(n)
    // Every held message was acknowledged at last; those the killed server had stored come back as
    // duplicates of their own first attempt, which is not counted among first-attempt duplicates.
    expect(pub.stats).toMatchObject({ republished: cutOff, duplicates: 0, bufferDropped: 0, inFlight: 0 })
    expect(pub.stats.published).toBeLessThanOrEqual(n)
    expect(pub.stats.failed).toBeGreaterThan(0)
  })

  it('keeps sending again what JetStream refuses on a live connection (no stream yet) until it is stored', async () => {
    topo = topology(uniqueName('pub'))
    const pub = jsPublisher(nc, log, { buffer: { maxMessages: 1000, policy: 'drop-oldest' } })
    for (const i of range(0, 5)) pub.publish(subject(), `{"i":${i}}`, id(i))
    await eventually(() => (pub.stats.failed >= 10 ? true : undefined), 10_000, 'two rounds of refusals')
    expect(pub.stats).toMatchObject({ buffered: 5, published: 0 })
    await ensureStreams(nc, topo, DEFAULT_STREAM_SETTINGS, log)
    await eventually(() => (pub.stats.buffered === 0 ? true : undefined), 10_000, 'stored at last')
    expect(await storedIds()).toEqual(range(0, 5).map(id))
    expect(pub.stats).toMatchObject({ published: 5, republished: 5 })
  })

  it('times out an attempt nobody answers and sends it again until it is stored', async () => {
    topo = topology(uniqueName('pub'))
    // A core subscriber and no stream: the publish has a responder (no 503), but no ack ever comes.
    const silent = nc.subscribe(subject())
    const pub = jsPublisher(nc, log, { buffer: { maxMessages: 1000, policy: 'drop-oldest' } })
    const started = Date.now()
    for (const i of range(0, 3)) pub.publish(subject(), `{"i":${i}}`, id(i))
    await eventually(() => (pub.stats.failed >= 3 ? true : undefined), 10_000, 'three timeouts')
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000)
    expect(pub.stats).toMatchObject({ buffered: 3, published: 0 })
    await ensureStreams(nc, topo, DEFAULT_STREAM_SETTINGS, log)
    await eventually(() => (pub.stats.buffered === 0 ? true : undefined), 15_000, 'stored at last')
    silent.unsubscribe()
    expect(await storedIds()).toEqual(range(0, 3).map(id))
    expect(pub.stats).toMatchObject({ published: 3, republished: 3, inFlight: 0 })
  })

  it('flush waits for acknowledgements, but only up to its timeout while NATS is down', async () => {
    const pub = await setup({ maxMessages: 1000, policy: 'drop-oldest' })
    for (const i of range(0, 10)) pub.publish(subject(), '{}', id(i))
    expect(await pub.flush(5000)).toBe(0)
    await down()
    for (const i of range(10, 15)) pub.publish(subject(), '{}', id(i))
    const started = Date.now()
    expect(await pub.flush(300)).toBe(5)
    expect(Date.now() - started).toBeLessThan(2000)
  })
})
