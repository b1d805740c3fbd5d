import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { Signal } from '@arb/contracts'
import { encodeCursor } from '../src/signals-query.js'
import { insertSignals, makeSignal, startGateway, T0, type Harness } from './helpers.js'

/**
 * Every route with generated junk in its query string and path: whatever arrives, the answer is
 * a JSON object that names the problem (4xx) or the data (200), never a 5xx, and nothing sent
 * reaches PostgreSQL as SQL.
 */

const stored: Signal[] = Array.from({ length: 12 }, (_, i) =>
  makeSignal({ id: `f${i}`, state: i % 3 === 0 ? 'closed' : 'opened', ts: T0 + i * 1000, openedAt: T0 }),
)

const SQL_INJECTIONS = [
  "' OR '1'='1",
  "BTC-EUR' OR '1'='1' --",
  "'; DROP TABLE arb_signals; --",
  '1; DELETE FROM arb_signals',
  "x' UNION SELECT payload, id, state, 'z' FROM arb_signals --",
  '1 OR 1=1',
  "') OR pg_sleep(5) IS NULL --",
  '$1',
  '\\',
  '%27%20OR%201%3D1',
]

const KEYS = ['pair', 'exchange', 'state', 'from', 'to', 'limit', 'cursor']

/** Values of every kind a caller or an attacker sends: text, numbers, dates, injections, control characters. */
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(...SQL_INJECTIONS),
  fc.constantFrom('', ' ', 'null', 'undefined', 'NaN', 'Infinity', '-1', '0', '1e309', '9'.repeat(40), '\u0000'),
  fc.integer().map(String),
  fc.double().map(String),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    'BTC-EUR',
    'btc-eur',
    'BTC_EUR',
    'coinbase',
    'Kraken',
    'opened',
    'OPENED',
    '2024-02-30',
    '2024-01-01T00:00:00',
  ),
  fc
    .tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), fc.string({ maxLength: 10 }))
    .map(([ts, id, state]) => Buffer.from(JSON.stringify([ts, id, state])).toString('base64url')),
  fc.string({ maxLength: 600 }),
)

/** A query string, percent-encoded as a client would, or left raw (bad escapes, bare `&`, `=`, `#`). */
const queryString = fc.oneof(
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 })), value), { maxLength: 5 })
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
  fc.string({ maxLength: 80 }).map((raw) => raw.replace(/[\s#]/g, '')),
  fc.constantFrom('%', '%zz', 'pair=%E0%A4%A', 'limit=%00', '&&&', '=', 'pair', 'pair=&pair=', 'limit[]=1'),
)

/** A path segment for /signals/:id, encoded or raw, including what decodes to NUL or invalid UTF-8. */
const idSegment = fc.oneof(
  fc.string({ minLength: 1, maxLength: 200 }).map(encodeURIComponent),
  fc.constantFrom(...SQL_INJECTIONS).map(encodeURIComponent),
  fc.constantFrom('%00', 'a%00b', '%', '%zz', '%E0%A4%A', '%C0%AF', '..', '%2e%2e', '%2F', 'f1', 'f1%20'),
)

const ROUTES = ['/signals', '/health', '/ready', '/services', '/nope'] as const

describe('fuzzed requests', () => {
  let gw: Harness
  let tableRows: () => Promise<number>

  beforeAll(async () => {
    gw = await startGateway()
    await insertSignals(gw.app.pg, stored)
    tableRows = async () => Number((await gw.app.pg.query('SELECT count(*) AS n FROM arb_signals')).rows[0].n)
  })
  afterAll(async () => {
    await gw.close()
  })

  const expectWellFormed = (
    url: string,
    res: { statusCode: number; headers: Record<string, unknown>; body: string },
  ) => {
    expect(res.statusCode, `${url} -> ${res.body}`).toBeLessThan(500)
    expect(String(res.headers['content-type']), url).toMatch(/^application\/json/)
    const body = JSON.parse(res.body) as unknown
    if (res.statusCode >= 400) {
      expect(body, url).toMatchObject({ error: expect.any(String) })
      if (res.statusCode === 400) expect(body, url).toMatchObject({ message: expect.any(String) })
    }
  }

  it('answers every route with any query string: JSON, 200/400/404, never 5xx', async () => {
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), queryString, async (route, qs) => {
        const url = `${route}?${qs}`
        const res = await gw.app.inject({ method: 'GET', url })
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        expectWellFormed(url, res)
      }),
      { numRuns: 600 },
    )
    // The generator does reach both sides: rejected input and accepted filters.
    expect(statuses.get(400)).toBeGreaterThan(50)
    expect(statuses.get(200)).toBeGreaterThan(50)
    expect(await tableRows()).toBe(stored.length)
  })

  it('answers /signals/:id for any id: JSON 200/400/404, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(idSegment, queryString, async (id, qs) => {
        const url = `/signals/${id}${qs === '' ? '' : `?${qs}`}`
        const res = await gw.app.inject({ method: 'GET', url })
        expectWellFormed(url, res)
        if (res.statusCode === 200) expect(stored.some((s) => s.id === res.json().id)).toBe(true)
      }),
      { numRuns: 600 },
    )
    expect(await tableRows()).toBe(stored.length)
  })

  it('keeps SQL injection inert in every filter, the cursor and the id', async () => {
    for (const attack of SQL_INJECTIONS) {
      for (const key of KEYS.filter((k) => k !== 'cursor')) {
        const url = `/signals?${key}=${encodeURIComponent(attack)}`
        const res = await gw.app.inject({ method: 'GET', url })
        expect(res.statusCode, url).toBe(400)
        expect(res.json().field, url).toBe(key)
      }
      // A well-formed cursor carries text of the caller's choosing: it is a bound value, so it
      // selects by plain comparison and returns no row that is not stored.
      const cursor = encodeCursor({ ts: '2024-01-01T00:00:05.000000Z', id: attack, state: 'opened' })
      const page = await gw.app.inject({ method: 'GET', url: `/signals?limit=500&cursor=${cursor}` })
      expect(page.statusCode).toBe(200)
      const items = page.json().items as Signal[]
      expect(items.every((s) => s.ts <= T0 + 5000)).toBe(true)
      expect(items.length).toBeLessThanOrEqual(stored.length)

      const byId = await gw.app.inject({ method: 'GET', url: `/signals/${encodeURIComponent(attack)}` })
      expect(byId.statusCode).toBe(404)
    }
    expect(await tableRows()).toBe(stored.length)
    const all = await gw.app.inject({ method: 'GET', url: '/signals?limit=500' })
    expect(all.json().items).toHaveLength(stored.length)
  })

  it('rejects ids and cursors PostgreSQL text cannot hold with a 400, not a database error', async () => {
    for (const url of [
      '/signals/%00',
      '/signals/a%00b',
      `/signals?cursor=${encodeCursor({ ts: '2024-01-01T00:00:05.000000Z', id: 'a\u0000b', state: 'opened' })}`,
    ]) {
      const res = await gw.app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(400)
      expect(res.json()).toMatchObject({ error: 'Bad Request', message: expect.any(String) })
    }
  })
})
