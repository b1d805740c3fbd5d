import { spawn, type ChildProcess } from 'node:child_process'

export interface ServiceProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Every log line so far, parsed where it is JSON. */
  readonly lines: Record<string, unknown>[]
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | string | null>
}

const repoRoot = new URL('../../../', import.meta.url).pathname

/**
 * Starts a built service (`services/<service>/dist/main.js`) as a child process, the way the
 * demo and the images run it. Set ARB_TEST_LOGS=1 to echo its logs.
 */
export const startService = (name: string, service: string, env: Record<string, string>): ServiceProcess => {
  const child = spawn(process.execPath, [`${repoRoot}services/${service}/dist/main.js`], {
    env: { ...process.env, LOG_PRETTY: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Record<string, unknown>[] = []
  let buffered = ''
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString('utf8')
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (process.env['ARB_TEST_LOGS'] === '1') console.error(`[${name}] ${line}`)
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        lines.push({ msg: line })
      }
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  // 'close' comes after the process has exited and its pipes are read to the end, so `lines`
  // holds everything it printed, its last words included; 'exit' can come before them.
  const closed = new Promise<number | string | null>((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? signal)),
  )
  return {
    name,
    child,
    lines,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
        void closed.then(() => clearTimeout(timer))
        child.kill('SIGTERM')
      }
      return closed
    },
  }
}
