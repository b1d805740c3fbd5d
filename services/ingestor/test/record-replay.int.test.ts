import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream'
import { connectNats, type NatsConnection } from '@arb/bus'
import { feedRecordDecoder, topology, type Topology } from '@arb/contracts'
import { createLogger, type Logger } from '@arb/observability'
import {
  eventually,
  loadFrames,
  startReplayServer,
  startService,
  testNatsUrl,
  uniqueName,
  type ReplayServer,
  type ServiceProcess,
} from '@arb/testkit'
import { jsonLines, normalizeCli } from './cli.js'

/**
 * RECORD_DIR then REPLAY_FILE, each with the built ingestor (`dist/main.js`) as a child process
 * against a replay WebSocket server and real NATS: the replay publishes exactly what the live run
 * published, payloads and Nats-Msg-Ids, and `npm run normalize` reads the same file to the same ticks.
 */

const log: Logger = createLogger({ service: 'ingestor-test', level: 'silent' })
const fixtures = new URL('../../../packages/exchanges/fixtures/kraken/', import.meta.url)
const doc = loadFrames(new URL('doc-matic-usd.jsonl', fixtures))
const [update2] = loadFrames(new URL('constructed-matic-update2.jsonl', fixtures))
// Lines of doc-matic-usd.jsonl (SOURCES.md).
const [ACK, STATUS, HEARTBEAT, SNAPSHOT, UPDATE, , , , MALFORMED] = [0, 1, 2, 3, 4, 5, 6, 7, 8]
const corrupted = doc[UPDATE]!.replace('2114181697', '2114181698')
// The first connection ends in a checksum mismatch, so the run has a resync and a second connection.
const FIRST = [doc[ACK]!, doc[STATUS]!, doc[HEARTBEAT]!, doc[SNAPSHOT]!, corrupted]
const SECOND = [doc[ACK]!, doc[SNAPSHOT]!, doc[UPDATE]!, doc[MALFORMED]!, update2!]
const TICKS = 4
// The second connection's snapshot tick is the first's again: same frame first in its chain, same
// seq, so JetStream stores it once (what lets replicas share a stream).
const STORED = 3

let nc: NatsConnection | undefined
let server: ReplayServer | undefined
const procs: ServiceProcess[] = []
const topos: Topology[] = []
let dir: string | undefined

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop()))
  await server?.close()
  if (nc !== undefined) {
    const jsm = await jetstreamManager(nc)
    for (const t of topos.splice(0)) {
      await jsm.streams.delete(t.ticksStream).catch(() => undefined)
      await jsm.streams.delete(t.signalsStream).catch(() => undefined)
    }
    await nc.drain()
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  nc = undefined
  server = undefined
  dir = undefined
})

const ingestor = (name: string, env: Record<string, string>): ServiceProcess => {
  const p = startService(name, 'ingestor', { EXCHANGE: 'kraken', PAIRS: 'MATIC-USD', HEARTBEAT_MS: '200', ...env })
  procs.push(p)
  return p
}

const stored = async (topo: Topology): Promise<StoredMsg[]> => {
  const jsm = await jetstreamManager(nc!)
  const { state } = await jsm.streams.info(topo.ticksStream)
  const out: StoredMsg[] = []
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(topo.ticksStream, { seq })
    if (m) out.push(m)
  }
  return out
}

/** What a consumer sees of a stored tick: its subject without the test's prefix, its id, its exact payload. */
const view = (prefix: string, m: StoredMsg) => ({
  subject: m.subject.slice(prefix.length + 1),
  msgId: m.header?.get('Nats-Msg-Id'),
  data: m.string(),
})

const exited = (p: ServiceProcess): Promise<number | null> =>
  p.child.exitCode !== null
    ? Promise.resolve(p.child.exitCode)
    : new Promise((resolve) => p.child.once('exit', (code) => resolve(code)))

