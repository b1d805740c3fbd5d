import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Signal } from '@arb/contracts'
import { encodeCursor } from '../src/signals-query.js'
import { insertSignals, makeSignal, startGateway, T0, type Harness } from './helpers.js'

interface Page {
  items: Signal[]
  nextCursor: string | null
}

const MIN = 60_000

// 3 opportunities with full lifecycles plus 20 single events; several share a timestamp so the
// tie-break (id, state) is exercised by the pagination.
const lifecycle: Signal[] = [
  makeSignal({ id: 'a01', state: 'opened', ts: T0 + 1 * MIN, openedAt: T0 + 1 * MIN }),
  makeSignal({ id: 'a01', state: 'updated', ts: T0 + 2 * MIN, openedAt: T0 + 1 * MIN, netProfit: 0.8 }),
  makeSignal({ id: 'a01', state: 'closed', ts: T0 + 3 * MIN, openedAt: T0 + 1 * MIN, reason: 'spread below close' }),
  makeSignal({
    id: 'b01',
    state: 'opened',
    pair: 'ETH-EUR',
    buy: { exchange: 'bl3p', price: 2000, fee: 0.0025 },
    sell: { exchange: 'kraken', price: 2010, fee: 0.0026 },
    ts: T0 + 2 * MIN,
    openedAt: T0 + 2 * MIN,
  }),
  makeSignal({
    id: 'b01',
    state: 'closed',
    pair: 'ETH-EUR',
    buy: { exchange: 'bl3p', price: 2000, fee: 0.0025 },
    sell: { exchange: 'kraken', price: 2010, fee: 0.0026 },
    ts: T0 + 4 * MIN,
    openedAt: T0 + 2 * MIN,
  }),
  // Opened and updated in the same millisecond: lifecycle order must still hold.
  makeSignal({ id: 'c01', state: 'opened', ts: T0 + 5 * MIN, openedAt: T0 + 5 * MIN }),
  makeSignal({ id: 'c01', state: 'updated', ts: T0 + 5 * MIN, openedAt: T0 + 5 * MIN }),
]
const singles: Signal[] = Array.from({ length: 20 }, (_, i) =>
  makeSignal({
    id: `s${String(i).padStart(2, '0')}`,
    ts: T0 + 10 * MIN + Math.floor(i / 3) * MIN,
    openedAt: T0 + 10 * MIN + Math.floor(i / 3) * MIN,
    pair: i % 2 === 0 ? 'BTC-EUR' : 'ETH-BTC',
  }),
)
const all = [...lifecycle, ...singles]

const newestFirst = (xs: readonly Signal[]) =>
  [...xs].sort((a, b) =>
    a.ts !== b.ts ? b.ts - a.ts : a.id !== b.id ? (a.id < b.id ? 1 : -1) : a.state < b.state ? 1 : -1,
  )

