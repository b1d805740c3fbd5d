// npm run -s replay -- [--config engine.json] < ticks.jsonl > events.jsonl
import { parseArgs } from 'node:util'
import { defaultTakerFees } from '@arb/exchanges'
import { parsing, report, runCli, stdoutLines } from '@arb/observability'
import { runReplay } from '../replay.js'
import { engineOptions, loadSettingsFile } from '../settings.js'

const USAGE = 'replay [--config engine.json] < ticks.jsonl > events.jsonl'

runCli(USAGE, async () => {
  const { values: opts } = parsing(() => parseArgs({ options: { config: { type: 'string', short: 'c' } } }))
  const engine = engineOptions(await loadSettingsFile(opts.config), defaultTakerFees())
  const write = stdoutLines()
  const counts = await runReplay(engine, {
    input: process.stdin,
    onEvent: (s) => write(JSON.stringify(s)),
    onInvalid: (line, err) => report({ code: err.code, line, message: err.message }),
  })
  report({ msg: 'replay done', ...counts })
})