describe('ingestor RECORD_DIR and REPLAY_FILE', () => {
  it('replays a recorded session to the same ticks and Nats-Msg-Ids, then exits 0', async () => {
    const natsUrl = await testNatsUrl()
    nc = await connectNats(natsUrl, log, 'ingestor-record-test')
    dir = mkdtempSync(`${tmpdir()}/arb-record-`)
    server = await startReplayServer({ frames: ({ index }) => (index === 0 ? FIRST : SECOND) })
    const livePrefix = uniqueName('rec')
    const live = topology(livePrefix)
    topos.push(live)
    const recorder = ingestor('record', {
      EXCHANGE_URL: server.url,
      NATS_URL: natsUrl,
      NATS_PREFIX: livePrefix,
      INSTANCE_ID: 'rec/1',
      RECORD_DIR: `${dir}/recordings`,
      BACKOFF_MIN_MS: '10',
      BACKOFF_MAX_MS: '100',
    })
    const liveMsgs = await eventually(
      async () => {
        const msgs = await stored(live)
        return msgs.length === STORED ? msgs : undefined
      },
      20_000,
      `${STORED} live ticks stored`,
    )
    expect(await recorder.stop()).toBe(0)

    const files = readdirSync(`${dir}/recordings`)
    expect(files).toEqual([expect.stringMatching(/^kraken-\d{8}T\d{6}\.\d{3}Z-rec_1\.jsonl$/)])
    const file = `${dir}/recordings/${files[0]}`
    const records = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => feedRecordDecoder.decode(l))
    expect(records[0]).toMatchObject({ rec: 'start', exchange: 'kraken', pairs: ['MATIC-USD'], instance: 'rec/1' })
    expect(records.map((r) => r.rec).join(' ')).toBe(
      ['start', 'open', ...FIRST.map(() => 'frame'), 'close', 'open', ...SECOND.map(() => 'frame'), 'close'].join(' '),
    )
    expect(records.flatMap((r) => (r.rec === 'frame' ? [r.text] : []))).toEqual([...FIRST, ...SECOND])
    expect(recorder.lines.find((l) => l['msg'] === 'recording closed')).toMatchObject({
      path: file,
      records: records.length,
      dropped: 0,
    })

    const againPrefix = uniqueName('rep')
    const again = topology(againPrefix)
    topos.push(again)
    const replayer = ingestor('replay', { NATS_URL: natsUrl, NATS_PREFIX: againPrefix, REPLAY_FILE: file })
    expect(await exited(replayer)).toBe(0)
    const replayed = await stored(again)
    expect(replayed.map((m) => view(againPrefix, m))).toEqual(liveMsgs.map((m) => view(livePrefix, m)))
    expect(replayed[0]!.subject).toBe(again.tick('kraken', 'MATIC-USD'))
    expect(replayed.map((m) => m.header?.get('Nats-Msg-Id'))).toEqual(liveMsgs.map((m) => m.header?.get('Nats-Msg-Id')))
    expect(replayer.lines.find((l) => l['msg'] === 'replay done')).toMatchObject({
      file,
      badLines: 0,
      frames: FIRST.length + SECOND.length,
      ticks: TICKS,
      malformed: 1,
      resyncs: 1,
      sessions: 2,
      published: STORED,
      duplicates: TICKS - STORED,
      problems: { ARB_ERR_CHECKSUM: 1, ARB_ERR_MALFORMED_FRAME: 1 },
    })
    expect(replayer.lines.filter((l) => l['msg'] === 'connected')).toEqual([])

    // The same file through the normalize CLI: the very payloads the ingestor published.
    const cli = await normalizeCli(['--exchange', 'kraken'], readFileSync(file, 'utf8'))
    expect(cli.code, cli.stderr).toBe(0)
    const printed = cli.stdout.split('\n').filter((l) => l !== '')
    expect(printed).toHaveLength(TICKS)
    const firstPerSeq = printed.filter(
      (l, i) => printed.findIndex((o) => JSON.parse(o).seq === JSON.parse(l).seq) === i,
    )
    expect(firstPerSeq).toEqual(liveMsgs.map((m) => m.string()))
    expect(jsonLines(cli.stderr).map((l) => l['code'] ?? l['msg'])).toEqual([
      'ARB_ERR_CHECKSUM',
      'ARB_ERR_MALFORMED_FRAME',
      'normalize done',
    ])
  }, 90_000)

  it('refuses a REPLAY_FILE it cannot read, at start-up', async () => {
    const natsUrl = await testNatsUrl()
    const prefix = uniqueName('rep')
    topos.push(topology(prefix))
    nc = await connectNats(natsUrl, log, 'ingestor-record-test')
    const p = ingestor('replay', { NATS_URL: natsUrl, NATS_PREFIX: prefix, REPLAY_FILE: '/nonexistent/x.jsonl' })
    expect(await exited(p)).toBe(1)
    expect(p.lines.find((l) => l['level'] === 60)?.['err']).toMatchObject({
      code: 'ARB_ERR_CONFIG',
      message: expect.stringContaining('REPLAY_FILE: ENOENT'),
    })
  })
})
