// npm run -s normalize -- --exchange <id> [--pairs BTC-EUR,ETH-EUR] [--ts <epoch ms | ISO>] < frames.jsonl > ticks.jsonl
import { parseArgs } from 'node:util'
import { parsing, report, runCli, stdoutLines } from '@arb/observability'
import { normalizeArgs, runNormalize } from '../normalize.js'

const USAGE =
  'normalize --exchange <id> [--pairs BTC-EUR,...] [--ts <epoch ms | ISO>] < frames-or-recording.jsonl > ticks.jsonl'

runCli(USAGE, async () => {
  const { values } = parsing(() =>
    parseArgs({
      options: { exchange: { type: 'string', short: 'e' }, pairs: { type: 'string' }, ts: { type: 'string' } },
    }),
  )
  const args = normalizeArgs(values)
  const write = stdoutLines()
  try {
    const summary = await runNormalize({
      ...args,
      input: process.stdin,
      onTick: (tick) => write(JSON.stringify(tick)),
      onProblem: (problem) => report({ ...problem }),
    })
    report({ msg: 'normalize done', ...summary })
  } finally {
    // Input refused half-way must not keep the process waiting for the rest of a live pipe.
    process.stdin.destroy()
  }
})
