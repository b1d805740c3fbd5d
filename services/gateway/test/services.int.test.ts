import { afterEach, describe, expect, it } from 'vitest'
import type { Heartbeat } from '@arb/contracts'
import { eventually } from '@arb/testkit'
import { startGateway, type Harness } from './helpers.js'

interface Entry {
  service: string
  instance: string
  exchange?: string
  status: string
  startedAt: number
  lastSeen: number
  ageMs: number
  lastMessageTs: number | null
  lastMessageAgeMs: number | null
  counters: Record<string, number>
  rates: Record<string, number>
}

const beat = (over: Partial<Heartbeat>): Heartbeat => ({
  v: 1,
  service: 'ingestor',
  instance: 'i-1',
  startedAt: Date.now() - 60_000,
  ts: Date.now(),
  status: 'ok',
  lastMessageTs: Date.now() - 5,
  counters: { frames: 10, ticks: 7 },
  ...over,
})

const services = async (gw: Harness): Promise<Entry[]> => {
  const res = await gw.app.inject({ method: 'GET', url: '/services' })
  expect(res.statusCode).toBe(200)
  return res.json()
}

describe('GET /services', () => {
  let gw: Harness | undefined
  afterEach(async () => {
    await gw?.close()
    gw = undefined
  })

  it('lists only the gateway itself before any heartbeat', async () => {
    gw = await startGateway()
    const list = await services(gw)
    expect(list).toEqual([
      {
        service: 'gateway',
        instance: 'gw-test',
        status: 'ok',
        startedAt: expect.any(Number),
        lastSeen: expect.any(Number),
        ageMs: 0,
        lastMessageTs: null,
        lastMessageAgeMs: null,
        counters: { requests: 0, serverErrors: 0, heartbeatsReceived: 0, heartbeatsInvalid: 0 },
        rates: {},
      },
    ])
  })

  it('lists every instance heard on the prefixed subject, sorted, with the last heartbeat of each', async () => {
    gw = await startGateway()
    const h = gw
    const publish = (hb: Heartbeat) => h.nc.publish(h.topo.heartbeats, JSON.stringify(hb))
    publish(beat({ service: 'ingestor', instance: 'i-2', exchange: 'coinbase' }))
    publish(beat({ service: 'ingestor', instance: 'i-1', exchange: 'bl3p', counters: { frames: 1 } }))
    publish(beat({ service: 'ingestor', instance: 'i-1', exchange: 'bl3p', counters: { frames: 2 } }))
    publish(beat({ service: 'detector', instance: 'd-1', status: 'degraded', reason: 'why', lastMessageTs: null }))
    // Same subject without our prefix: another test's traffic, never ours.
    h.nc.publish('arb.heartbeats', JSON.stringify(beat({ service: 'persister', instance: 'other' })))

    const list = await eventually(async () => {
      const l = await services(h)
      return l.length === 4 && l.find((e) => e.instance === 'i-1')?.counters['frames'] === 2 ? l : undefined
    })
    expect(list.map((e) => [e.service, e.instance])).toEqual([
      ['detector', 'd-1'],
      ['gateway', 'gw-test'],
      ['ingestor', 'i-1'],
      ['ingestor', 'i-2'],
    ])
    const i1 = list[2]
    expect(i1).toMatchObject({ exchange: 'bl3p', status: 'ok', counters: { frames: 2 } })
    expect(i1?.ageMs).toBeGreaterThanOrEqual(0)
    expect(i1?.lastSeen).toBeLessThanOrEqual(Date.now())
    expect(list[0]).toMatchObject({ status: 'degraded', reason: 'why', lastMessageTs: null })
    expect(list[0]).not.toHaveProperty('exchange')
    expect(i1).not.toHaveProperty('reason')
    expect(list[1]?.counters).toMatchObject({ heartbeatsReceived: 4 })
  })

  it('ignores and counts heartbeats that break the contract', async () => {
    gw = await startGateway()
    const h = gw
    h.nc.publish(h.topo.heartbeats, 'not json')
    h.nc.publish(h.topo.heartbeats, JSON.stringify({ ...beat({}), v: 2 }))
    h.nc.publish(h.topo.heartbeats, JSON.stringify({ ...beat({}), service: 'rogue' }))
    h.nc.publish(h.topo.heartbeats, JSON.stringify(beat({ instance: 'good' })))
    const list = await eventually(async () => {
      const l = await services(h)
      return l.some((e) => e.instance === 'good') ? l : undefined
    })
    expect(list.map((e) => e.instance)).toEqual(['gw-test', 'good'])
    expect(list[0]?.counters).toMatchObject({ heartbeatsReceived: 1, heartbeatsInvalid: 3 })
  })

  it('gives per-second rates between two beats of one instance and the age of its last message', async () => {
    gw = await startGateway()
    const h = gw
    const startedAt = Date.now() - 60_000
    const ts = Date.now()
    const publish = (hb: Heartbeat) => h.nc.publish(h.topo.heartbeats, JSON.stringify(hb))
    const common = { instance: 'r-1', exchange: 'kraken', startedAt, lastMessageTs: ts - 1500 } as const
    publish(beat({ ...common, ts: ts - 2000, counters: { frames: 100, ticks: 40, resyncs: 3, reconnects: 1 } }))
    publish(beat({ ...common, ts, counters: { frames: 500, ticks: 140, resyncs: 3, reconnects: 2 } }))
    const entry = await eventually(async () => {
      const e = (await services(h)).find((x) => x.instance === 'r-1')
      return e?.counters['frames'] === 500 ? e : undefined
    })
    expect(entry.rates).toEqual({ frames: 200, ticks: 50, resyncs: 0, reconnects: 0.5 })
    expect(entry.lastMessageAgeMs).toBeGreaterThanOrEqual(1500)
    expect(entry.lastMessageAgeMs).toBeLessThan(60_000)

    // A restart that reuses the instance id starts its counters again: no negative or bogus rate.
    publish(beat({ ...common, startedAt: ts, ts: ts + 1000, counters: { frames: 5, ticks: 1 } }))
    const restarted = await eventually(async () => {
      const e = (await services(h)).find((x) => x.instance === 'r-1')
      return e?.counters['frames'] === 5 ? e : undefined
    })
    expect(restarted.rates).toEqual({})
  })

  it('lists itself once even when its own heartbeat comes back over NATS', async () => {
    gw = await startGateway()
    const h = gw
    h.nc.publish(h.topo.heartbeats, JSON.stringify(beat({ service: 'gateway', instance: 'gw-test' })))
    await eventually(async () => ((await services(h))[0]?.counters['heartbeatsReceived'] === 1 ? true : undefined))
    const list = await services(h)
    expect(list.filter((e) => e.service === 'gateway')).toHaveLength(1)
    expect(list[0]?.ageMs).toBe(0)
  })

  it('forgets an instance not heard from within SERVICE_TTL_MS and keeps one that keeps beating', async () => {
    gw = await startGateway({ ttlMs: 300 })
    const h = gw
    const send = (instance: string) => h.nc.publish(h.topo.heartbeats, JSON.stringify(beat({ instance })))
    send('short-lived')
    const steady = setInterval(() => send('steady'), 100)
    try {
      await eventually(async () => ((await services(h)).length === 3 ? true : undefined))
      const gone = await eventually(async () => {
        const l = await services(h)
        return l.some((e) => e.instance === 'short-lived') ? undefined : l
      })
      expect(gone.map((e) => e.instance)).toEqual(['gw-test', 'steady'])
    } finally {
      clearInterval(steady)
    }
  })
})
