import { describe, expect, it } from 'vitest'
import type { Tick } from '@arb/contracts'
import { TickBatch, type StoredTick } from '@arb/storage'
import { TickRowDecoder } from './tick-reader.js'

const T0 = 1_795_564_800_000
const ticks: StoredTick[] = [
  {
    v: 1,
    exchange: 'coinbase',
    pair: 'BTC-EUR',
    seq: '1',
    exchangeTs: T0 - 3,
    receivedTs: T0,
    bids: [
      [49_990.5, 0.5],
      [49_980, 1.25],
    ],
    asks: [[50_000.01, 0.4]],
  },
  { v: 1, exchange: 'bl3p', pair: 'ETH-EUR', seq: 'é7', exchangeTs: null, receivedTs: T0 + 1.5, bids: [], asks: [] },
  {
    v: 1,
    exchange: 'kraken',
    pair: 'BTC-EUR',
    seq: '123456789',
    exchangeTs: null,
    receivedTs: T0 + 100,
    bids: Array.from({ length: 10 }, (_, k) => [50_000 - k, 0.1 * (k + 1)] as [number, number]),
    asks: Array.from({ length: 10 }, (_, k) => [50_001 + k, 1 / (k + 3)] as [number, number]),
  },
]

/** PostgreSQL's binary COPY format is the same both ways, so the persister's encoder makes the input. */
const encoded = () => {
  const b = new TickBatch(ticks.length)
  for (const t of ticks) b.add(t)
  return b.bytes()
}

describe('TickRowDecoder', () => {
  it('decodes binary COPY rows into the ticks that were encoded', () => {
    const out: Tick[] = []
    new TickRowDecoder(out).push(encoded())
    expect(out).toEqual(ticks)
  })

  it('puts rows split across messages back together, whatever the split', () => {
    const bytes = encoded()
    for (const size of [1, 7, 19, 20, 64, 333]) {
      const out: Tick[] = []
      const d = new TickRowDecoder(out)
      for (let off = 0; off < bytes.length; off += size) d.push(Buffer.from(bytes.subarray(off, off + size)))
      expect(out, `chunks of ${size}`).toEqual(ticks)
    }
  })

  it('refuses what is not a binary COPY stream', () => {
    expect(() => new TickRowDecoder([]).push(Buffer.from('ts,exchange,pair\n1,2,3\n'))).toThrow(/binary COPY/)
  })
})
