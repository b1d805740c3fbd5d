import { accessSync, constants, createReadStream } from 'node:fs'
import type { JsPublisher } from '@arb/bus'
import { ConfigError, type Heartbeat, type Pair, type Topology } from '@arb/contracts'
import { SessionDriver, type DriveProblem, type ExchangeAdapter, type FeedLogger } from '@arb/exchanges'
import { classifyLine, readLines } from './input.js'
import { tickPublisher } from './ingest.js'

/**
 * REPLAY_FILE: publishes the ticks of a feed recording instead of connecting. The recording goes
 * through the same adapter sessions, driven as the live feed drives them, with the recorded
 * receive times, so every tick, its `seq` and its Nats-Msg-Id come out as they did live. It runs
 * as fast as JetStream acknowledges (no pacing), then logs a summary and exits 0.
 */

export interface ReplayDeps {
  readonly adapter: ExchangeAdapter
  /** Pairs for frame records without a connection number (hand-made files). */
  readonly pairs: readonly Pair[]
  readonly file: string
  readonly publisher: JsPublisher
  readonly topo: Topology
  readonly log: FeedLogger
}

export interface Replay {
  /** The live part of the heartbeat: always `degraded`, since replayed quotes are history, never a live book. */
  health(): Pick<Heartbeat, 'status' | 'lastMessageTs' | 'counters'>
  /** Stops reading, then waits until JetStream has acknowledged what was published. */
  stop(): Promise<void>
  /** The exit code once the file is done: 0, or 1 when it could not be read or is another exchange's. */
  readonly done: Promise<number>
}

/** Ticks published between two waits for JetStream's acknowledgements: a file is read far faster than NATS stores it. */
export const REPLAY_BATCH_TICKS = 1000

// First few, then one in a thousand: a recording of a broken feed must not flood the log.
const worthLogging = (count: number): boolean => count <= 10 || count % 1000 === 0

export const startReplay = ({ adapter, pairs, file, publisher, topo, log }: ReplayDeps): Replay => {
  try {
    accessSync(file, constants.R_OK)
  } catch (err) {
    throw new ConfigError([{ path: 'REPLAY_FILE', message: (err as Error).message }])
  }
  const { publish, counts } = tickPublisher(publisher, topo, log)
  const problems: Record<string, number> = {}
  let lines = 0
  let badLines = 0
  let unbatched = 0
  let stopping = false
  const driver = new SessionDriver({
    adapter,
    pairs,
    onTicks: (ticks) => {
      ticks.forEach(publish)
      unbatched += ticks.length
    },
    onProblem: (p: DriveProblem) => {
      const n = (problems[p.code] = (problems[p.code] ?? 0) + 1)
      if (worthLogging(n))
        log.warn({ line: lines, code: p.code, reason: p.reason, excerpt: p.excerpt }, 'replay problem')
    },
  })
  const bad = (reason: string) => {
    badLines++
    if (worthLogging(badLines)) log.warn({ line: lines, reason }, 'not a feed record, skipped')
  }

  const run = async (): Promise<void> => {
    log.info({ file }, 'replaying')
    for await (const line of readLines(createReadStream(file))) {
      if (stopping) break
      lines++
      if (line.trim() === '') continue
      const input = classifyLine(line)
      if (input.kind === 'bad') bad(input.reason)
      else if (input.kind === 'frame') bad('a raw frame: a replay needs records with their receive times')
      else {
        const r = input.record
        if (r.rec === 'start' && r.exchange !== adapter.id) {
          throw new ConfigError([
            { path: 'REPLAY_FILE', message: `a ${r.exchange} recording, but EXCHANGE=${adapter.id}` },
          ])
        }
        driver.apply(r)
      }
      if (unbatched >= REPLAY_BATCH_TICKS) {
        unbatched = 0
        await publisher.flush()
      }
    }
    await publisher.flush()
    const { published, duplicates, failed } = publisher.stats
    log.info(
      { file, lines, badLines, ...driver.counters, ...counts, problems, published, duplicates, publishFailed: failed },
      stopping ? 'replay stopped' : 'replay done',
    )
  }
  const done = run().then(
    () => 0,
    (err: unknown) => {
      log.error({ err, file, line: lines }, 'replay failed')
      return 1
    },
  )

  return {
    done,
    health: () => {
      const c = driver.counters
      const p = publisher.stats
      return {
        status: 'degraded',
        lastMessageTs: c.lastMessageTs,
        counters: {
          replayLines: lines,
          frames: c.frames,
          ticks: c.ticks,
          malformed: c.malformed,
          errors: c.errors,
          resyncs: c.resyncs,
          snapshots: c.snapshots,
          invalidTicks: counts.invalidTicks,
          published: p.published,
          duplicates: p.duplicates,
          publishFailed: p.failed,
        },
      }
    },
    stop: async () => {
      stopping = true
      await done
      await publisher.flush()
    },
  }
}
