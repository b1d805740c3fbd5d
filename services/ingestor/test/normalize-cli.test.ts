import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { adapters, bitstamp, bl3p, coinbase, kraken, type ExchangeAdapter, type FrameResult } from '@arb/exchanges'
import { loadFrames } from '@arb/testkit'
import { jsonLines, normalizeCli } from './cli.js'

const fixtures = new URL('../../../packages/exchanges/fixtures/', import.meta.url)
const fixture = (exchange: string, name: string) => loadFrames(new URL(`${exchange}/${name}.jsonl`, fixtures))
const T0 = 1_700_000_000_000

/** The CLI with these lines on stdin. */
const normalize = (args: string[], lines: readonly string[]) => normalizeCli(args, lines.map((l) => `${l}\n`).join(''))

/**
 * The reference: the adapter's session fed directly, as its unit tests do, with line N received at
 * T0 + N - 1 (what `--ts T0` promises). Lines that are not JSON are skipped, as the feed skips them.
 */
const reference = (adapter: ExchangeAdapter, pairs: string[], lines: readonly string[]): Tick[] => {
  const session = adapter.createSession(pairs)
  const results: FrameResult[] = []
  lines.forEach((raw, i) => {
    let frame: unknown
    try {
      frame = JSON.parse(raw)
    } catch {
      return
    }
    results.push(session.onFrame(frame, T0 + i, raw))
  })
  return results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))
}

const excerpt = (line: string) => line.slice(0, 120)

