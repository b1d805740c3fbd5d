import { describe, expect, it } from 'vitest'
import {
  tickDecoder,
  parseConfig,
  PersisterConfig,
  ConfigError,
  topology,
  tickMsgId,
  decodeLiveTick,
  MAX_MESSAGE_BYTES,
  MAX_TICK_AHEAD_MS,
} from './index.js'

const tick = {
  v: 1,
  exchange: 'coinbase',
  pair: 'BTC-EUR',
  seq: '42',
  exchangeTs: 1_700_000_000_000,
  receivedTs: 1_700_000_000_010,
  bids: [[100, 1]],
  asks: [[101, 2]],
}

describe('tickDecoder', () => {
  it('accepts a valid tick', () => {
    expect(tickDecoder.decode(JSON.stringify(tick))).toEqual(tick)
  })
  it.each([
    ['not JSON', '{', /not JSON/],
    ['a string price', { ...tick, bids: [['100', 1]] }, /bids\/0\/0/],
    ['a missing pair', { ...tick, pair: undefined }, /pair/],
    ['a negative size', { ...tick, asks: [[101, -1]] }, /asks\/0\/1/],
    ['a lower-case pair', { ...tick, pair: 'btc-eur' }, /pair/],
    ['a timestamp in seconds', { ...tick, receivedTs: 1_700_000_000 }, /receivedTs/],
    ['a crossed book', { ...tick, bids: [[102, 1]] }, /crossed book/],
    ['a NUL in seq', { ...tick, seq: '4\u00002' }, /NUL/],
    ['11 levels', { ...tick, asks: Array.from({ length: 11 }, (_, i) => [101 + i, 1]) }, /asks/],
  ])('rejects %s', (_name, value, why) => {
    expect(() => tickDecoder.decode(typeof value === 'string' ? value : JSON.stringify(value))).toThrow(why)
  })
})

describe('decodeLiveTick', () => {
  const now = tick.receivedTs
  it('accepts a tick up to MAX_TICK_AHEAD_MS ahead of the clock, and any age', () => {
    expect(decodeLiveTick(JSON.stringify(tick), now - MAX_TICK_AHEAD_MS)).toEqual(tick)
    expect(decodeLiveTick(JSON.stringify(tick), now + 86_400_000)).toEqual(tick)
  })
  it('rejects a tick from further ahead, naming by how much', () => {
    const ahead = { ...tick, receivedTs: now + MAX_TICK_AHEAD_MS + 5000 }
    expect(() => decodeLiveTick(JSON.stringify(ahead), now)).toThrow(/receivedTs 65 s ahead/)
  })
  it('refuses an oversized payload before parsing it', () => {
    const big = JSON.stringify({ ...tick, pad: 'x'.repeat(MAX_MESSAGE_BYTES) })
    expect(() => tickDecoder.decode(big)).not.toThrow()
    expect(() => decodeLiveTick(big, now)).toThrow(/bytes, limit 65536/)
  })
  it('rejects what JSON cannot carry: NaN and Infinity', () => {
    expect(() => decodeLiveTick(JSON.stringify(tick).replace('[[100,1]]', '[[NaN,1]]'), now)).toThrow(/not JSON/)
    expect(() => decodeLiveTick(JSON.stringify(tick).replace('[[100,1]]', '[[1e999,1]]'), now)).toThrow(/bids\/0\/0/)
  })
})

describe('parseConfig', () => {
  it('applies defaults and converts numbers', () => {
    const c = parseConfig(PersisterConfig, { BATCH_SIZE: '100' })
    expect(c.BATCH_SIZE).toBe(100)
    expect(c.NATS_URL).toBe('nats://127.0.0.1:4222')
  })
  it('names every bad variable', () => {
    try {
      parseConfig(PersisterConfig, { BATCH_SIZE: 'many', LOG_LEVEL: 'loud' })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      const paths = (err as ConfigError).issues.map((i) => i.path)
      expect(paths).toContain('BATCH_SIZE')
      expect(paths).toContain('LOG_LEVEL')
    }
  })
})

describe('topology', () => {
  it('namespaces subjects and streams by prefix', () => {
    expect(topology().tick('kraken', 'BTC-EUR')).toBe('ticks.kraken.BTC-EUR')
    const t = topology('t1')
    expect(t.allTicks).toBe('t1.ticks.>')
    expect(t.ticksStream).toBe('t1_TICKS')
    expect(tickMsgId({ exchange: 'kraken', pair: 'BTC-EUR', seq: '7' })).toBe('kraken:BTC-EUR:7')
  })
})
