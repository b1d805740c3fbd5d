import { describe, expect, it } from 'vitest'
import { tickDecoder, type Tick } from '@arb/contracts'
import { fixture } from '../test/helpers.js'
import { bitfinex, checksum, checksumText, pairOf, symbol } from './bitfinex.js'
import { crc32 } from './kraken.js'
import type { AdapterSession, FrameResult } from './types.js'

const T0 = 1_700_000_000_000

/** Feeds raw frames to a session the way the feed does (JSON.parse, then onFrame). */
const play = (session: AdapterSession, frames: readonly string[], ts = T0): FrameResult[] =>
  frames.map((raw, i) => session.onFrame(JSON.parse(raw), ts + i, raw))

const ticksOf = (results: readonly FrameResult[]): Tick[] => results.flatMap((r) => (r.kind === 'ticks' ? r.ticks : []))

// real-mnabtc.jsonl (SOURCES.md): line index = sequence number − 27 from the snapshot on.
const mna = () => fixture('bitfinex', 'real-mnabtc')
const atSeq = (seq: number) => seq - 27
const [INFO, SUBSCRIBED, SNAPSHOT] = [0, 2, 3]
const vectors = () => fixture('bitfinex', 'constructed-library-vectors')
const [V_SUBSCRIBED, V_SNAPSHOT, V_CS, V_DELETE, V_CS2, V_HB] = [0, 1, 2, 3, 4, 7]
const info = (code: number) => JSON.stringify({ event: 'info', code, msg: `constructed ${code}` })