describe('normalize CLI', () => {
  it('prints the Kraken ticks and reports each problem line with a stable code, a corrupted checksum included', async () => {
    const doc = fixture('kraken', 'doc-matic-usd')
    const [update2] = fixture('kraken', 'constructed-matic-update2')
    const badChecksum = update2!.replace('2534661571', '2534661572')
    // ack, status, heartbeat, snapshot, update, pong, ticker, refused subscribe; then a bad checksum and a cut frame.
    const lines = [...doc.slice(0, 8), badChecksum, doc[8]!]
    const { code, stdout, stderr } = await normalize(
      ['--exchange', 'kraken', '--pairs', 'MATIC-USD', '--ts', `${T0}`],
      lines,
    )
    expect(code, stderr).toBe(0)

    const ticks = jsonLines(stdout)
    expect(ticks).toEqual(reference(kraken, ['MATIC-USD'], lines.slice(0, 8)))
    expect(ticks).toHaveLength(2)
    for (const t of ticks) expect(tickDecoder.check(t)).toBe(true)
    expect(ticks[0]).toMatchObject({ exchange: 'kraken', pair: 'MATIC-USD', exchangeTs: null, receivedTs: T0 + 3 })
    expect((ticks[0]!['bids'] as unknown[])[0]).toEqual([0.5666, 4831.75496356])
    expect((ticks[1]!['bids'] as unknown[]).at(-1)).toEqual([0.5657, 1098.3947558])
    expect(ticks[1]).toMatchObject({ receivedTs: T0 + 4, exchangeTs: Date.parse('2023-10-06T17:35:55.440Z') })

    const [ticker, refused, checksum, cut, summary, ...rest] = jsonLines(stderr)
    expect(rest).toEqual([])
    expect(ticker).toEqual({
      code: 'ARB_ERR_BAD_FRAME',
      line: 7,
      reason: 'unknown channel ticker',
      excerpt: excerpt(doc[6]!),
    })
    expect(refused).toEqual({
      code: 'ARB_ERR_BAD_FRAME',
      line: 8,
      reason: 'exchange error: subscribe: Currency pair not supported BTCCC/USD',
      excerpt: excerpt(doc[7]!),
    })
    expect(checksum).toEqual({
      code: 'ARB_ERR_CHECKSUM',
      line: 9,
      reason: 'checksum mismatch for MATIC-USD: got 2534661571, expected 2534661572',
      excerpt: excerpt(badChecksum),
    })
    expect(cut).toEqual({
      code: 'ARB_ERR_MALFORMED_FRAME',
      line: 10,
      reason: expect.stringMatching(/^not JSON: /),
      excerpt: doc[8],
    })
    expect(summary).toEqual({
      msg: 'normalize done',
      lines: 10,
      records: 0,
      frames: 10,
      ticks: 2,
      malformed: 1,
      errors: 2,
      resyncs: 1,
      snapshots: 0,
      sessions: 2,
      ignored: 0,
      invalidTicks: 0,
      problems: 4,
    })
  })

  it('prints the Coinbase documentation book and flags the cut frame and the error reply', async () => {
    const lines = fixture('coinbase', 'doc-btc-usd')
    const { code, stdout, stderr } = await normalize(
      ['-e', 'coinbase', '--pairs', 'BTC-USD', '--ts', new Date(T0).toISOString()],
      lines,
    )
    expect(code, stderr).toBe(0)
    const ticks = jsonLines(stdout)
    expect(ticks).toEqual(reference(coinbase, ['BTC-USD'], lines))
    expect(ticks.map((t) => [t['receivedTs'], (t['bids'] as unknown[])[0], (t['asks'] as unknown[])[0]])).toEqual([
      [T0 + 2, [10101.1, 0.4505414], [10102.55, 0.57753524]],
      [T0 + 5, [10101.8, 0.162567], [10102.55, 0.57753524]],
    ])
    const problems = jsonLines(stderr)
    expect(problems.pop()).toMatchObject({ msg: 'normalize done', lines: 7, ticks: 2, problems: 2 })
    expect(problems).toEqual([
      { code: 'ARB_ERR_MALFORMED_FRAME', line: 5, reason: expect.stringMatching(/^not JSON: /), excerpt: lines[4] },
      {
        code: 'ARB_ERR_BAD_FRAME',
        line: 7,
        reason: 'exchange error: Failed to subscribe: GIBBERISH-USD is not a valid product',
        excerpt: lines[6],
      },
    ])
  })

  it('prints the BL3P book and refuses a trade frame on the orderbook connection', async () => {
    const lines = [...fixture('bl3p', 'orderbook-2017'), ...fixture('bl3p', 'other-frames')]
    const { code, stdout, stderr } = await normalize(['--exchange', 'bl3p', '--ts', `${T0}`], lines)
    expect(code, stderr).toBe(0)
    const ticks = jsonLines(stdout)
    expect(ticks).toEqual(reference(bl3p, ['BTC-EUR'], lines))
    expect(ticks).toHaveLength(1)
    expect(ticks[0]).toMatchObject({ exchange: 'bl3p', pair: 'BTC-EUR', exchangeTs: null, receivedTs: T0 })
    const problems = jsonLines(stderr)
    expect(problems.pop()).toMatchObject({ msg: 'normalize done', lines: 3, ticks: 1, problems: 2 })
    expect(problems.map((p) => [p['code'], p['line']])).toEqual([
      ['ARB_ERR_BAD_FRAME', 2],
      ['ARB_ERR_MALFORMED_FRAME', 3],
    ])
    expect(problems[0]!['reason']).toMatch(/^not an orderbook message/)
  })

  it('takes a REST snapshot as a record line between raw frames (Bitstamp GALA/EUR capture)', async () => {
    const frames = fixture('bitstamp', 'capture-gala-eur').slice(1) // line 1 is the client's subscribe
    const body = JSON.parse(fixture('bitstamp', 'capture-gala-eur-rest-snapshot')[0]!) as unknown
    const snapshot = JSON.stringify({ v: 1, rec: 'snapshot', pair: 'GALA-EUR', receivedTs: T0 + 100, body })
    const lines = [...frames.slice(0, 4), snapshot, ...frames.slice(4)]
    const { code, stdout, stderr } = await normalize(
      ['--exchange', 'bitstamp', '--pairs', 'GALA-EUR', '--ts', `${T0}`],
      lines,
    )
    expect(code, stderr).toBe(0)

    const session = bitstamp.createSession(['GALA-EUR'])
    const expected = [
      ...frames.slice(0, 4).map((f, i) => session.onFrame(JSON.parse(f), T0 + i, f)),
      session.onSnapshot!('GALA-EUR', body, T0 + 100),
      ...frames.slice(4).map((f, i) => session.onFrame(JSON.parse(f), T0 + 5 + i, f)),
    ].flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))
    expect(expected.length).toBeGreaterThan(0)
    expect(jsonLines(stdout)).toEqual(expected)
    expect(jsonLines(stderr)).toEqual([
      expect.objectContaining({ msg: 'normalize done', records: 1, snapshots: 1, frames: 7, problems: 0 }),
    ])
  })

  it('reports a record that does not fit the format, and refuses a recording of another exchange', async () => {
    const bad = JSON.stringify({ v: 1, rec: 'frame', receivedTs: 'yesterday', text: '{}' })
    const first = await normalize(['--exchange', 'kraken'], [bad])
    expect(first.code).toBe(0)
    expect(jsonLines(first.stderr)[0]).toMatchObject({ code: 'ARB_ERR_BAD_RECORD', line: 1, excerpt: bad })

    const start = JSON.stringify({
      v: 1,
      rec: 'start',
      ts: T0,
      exchange: 'coinbase',
      pairs: ['BTC-USD'],
      instance: 'a',
    })
    const other = await normalize(['--exchange', 'kraken'], [start])
    expect(other.code).toBe(2)
    expect(jsonLines(other.stderr)[0]).toMatchObject({
      code: 'ARB_ERR_USAGE',
      message: 'line 1: a coinbase recording, but --exchange kraken',
    })
  })

  it('exits 2 with a clear message on a bad command line', async () => {
    const [unknown, missing, option, pairs, split] = await Promise.all([
      normalize(['--exchange', 'nosuch'], []),
      normalize([], []),
      normalize(['--exchange', 'kraken', '--pair', 'BTC-EUR'], []),
      normalize(['--exchange', 'kraken', '--pairs', 'btc/eur'], []),
      // BL3P opens a connection per pair, so a raw frame could belong to either.
      normalize(['--exchange', 'bl3p', '--pairs', 'BTC-EUR,ETH-EUR'], fixture('bl3p', 'orderbook-2017')),
    ])
    expect(unknown.code).toBe(2)
    expect(jsonLines(unknown.stderr)[0]).toMatchObject({
      code: 'ARB_ERR_USAGE',
      message: `unknown exchange "nosuch"; known exchanges: ${Object.keys(adapters).join(', ')}`,
    })
    expect(missing.code).toBe(2)
    expect(jsonLines(missing.stderr)[0]!['message']).toMatch(/^--exchange is required; known exchanges: coinbase/)
    expect(option.code).toBe(2)
    expect(jsonLines(option.stderr)[0]).toMatchObject({ code: 'ARB_ERR_USAGE' })
    expect(jsonLines(pairs.stderr)[0]).toMatchObject({
      code: 'ARB_ERR_USAGE',
      message: expect.stringMatching(/^--pairs: /),
    })
    expect(split.code).toBe(2)
    expect(jsonLines(split.stderr)[0]!['message']).toBe(
      'line 1: bl3p opens one connection per pair, so raw frames need exactly one pair (--pairs)',
    )
  }, 60_000)
})
