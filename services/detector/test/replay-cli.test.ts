import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { describe, expect, it } from 'vitest'
import { signalDecoder } from '@arb/contracts'

const root = new URL('../../../', import.meta.url).pathname
const fixtures = new URL('./fixtures/replay/', import.meta.url).pathname
const CLI = ['--conditions=source', '--import', 'tsx', 'services/detector/src/cli/replay.ts']

/** Runs the replay CLI the way `npm run -s replay` does, as a child process with stdin from a file. */
const replay = (args: string[], stdin: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe('replay CLI', () => {
  it('replays the fixture into the committed events, byte for byte, and reports skipped lines on stderr', async () => {
    const ticks = readFileSync(`${fixtures}ticks.jsonl`, 'utf8')
    const { code, stdout, stderr } = await replay(['--config', `${fixtures}engine.json`], ticks)
    expect(code, stderr).toBe(0)
    // ARB_UPDATE_FIXTURES=1 rewrites the expected file after a deliberate change of the rule.
    if (process.env['ARB_UPDATE_FIXTURES'] === '1') writeFileSync(`${fixtures}expected-events.jsonl`, stdout)
    expect(stdout).toBe(readFileSync(`${fixtures}expected-events.jsonl`, 'utf8'))
    for (const e of jsonLines(stdout)) expect(signalDecoder.check(e), JSON.stringify(e)).toBe(true)
    expect(jsonLines(stderr)).toEqual([
      { code: 'ARB_ERR_INVALID_MESSAGE', line: 4, message: 'invalid tick: not JSON' },
      { code: 'ARB_ERR_INVALID_MESSAGE', line: 8, message: 'invalid tick: /bids/0/0 Expected number' },
      { code: 'ARB_ERR_INVALID_MESSAGE', line: 9, message: 'invalid tick: crossed book: bid 50700 >= ask 50600' },
      { msg: 'replay done', lines: 20, ticks: 16, invalid: 3, events: 13 },
    ])
  })

  it('refuses a bad settings file before reading anything, naming every bad key', async () => {
    const dir = mkdtempSync(`${tmpdir()}/arb-replay-`)
    const bad = `${dir}/engine.json`
    writeFileSync(bad, JSON.stringify({ openBps: 'five', fees: { Kraken: 0.1 }, closeBsp: 2 }))
    const { code, stdout, stderr } = await replay(['--config', bad], '').finally(() =>
      rmSync(dir, { recursive: true, force: true }),
    )
    expect(code).toBe(2)
    expect(stdout).toBe('')
    const [err] = jsonLines(stderr)
    expect(err).toMatchObject({ code: 'ARB_ERR_CONFIG' })
    const paths = (err?.['issues'] as { path: string }[]).map((i) => i.path.slice(bad.length + 2))
    expect(paths.sort()).toEqual(['closeBsp', 'fees.Kraken', 'openBps'])
  })

  it('rejects an unknown option with a usage line', async () => {
    const { code, stderr } = await replay(['--confg', 'x.json'], '')
    expect(code).toBe(2)
    expect(jsonLines(stderr)[0]).toMatchObject({ code: 'ARB_ERR_USAGE' })
  })
})