describe('GET /signals', () => {
  let gw: Harness
  const get = async (url: string) => gw.app.inject({ method: 'GET', url })
  const page = async (url: string): Promise<Page> => {
    const res = await get(url)
    expect(res.statusCode, res.body).toBe(200)
    return res.json()
  }
  const pageAll = async (base: string): Promise<{ items: Signal[]; pages: number }> => {
    const items: Signal[] = []
    let pages = 0
    let cursor: string | null = null
    do {
      const sep = base.includes('?') ? '&' : '?'
      const p: Page = await page(cursor === null ? base : `${base}${sep}cursor=${encodeURIComponent(cursor)}`)
      items.push(...p.items)
      cursor = p.nextCursor
      pages++
      expect(pages).toBeLessThan(50)
    } while (cursor !== null)
    return { items, pages }
  }

  beforeAll(async () => {
    gw = await startGateway()
    await insertSignals(gw.app.pg, all)
  })
  afterAll(async () => {
    await gw.close()
  })

  it('returns the stored payloads newest first with the default limit', async () => {
    const p = await page('/signals')
    expect(p.items).toEqual(newestFirst(all))
    expect(p.nextCursor).toBeNull()
  })

  it('applies limit and hands out a cursor while rows remain', async () => {
    const p = await page('/signals?limit=3')
    expect(p.items).toEqual(newestFirst(all).slice(0, 3))
    expect(typeof p.nextCursor).toBe('string')
    const exact = await page(`/signals?limit=${all.length}`)
    expect(exact.items).toHaveLength(all.length)
    expect(exact.nextCursor).toBeNull()
  })

  it.each([1, 4, 7])('pages through everything with limit=%i without duplicates or gaps', async (limit) => {
    const { items, pages } = await pageAll(`/signals?limit=${limit}`)
    expect(items).toEqual(newestFirst(all))
    expect(pages).toBe(Math.ceil(all.length / limit))
  })

  it('pages through a filtered result', async () => {
    const { items } = await pageAll('/signals?pair=BTC-EUR&limit=2')
    expect(items).toEqual(newestFirst(all.filter((s) => s.pair === 'BTC-EUR')))
  })

  it.each<[string, (s: Signal) => boolean]>([
    ['pair=ETH-EUR', (s) => s.pair === 'ETH-EUR'],
    ['exchange=kraken', (s) => s.buy.exchange === 'kraken' || s.sell.exchange === 'kraken'],
    ['exchange=bl3p', (s) => s.buy.exchange === 'bl3p' || s.sell.exchange === 'bl3p'],
    ['state=closed', (s) => s.state === 'closed'],
    ['state=updated&pair=BTC-EUR', (s) => s.state === 'updated' && s.pair === 'BTC-EUR'],
    [`from=${T0 + 2 * MIN}&to=${T0 + 4 * MIN}`, (s) => s.ts >= T0 + 2 * MIN && s.ts <= T0 + 4 * MIN],
    [
      `from=${new Date(T0 + 2 * MIN).toISOString()}&to=${encodeURIComponent('2024-01-01T01:04:00+01:00')}`,
      (s) => s.ts >= T0 + 2 * MIN && s.ts <= T0 + 4 * MIN,
    ],
    [`from=${T0 + 15 * MIN}`, (s) => s.ts >= T0 + 15 * MIN],
    ['to=2024-01-01', (s) => s.ts <= T0],
    ['exchange=kraken&state=opened', (s) => s.sell.exchange === 'kraken' && s.state === 'opened'],
    ['pair=XRP-EUR', () => false],
  ])('filters by %s', async (qs, keep) => {
    const expected = newestFirst(all.filter(keep))
    const p = await page(`/signals?${qs}`)
    expect(p.items).toEqual(expected)
  })

  it.each<[string, string]>([
    ['state=bogus', 'state'],
    ['state=', 'state'],
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=2.5', 'limit'],
    ['limit=1&limit=2', 'limit'],
    [`from=${T0 + 2 * MIN}&to=${T0 + MIN}`, 'from'],
    ['from=yesterday', 'from'],
    ['from=2024-13-45', 'from'],
    ['from=2024-01-01T10:00:00', 'from'],
    ['to=1700000000', 'to'],
    ['cursor=!!!', 'cursor'],
    ['cursor=bm90IGpzb24', 'cursor'],
    [`cursor=${Buffer.from('{"ts":1}').toString('base64url')}`, 'cursor'],
    [`cursor=${Buffer.from('["2024-01-01", "a01", "opened"]').toString('base64url')}`, 'cursor'],
    [`cursor=${Buffer.from('["2024-01-01T00:00:00.000000Z", "a01", "gone"]').toString('base64url')}`, 'cursor'],
    ['pair=btc-eur', 'pair'],
    ['pair=BTCEUR', 'pair'],
    ['exchange=Kraken', 'exchange'],
    ['foo=1', 'foo'],
    ['pair=BTC-EUR&sort=asc', 'sort'],
  ])('rejects %s with a 400 naming %s', async (qs, field) => {
    const res = await get(`/signals?${qs}`)
    expect(res.statusCode, res.body).toBe(400)
    expect(res.json()).toEqual({ error: 'Bad Request', message: expect.any(String), field })
  })

  it('explains what is wrong in the message', async () => {
    expect((await get('/signals?state=bogus')).json().message).toBe('state must be one of: opened, updated, closed')
    expect((await get('/signals?limit=501')).json().message).toBe('limit must be <= 500')
    expect((await get('/signals?foo=1')).json().message).toBe('unknown query parameter foo')
    expect((await get('/signals?pair=btc')).json().message).toBe('pair must match ^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$')
    expect((await get('/signals?from=2024-02-30')).json().message).toBe('from is not a valid date: 2024-02-30')
  })

  describe('keeps SQL injection inert', () => {
    const attacks = [
      "BTC-EUR' OR '1'='1",
      "'; DROP TABLE arb_signals; --",
      '1 OR 1=1',
      "a01' UNION SELECT payload FROM arb_signals --",
      '$1',
    ]
    const rowCount = async () => Number((await gw.app.pg.query('SELECT count(*) AS n FROM arb_signals')).rows[0].n)

    it.each(['pair', 'exchange', 'state', 'from', 'to', 'limit'])('in %s: 400, nothing run', async (key) => {
      for (const attack of attacks) {
        const res = await get(`/signals?${key}=${encodeURIComponent(attack)}`)
        expect(res.statusCode, `${key}=${attack}`).toBe(400)
        expect(res.json().field).toBe(key)
      }
      expect(await rowCount()).toBe(all.length)
    })

    it('in a cursor: the id is only ever a bound value', async () => {
      for (const attack of attacks) {
        const cursor = encodeCursor({ ts: '2024-01-01T00:03:00.000000Z', id: attack, state: 'opened' })
        const p = await page(`/signals?cursor=${cursor}`)
        // Keyset position (T0+3min, attack, opened): everything strictly older, compared as plain text.
        const expected = newestFirst(all).filter(
          (s) =>
            s.ts < T0 + 3 * MIN ||
            (s.ts === T0 + 3 * MIN && (s.id < attack || (s.id === attack && s.state < 'opened'))),
        )
        expect(p.items).toEqual(expected)
      }
      expect(await rowCount()).toBe(all.length)
    })

    it('in /signals/:id: 404, nothing run', async () => {
      for (const attack of attacks) {
        const res = await get(`/signals/${encodeURIComponent(attack)}`)
        expect(res.statusCode, attack).toBe(404)
        expect(res.json()).toEqual({ error: 'Not Found', message: `signal ${attack} not found` })
      }
      expect(await rowCount()).toBe(all.length)
    })
  })

  describe('GET /signals/:id', () => {
    it('returns every event oldest first and the latest', async () => {
      const res = await get('/signals/a01')
      expect(res.statusCode).toBe(200)
      const a01 = lifecycle.filter((s) => s.id === 'a01')
      expect(res.json()).toEqual({ id: 'a01', events: a01, latest: a01[2], truncated: false })
    })

    it('orders events of one millisecond by lifecycle', async () => {
      const body = (await get('/signals/c01')).json()
      expect(body.events.map((s: Signal) => s.state)).toEqual(['opened', 'updated'])
      expect(body.latest.state).toBe('updated')
    })

    it('is a JSON 404 for an unknown id', async () => {
      const res = await get('/signals/zzz')
      expect(res.statusCode).toBe(404)
      expect(res.json()).toEqual({ error: 'Not Found', message: 'signal zzz not found' })
    })

    it('accepts ids as long as the contract allows and rejects longer ones', async () => {
      expect((await get(`/signals/${'x'.repeat(128)}`)).statusCode).toBe(404)
      const res = await get(`/signals/${'x'.repeat(129)}`)
      expect(res.statusCode).toBe(400)
      expect(res.json()).toEqual({ error: 'Bad Request', message: expect.any(String), field: 'id' })
    })
  })
})
