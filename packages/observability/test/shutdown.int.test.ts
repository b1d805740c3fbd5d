import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'

const root = new URL('../../../', import.meta.url).pathname

describe('onShutdown', () => {
  it('exits only once every line the process logged is written, its last words included', async () => {
    const lines = 2000
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'packages/observability/test/chatty-stop.ts', String(lines)],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    // ~300 KB of log against a 64 KB pipe that nobody reads yet: writes are pending at the signal.
    child.stdout.pause()
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => d.includes('logged') && resolve())
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)))
    })
    child.kill('SIGTERM')
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stdout.resume()
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))

    expect(code).toBe(0)
    const logged = out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { msg: string; i?: number })
    expect(logged.filter((l) => l.msg === 'line').map((l) => l.i)).toEqual(Array.from({ length: lines }, (_, i) => i))
    expect(logged.at(-2)?.msg).toBe('shutting down')
    expect(logged.at(-1)?.msg).toBe('stopped')
  }, 30_000)
})
