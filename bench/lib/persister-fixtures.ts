import type { StoredTick } from '@arb/storage'

const EXCHANGES = ['coinbase', 'bl3p'] as const
const PAIRS = ['BTC-EUR', 'ETH-EUR', 'BTC-USD'] as const

/** mulberry32: the same seed gives the same ticks, so the COPY file matches what was published. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

/**
 * Deterministic order-book ticks: a random walk per pair, `levels` levels a side with prices
 * on a cent grid and sizes to 4 decimals, the shape the adapters publish.
 */
export function* ticks(n: number, levels: number, startMs: number, seed = 7): Generator<StoredTick> {
  const r = rng(seed)
  const mids = new Map<string, number>(PAIRS.map((p) => [p, p.startsWith('ETH') ? 2000 : 30_000]))
  for (let i = 0; i < n; i++) {
    const exchange = EXCHANGES[i % EXCHANGES.length] as string
    const pair = PAIRS[Math.floor(i / EXCHANGES.length) % PAIRS.length] as string
    const mid = (mids.get(pair) as number) * (1 + (r() - 0.5) * 1e-4)
    mids.set(pair, mid)
    const bids: [number, number][] = []
    const asks: [number, number][] = []
    for (let l = 0; l < levels; l++) {
      bids.push([Math.round((mid - 0.5 - l * 0.37) * 100) / 100, Math.ceil(r() * 1e6) / 1e4])
      asks.push([Math.round((mid + 0.5 + l * 0.41) * 100) / 100, Math.ceil(r() * 1e6) / 1e4])
    }
    const receivedTs = startMs + Math.floor(i / 10)
    yield { v: 1, exchange, pair, seq: String(i), exchangeTs: receivedTs - 3, receivedTs, bids, asks }
  }
}

const column = (levels: readonly (readonly [number, number])[], k: 0 | 1): number[] => levels.map((l) => l[k])

/**
 * One line of PostgreSQL's text COPY format for `ticks`, what `psql \copy` sends. Arrays come
 * from JSON.stringify, which prints doubles about twice as fast as String(), so generating a
 * million lines stays a few seconds.
 */
export const copyTextLine = (t: StoredTick): string => {
  const arrays = JSON.stringify([column(t.bids, 0), column(t.bids, 1), column(t.asks, 0), column(t.asks, 1)])
    .slice(1, -1)
    .replaceAll('],[', '}\t{')
    .replace('[', '{')
    .replace(/\]$/, '}')
  const ets = t.exchangeTs === null ? '\\N' : new Date(t.exchangeTs).toISOString()
  return `${new Date(t.receivedTs).toISOString()}\t${t.exchange}\t${t.pair}\t${t.seq}\t${ets}\t${arrays}\n`
}
