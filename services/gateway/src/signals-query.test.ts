import { describe, expect, it } from 'vitest'
import { BadRequestError } from './errors.js'
import { decodeCursor, encodeCursor, parseTime, signalsSql, toFilter } from './signals-query.js'

describe('cursor', () => {
  it('round-trips, whatever the id holds', () => {
    for (const id of ['a01', "x' OR '1'='1", 'ünï/cødé', 'x'.repeat(128)]) {
      const c = { ts: '2024-01-01T00:00:00.123456Z', id, state: 'updated' as const }
      expect(decodeCursor(encodeCursor(c))).toEqual(c)
    }
  })

  it.each([
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('{').toString('base64url')],
    ['an object', Buffer.from('{"ts":"x"}').toString('base64url')],
    ['two elements', Buffer.from('["2024-01-01T00:00:00.000000Z","a"]').toString('base64url')],
    ['a millisecond ts', Buffer.from('["2024-01-01T00:00:00.000Z","a","opened"]').toString('base64url')],
    ['an impossible date', Buffer.from('["2024-02-31T00:00:00.000000Z","a","opened"]').toString('base64url')],
    ['an empty id', Buffer.from('["2024-01-01T00:00:00.000000Z","","opened"]').toString('base64url')],
    ['a numeric id', Buffer.from('["2024-01-01T00:00:00.000000Z",1,"opened"]').toString('base64url')],
    ['an unknown state', Buffer.from('["2024-01-01T00:00:00.000000Z","a","gone"]').toString('base64url')],
    ['a NUL in the id', Buffer.from('["2024-01-01T00:00:00.000000Z","a\\u0000","opened"]').toString('base64url')],
  ])('rejects %s', (_what, raw) => {
    expect(() => decodeCursor(raw)).toThrow(BadRequestError)
  })
})

describe('parseTime', () => {
  it('reads epoch ms and ISO 8601', () => {
    expect(parseTime('from', '1704067200000')).toBe(Date.UTC(2024, 0, 1))
    expect(parseTime('from', '2024-01-01')).toBe(Date.UTC(2024, 0, 1))
    expect(parseTime('from', '2024-01-01T01:00:00+01:00')).toBe(Date.UTC(2024, 0, 1))
  })
  it('rejects epoch seconds and impossible dates, naming the field', () => {
    expect(() => parseTime('to', '1704067200')).toThrow(expect.objectContaining({ field: 'to' }))
    expect(() => parseTime('from', '2024-13-01')).toThrow(expect.objectContaining({ field: 'from' }))
    expect(() => parseTime('from', '2024-02-30')).toThrow(expect.objectContaining({ field: 'from' }))
    expect(() => parseTime('from', '2024-01-01T25:00:00Z')).toThrow(expect.objectContaining({ field: 'from' }))
    expect(parseTime('from', '2024-02-29T23:59:59.999Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999))
  })
})

describe('signalsSql', () => {
  it('binds every value and never splices it into the text', () => {
    const evil = "x'; DROP TABLE arb_signals; --"
    const filter = toFilter({
      pair: 'BTC-EUR',
      exchange: 'kraken',
      state: 'opened',
      from: '2024-01-01',
      to: '2024-01-02',
      limit: 10,
      cursor: encodeCursor({ ts: '2024-01-01T00:00:00.000000Z', id: evil, state: 'opened' }),
    })
    const { text, values } = signalsSql(filter)
    expect(text).not.toContain(evil)
    expect(text).not.toContain('kraken')
    expect(values).toEqual([
      'BTC-EUR',
      'kraken',
      'opened',
      '2024-01-01T00:00:00.000Z',
      '2024-01-02T00:00:00.000Z',
      '2024-01-01T00:00:00.000000Z',
      evil,
      'opened',
      11,
    ])
  })
})