describe('bitfinex adapter', () => {
  it('turns on sequence numbers and checksums, then subscribes to the P0/F0/25 book of every pair', () => {
    expect(bitfinex.subscribe(['BTC-EUR', 'BTC-USD'])).toEqual([
      { event: 'conf', flags: 196_608 },
      { event: 'subscribe', channel: 'book', symbol: 'tBTCEUR', prec: 'P0', freq: 'F0', len: '25' },
      { event: 'subscribe', channel: 'book', symbol: 'tBTCUSD', prec: 'P0', freq: 'F0', len: '25' },
    ])
    expect(bitfinex.endpoints(['BTC-EUR', 'BTC-USD'], 'ws://127.0.0.1:1/bitfinex')).toEqual([
      { url: 'ws://127.0.0.1:1/bitfinex', pairs: ['BTC-EUR', 'BTC-USD'] },
    ])
    // 25 channels a connection: a 26th pair opens a second socket.
    const many = Array.from({ length: 26 }, (_, i) => `A${String(i).padStart(2, '0')}-USD`)
    expect(bitfinex.endpoints(many, 'ws://x').map((e) => e.pairs.length)).toEqual([25, 1])
    expect(bitfinex.url).toBe('wss://api-pub.bitfinex.com/ws/2')
    expect(bitfinex.takerFee).toBe(0.002)
    expect(bitfinex.takerFeeSource).toMatch(/bitfinex\.com.*fees/)
  })

  it('maps symbols both ways, with the `:` form for codes that are not three letters', () => {
    expect(symbol('BTC-EUR')).toBe('tBTCEUR')
    expect(pairOf('tBTCEUR')).toBe('BTC-EUR')
    const [, , testAck] = fixture('bitfinex', 'real-other')
    const sym = (JSON.parse(testAck!) as { symbol: string }).symbol
    expect(sym).toBe('tTESTBTC:TESTUSD')
    expect(pairOf(sym)).toBe('TESTBTC-TESTUSD')
    expect(symbol('TESTBTC-TESTUSD')).toBe(sym)
    expect(symbol('DOGE-USD')).toBe('tDOGE:USD')
    expect(pairOf('tDOGE:USD')).toBe('DOGE-USD')
    for (const bad of ['fUSD', 'BTCEUR', 'tBTCEU', 'tbtceur']) expect(pairOf(bad)).toBeUndefined()
  })

  it("reproduces the checksum strings of Bitfinex's model library and their signed CRC32", () => {
    const t = (price: string, amount: string) => ({ price, amount })
    // order_book.js "returns expected value for normal OB".
    const bids = [t('6000', '1'), t('5900', '2')]
    const asks = [t('6100', '-3'), t('6200', '-4')]
    expect(checksumText(bids, asks)).toBe('6000:1:6100:-3:5900:2:6200:-4')
    expect(checksum(bids, asks)).toBe(1_756_193_398)
    // "... for raw OB": the order id takes the price's place, the recipe is the same.
    expect(checksumText([t('100', '1'), t('101', '2')], [t('102', '-3'), t('103', '-4')])).toBe(
      '100:1:102:-3:101:2:103:-4',
    )
    expect(checksum([t('100', '1'), t('101', '2')], [t('102', '-3'), t('103', '-4')])).toBe(1_841_538_801)
    // "converts exp prices to fixed": that string's CRC, and the one the wire text gives instead.
    expect(crc32('6000:1:6100:-3:0.000000017:2:6200:-4') | 0).toBe(-931_816_132)
    expect(checksumText([t('6000', '1'), t('1.7e-8', '2')], asks)).toBe('6000:1:6100:-3:1.7e-8:2:6200:-4')
    // Only the top 25 of each side count, and an empty side is skipped.
    const deep = Array.from({ length: 30 }, (_, i) => t(String(100 - i), '1'))
    expect(checksumText(deep, []).split(':')).toHaveLength(50)
  })

  it('builds the real tMNABTC book from its snapshot and updates, through other channels, without a gap', () => {
    const results = play(bitfinex.createSession(['MNA-BTC']), mna())
    expect(results.slice(0, 4).map((r) => r.kind)).toEqual(['control', 'control', 'control', 'ticks'])
    const ticks = ticksOf(results)
    // The snapshot and each of the 12 tMNABTC updates moved its top 10 asks.
    expect(ticks).toHaveLength(13)
    const [snap] = ticks
    expect(snap).toMatchObject({ v: 1, exchange: 'bitfinex', pair: 'MNA-BTC', exchangeTs: null, receivedTs: T0 + 3 })
    expect(snap!.bids[0]).toEqual([0.00002505, 684.8165873])
    expect(snap!.bids[9]).toEqual([0.00002474, 4668.10513103])
    expect(snap!.asks[0]).toEqual([0.00002531, 419.18518378])
    expect(snap!.asks[1]).toEqual([0.00002532, 336.54054054])
    // seq 36 deletes ask 0.00002532, seq 37 adds 0.0000253 in front.
    expect(ticks[1]!.asks[1]).toEqual([0.00002546, 66.58783643])
    expect(ticks[2]!.asks[0]).toEqual([0.0000253, 138.046457])
    const last = ticks.at(-1)!
    expect(last.bids).toEqual(snap!.bids)
    expect(last.asks).toEqual([
      [0.0000253, 560.00497411],
      [0.00002536, 66.58783643],
      [0.00002537, 19533.9975217],
      [0.00002547, 11746.96682481],
      [0.00002548, 776.30546459],
      [0.00002551, 1553.65711583],
      [0.00002553, 3902.61114625],
      [0.00002561, 1122.77],
      [0.00002563, 3092.44181231],
      [0.00002564, 3873.63450231],
    ])
    // Channels this session never subscribed to are counted, not fatal: the sequence still runs through them.
    const errors = results.filter((r) => r.kind === 'error')
    expect(errors).toHaveLength(15)
    expect(results.some((r) => r.kind === 'resync')).toBe(false)
    for (const t of ticks) expect(tickDecoder.check(t)).toBe(true)
  })

  it('asks for a resync when a message was dropped, heartbeats included', () => {
    const frames = mna()
    const dropped = [...frames.slice(0, atSeq(40)), ...frames.slice(atSeq(41))]
    const results = play(bitfinex.createSession(['MNA-BTC']), dropped)
    expect(results[atSeq(40)]).toEqual({ kind: 'resync', reason: 'sequence gap: expected 40, got 41', cause: 'gap' })
    const [, , , hb] = fixture('bitfinex', 'real-other')
    const session = bitfinex.createSession(['MNA-BTC'])
    play(session, frames.slice(0, atSeq(57) + 1))
    // [232949,"hb",134] after seq 57.
    expect(play(session, [hb!])[0]).toEqual({
      kind: 'resync',
      reason: 'sequence gap: expected 58, got 134',
      cause: 'gap',
    })
    // A repeated number is a gap too.
    const again = bitfinex.createSession(['MNA-BTC'])
    expect(play(again, [...frames.slice(0, atSeq(31) + 1), frames[atSeq(31)]!]).at(-1)).toEqual({
      kind: 'resync',
      reason: 'sequence gap: expected 32, got 31',
      cause: 'gap',
    })
  })

  it('verifies checksums: the library vector book, then updates, including an e-notation price as sent', () => {
    const results = play(bitfinex.createSession(['BTC-USD']), vectors())
    expect(results.map((r) => r.kind)).toEqual([
      'control',
      'ticks',
      'control',
      'ticks',
      'control',
      'ticks',
      'control',
      'control',
    ])
    const [snap, afterDelete] = ticksOf(results)
    expect(snap).toMatchObject({
      pair: 'BTC-USD',
      bids: [
        [6000, 1],
        [5900, 2],
      ],
      asks: [
        [6100, 3],
        [6200, 4],
      ],
    })
    expect(afterDelete!.bids).toEqual([[5900, 2]])
  })

  it('asks for a resync on a corrupted checksum or a corrupted level, and on a checksum before the snapshot', () => {
    const v = vectors()
    const cs = v[V_CS]!.replace('1756193398', '1756193399')
    expect(play(bitfinex.createSession(['BTC-USD']), [v[V_SUBSCRIBED]!, v[V_SNAPSHOT]!, cs])[2]).toEqual({
      kind: 'resync',
      reason: 'checksum mismatch for BTC-USD: got 1756193398, expected 1756193399',
      cause: 'checksum',
    })
    const level = v[V_SNAPSHOT]!.replace('[5900,1,2]', '[5900,1,2.5]')
    expect(play(bitfinex.createSession(['BTC-USD']), [v[V_SUBSCRIBED]!, level, v[V_CS]!])[2]!.kind).toBe('resync')
    // The same digits printed differently (`2.0`) no longer hash the same: the text as sent counts.
    const text = v[V_SNAPSHOT]!.replace('[5900,1,2]', '[5900,1,2.0]')
    expect(play(bitfinex.createSession(['BTC-USD']), [v[V_SUBSCRIBED]!, text, v[V_CS]!])[2]!.kind).toBe('resync')
    // Dropping the delete (sequence renumbered so only the checksum can tell) is caught by the next cs.
    const skipped = [v[V_SUBSCRIBED]!, v[V_SNAPSHOT]!, v[V_CS]!, v[V_CS2]!.replace(',4]', ',3]')]
    expect(play(bitfinex.createSession(['BTC-USD']), skipped)[3]).toMatchObject({
      kind: 'resync',
      reason: expect.stringMatching(/^checksum mismatch for BTC-USD/),
    })
    expect(play(bitfinex.createSession(['BTC-USD']), [v[V_SUBSCRIBED]!, v[V_CS]!])[1]).toEqual({
      kind: 'resync',
      reason: 'checksum before snapshot for BTC-USD',
    })
  })

  it('asks for a resync on an update before the snapshot or an unreadable update; a bad snapshot is an error', () => {
    const v = vectors()
    expect(play(bitfinex.createSession(['BTC-USD']), [v[V_SUBSCRIBED]!, v[V_DELETE]!])[1]).toEqual({
      kind: 'resync',
      reason: 'book update before snapshot for BTC-USD',
    })
    const bad = v[V_DELETE]!.replace('[6000,0,1]', '[6000,"x",1]')
    expect(play(bitfinex.createSession(['BTC-USD']), [v[V_SUBSCRIBED]!, v[V_SNAPSHOT]!, v[V_CS]!, bad])[3]).toEqual({
      kind: 'resync',
      reason: 'bad book update for BTC-USD',
    })
    const badSnapshot = v[V_SNAPSHOT]!.replace('[6100,1,-3]', '[6100,1,0]')
    expect(play(bitfinex.createSession(['BTC-USD']), [v[V_SUBSCRIBED]!, badSnapshot])[1]).toEqual({
      kind: 'error',
      reason: 'bad book snapshot for BTC-USD',
    })
    // A book whose best bid reaches its best ask cannot be real.
    const crossed = '[17082,[6150,1,5],2]'
    expect(play(bitfinex.createSession(['BTC-USD']), [v[V_SUBSCRIBED]!, v[V_SNAPSHOT]!, crossed])[2]).toEqual({
      kind: 'resync',
      reason: 'crossed book for BTC-USD',
    })
  })

  it('treats info, conf, acks and heartbeats as control; exchange errors and unknown events are errors', () => {
    const [infoFrame, conf] = mna()
    const [tickerAck, , testAck, , testHb] = fixture('bitfinex', 'real-other')
    const [docAck] = fixture('bitfinex', 'doc')
    const [refused] = fixture('bitfinex', 'library')
    const session = bitfinex.createSession(['ETH-USD', 'TESTBTC-TESTUSD'])
    expect(play(session, [infoFrame!, conf!, docAck!, testAck!, testHb!]).map((r) => r.kind)).toEqual([
      'control',
      'control',
      'control',
      'control',
      'control',
    ])
    expect(play(session, [refused!])[0]).toEqual({ kind: 'error', reason: 'exchange error: 10202 Already subscribed' })
    expect(play(session, [tickerAck!])[0]).toMatchObject({
      kind: 'error',
      reason: expect.stringMatching(/^subscribed to a channel this session did not ask for/),
    })
    expect(session.onFrame({ event: 'conf', status: 'FAILED', flags: 196608 }, T0, '')).toMatchObject({ kind: 'error' })
    expect(session.onFrame({ event: 'auth' }, T0, '')).toEqual({ kind: 'error', reason: 'unknown event auth' })
    expect(session.onFrame({ event: 'pong', ts: 1, cid: 2 }, T0, '')).toEqual({ kind: 'control' })
  })

  it('ignores unknown fields: extra event keys and longer arrays', () => {
    const v = vectors()
    const ack = v[V_SUBSCRIBED]!.replace('"pair":"BTCUSD"', '"pair":"BTCUSD","newKey":{"a":1}')
    // A fourth number appended to every level: prices and amounts keep their places.
    const snapshot = v[V_SNAPSHOT]!.replace(/\[(\d+),1,(-?\d+)\]/g, '[$1,1,$2,77]')
    expect(snapshot).toContain('[6000,1,1,77]')
    const results = play(bitfinex.createSession(['BTC-USD']), [ack, snapshot, v[V_CS]!])
    expect(results.map((r) => r.kind)).toEqual(['control', 'ticks', 'control'])
  })

  it.each([
    ['null', 'null', 0],
    ['a string', '"hb"', 0],
    ['a channel message without a sequence number (conf off)', fixture('bitfinex', 'doc')[1]!, 0],
    ['a message type this adapter does not know', '[17082,"te",[1,2,3],1]', 1],
    ['a checksum message without a checksum', '[17082,"cs",null,1]', 1],
  ])('reports %s as an error and keeps going', (_name, raw, seqUsed) => {
    const v = vectors()
    const session = bitfinex.createSession(['BTC-USD'])
    play(session, [v[V_SUBSCRIBED]!])
    expect(session.onFrame(JSON.parse(raw), T0, raw).kind).toBe('error')
    // A frame that carried a sequence number used it up: the stream goes on after it.
    const rest = v.slice(V_SNAPSHOT).map((f) => f.replace(/,(\d+)\]$/, (_m, n: string) => `,${Number(n) + seqUsed}]`))
    expect(play(session, rest).map((r) => r.kind)).toEqual([
      'ticks',
      'control',
      'ticks',
      'control',
      'ticks',
      'control',
      'control',
    ])
  })

  it('leaves a cut-off frame to the feed (JSON.parse fails before the adapter)', () => {
    expect(() => JSON.parse(mna()[SNAPSHOT]!.slice(0, 60))).toThrow(SyntaxError)
  })

  it('reconnects on info 20051, pauses ticks on 20060 and reconnects on 20061', () => {
    const v = vectors()
    expect(play(bitfinex.createSession(['BTC-USD']), [info(20051)])[0]).toEqual({
      kind: 'resync',
      reason: 'exchange asked for a reconnect (info 20051)',
    })
    const session = bitfinex.createSession(['BTC-USD'])
    const paused = play(session, [v[V_SUBSCRIBED]!, info(20060), v[V_SNAPSHOT]!, v[V_CS]!, v[V_DELETE]!, v[V_CS2]!])
    // Still kept and verified, never published.
    expect(paused.map((r) => r.kind)).toEqual(['control', 'control', 'control', 'control', 'control', 'control'])
    expect(play(session, [info(20061)])[0]).toEqual({
      kind: 'resync',
      reason: 'maintenance ended (info 20061): subscribing again',
    })
    // Connecting during maintenance: the first info says platform status 0.
    const late = bitfinex.createSession(['BTC-USD'])
    const maintenance = mna()[INFO]!.replace('"status":1', '"status":0')
    expect(ticksOf(play(late, [maintenance, v[V_SUBSCRIBED]!, v[V_SNAPSHOT]!]))).toEqual([])
  })

  it('gives the same seqs to replicas whose connections number and label the channel differently', () => {
    const frames = mna()
    const own = frames.slice(SUBSCRIBED).filter((f) => f.startsWith('{') || f.startsWith('[232956,'))
    // Another connection: chanId 5, its own sequence numbers.
    const other = own.map((f, i) =>
      f.startsWith('{')
        ? f.replace('"chanId":232956', '"chanId":5')
        : f.replace(/^\[232956,/, '[5,').replace(/,\d+\]$/, `,${900 + i}]`),
    )
    const a = ticksOf(play(bitfinex.createSession(['MNA-BTC']), frames)).map((t) => t.seq)
    const b = ticksOf(play(bitfinex.createSession(['MNA-BTC']), other)).map((t) => t.seq)
    expect(a).toHaveLength(13)
    expect(b).toEqual(a)
    expect(new Set(a).size).toBe(13)
  })

  it('gives different seqs to the same two updates in a row when the book they leave differs', () => {
    const v = vectors()
    const session = bitfinex.createSession(['BTC-USD'])
    play(session, [v[V_SUBSCRIBED]!, v[V_SNAPSHOT]!])
    // Bids 6010 and 6020 come, a bid at 5800 is added, both go, then the same two updates again.
    const updates = ['[6010,1,1]', '[6020,1,1]', '[5800,1,2]', '[6010,0,1]', '[6020,0,1]', '[6010,1,1]', '[6020,1,1]']
    const ticks = ticksOf(
      play(
        session,
        updates.map((u, i) => `[17082,${u},${i + 2}]`),
        T0 + 1,
      ),
    )
    expect(ticks).toHaveLength(7)
    const [first, last] = [ticks[1]!, ticks[6]!]
    expect(first.bids.slice(0, 2)).toEqual(last.bids.slice(0, 2))
    expect(last.bids).toContainEqual([5800, 2])
    expect(first.bids).not.toContainEqual([5800, 2])
    // JetStream would store the second as a duplicate of the first if the ids were equal.
    expect(new Set(ticks.map((t) => t.seq)).size).toBe(7)
  })

  it('emits an unchanged top only once TICK_REFRESH_MS has passed, but counts every book frame as data', () => {
    const v = vectors()
    const session = bitfinex.createSession(['BTC-USD'])
    play(session, [v[V_SUBSCRIBED]!, v[V_SNAPSHOT]!])
    // The same size again at the same price: the top does not move.
    const same = (seq: number) => `[17082,[5900,1,2],${seq}]`
    expect(session.onFrame(JSON.parse(same(2)), T0 + 500, same(2))).toEqual({ kind: 'ticks', ticks: [] })
    const refreshed = session.onFrame(JSON.parse(same(3)), T0 + 1500, same(3))
    expect(ticksOf([refreshed])).toHaveLength(1)
    expect(play(session, [v[V_HB]!.replace(',7]', ',4]')])[0]).toEqual({ kind: 'control' })
  })
})
