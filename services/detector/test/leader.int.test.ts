import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { connectNats, natsIsUp, type NatsConnection } from '@arb/bus'
import { createLogger } from '@arb/observability'
import { eventually, startNats, testNatsUrl, uniqueName } from '@arb/testkit'
import { leaseNames, startLeaderLease, type LeaderLease } from '../src/leader.js'

const log = createLogger({ service: 'leader-test', level: 'silent' })
const TTL_MS = 400
let url: string
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  url = await testNatsUrl()
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

interface Member {
  readonly nc: NatsConnection
  readonly lease: LeaderLease
  readonly changes: boolean[]
}

const members = async (n: number, prefix = uniqueName('lease')): Promise<Member[]> => {
  const out: Member[] = []
  for (let i = 0; i < n; i++) {
    const nc = await connectNats(url, log, `lease-${i}`)
    const changes: boolean[] = []
    const lease = await startLeaderLease({
      nc,
      prefix,
      instance: `member-${i}`,
      ttlMs: TTL_MS,
      log,
      onChange: (l) => changes.push(l),
    })
    cleanups.push(async () => {
      await lease.stop()
      if (!nc.isClosed()) await nc.close()
    })
    out.push({ nc, lease, changes })
  }
  cleanups.push(async () => {
    const nc = await connectNats(url, log, 'lease-cleanup')
    await (await jetstreamManager(nc)).streams.delete(leaseNames(prefix).stream).catch(() => undefined)
    await nc.close()
  })
  return out
}

const leaders = (ms: Member[]) => ms.filter((m) => m.lease.isLeader())
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('leader lease on JetStream', () => {
  it('elects exactly one leader among three, and keeps it while it renews', async () => {
    const ms = await members(3)
    const [leader] = await eventually(() => (leaders(ms).length === 1 ? leaders(ms) : undefined), 5000, 'a leader')
    for (let i = 0; i < 8; i++) {
      await sleep(TTL_MS / 2)
      expect(leaders(ms)).toEqual([leader])
    }
    expect(ms.filter((m) => m !== leader).every((m) => m.lease.holder() === leader?.lease.holder())).toBe(true)
  })

  it('hands over within a poll when the leader releases the lease', async () => {
    const ms = await members(2)
    const first = await eventually(() => leaders(ms)[0], 5000, 'a leader')
    const other = ms.find((m) => m !== first)!
    const t0 = Date.now()
    await first.lease.stop()
    expect(first.lease.isLeader()).toBe(false)
    await eventually(() => (other.lease.isLeader() ? true : undefined), 5000, 'takeover')
    // Released: no need to wait out the TTL.
    expect(Date.now() - t0).toBeLessThan(TTL_MS * 2)
    expect(first.changes).toEqual([true, false])
  })

  it('takes over a lease that stopped being renewed, never before the old leader stopped counting itself leader', async () => {
    const ms = await members(2)
    const first = await eventually(() => leaders(ms)[0], 5000, 'a leader')
    const other = ms.find((m) => m !== first)!
    await first.nc.close()
    let firstStoppedAt = 0
    let otherStartedAt = 0
    await eventually(
      () => {
        const now = performance.now()
        if (!first.lease.isLeader() && firstStoppedAt === 0) firstStoppedAt = now
        if (other.lease.isLeader() && otherStartedAt === 0) otherStartedAt = now
        // Never two leaders at once.
        expect(first.lease.isLeader() && other.lease.isLeader()).toBe(false)
        return otherStartedAt > 0 ? true : undefined
      },
      10_000,
      'takeover after the TTL',
    )
    expect(firstStoppedAt).toBeGreaterThan(0)
    expect(otherStartedAt).toBeGreaterThanOrEqual(firstStoppedAt)
    expect(other.lease.stats.terms).toBe(1)
  })

  it('takes its own lease back as soon as NATS returns from an outage, not a TTL later', async () => {
    // A server of the test's own, stopped longer than the lease stays valid (3/4 TTL).
    const nats = await startNats()
    cleanups.push(() => nats.close())
    const ttlMs = 4000
    const nc = await connectNats(nats.url, log, 'lease-outage')
    const changes: boolean[] = []
    const lease = await startLeaderLease({
      nc,
      prefix: '',
      instance: 'lone',
      ttlMs,
      log,
      onChange: (l) => changes.push(l),
    })
    cleanups.push(async () => {
      await lease.stop()
      await nc.close()
    })
    expect(lease.isLeader()).toBe(true)
    await nats.stop()
    await eventually(() => (lease.isLeader() ? undefined : true), ttlMs * 2, 'the lease lapsing during the outage')
    await nats.start()
    await eventually(() => (natsIsUp(nc) ? true : undefined), 10_000, 'reconnected')
    const backAt = Date.now()
    await eventually(() => (lease.isLeader() ? true : undefined), ttlMs * 2, 'leading again')
    // Waiting for its own record to go unrenewed for a TTL would take at least ttlMs.
    expect(Date.now() - backAt).toBeLessThan(ttlMs)
    expect(changes).toEqual([true, false, true])
    expect(lease.stats.terms).toBe(2)
  })
})
