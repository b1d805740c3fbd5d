import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './services.js'

/**
 * A nats-server with JetStream of the test's own, which the test may stop and start again on the
 * same port and store directory: the machine's shared server must never go down under other
 * tests. Needs `nats-server` on PATH.
 */
export interface OwnNats {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** The JetStream store directory (`-sd`), kept across restarts. */
  readonly storeDir: string
  /** The server's pid while it runs, else undefined. */
  readonly pid: number | undefined
  /**
   * Stops it and resolves once it exited: SIGTERM (the server shuts JetStream down cleanly) or
   * SIGKILL (a crash: whatever was not written yet is lost).
   */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>
  /** Starts it again on the same port and store; resolves once it is ready for clients. */
  start(): Promise<void>
  /** Stops it and deletes the store. */
  close(): Promise<void>
}

const STARTUP_TIMEOUT_MS = 20_000

export const startNats = async (): Promise<OwnNats> => {
  const dir = mkdtempSync(join(tmpdir(), 'arb-nats-'))
  const pidFile = join(dir, 'server.pid')
  const port = await freePort()
  const url = `nats://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()

  const start = async () => {
    if (child) return
    const c = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = c
    if (c.pid !== undefined) writeFileSync(pidFile, String(c.pid))
    exited = new Promise((resolve) => c.once('exit', () => resolve()))
    void exited.then(() => {
      if (child !== c) return
      child = undefined
      // A stale pid could name an unrelated process by the time the watcher below reads it.
      rmSync(pidFile, { force: true })
    })
    const log: string[] = []
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server did not start: ${log.slice(-10).join('')}`)),
        STARTUP_TIMEOUT_MS,
      )
      // The server logs to stderr; "Server is ready" comes after JetStream has recovered its store.
      const onData = (b: Buffer) => {
        log.push(b.toString('utf8'))
        if (/Server is ready/.test(log.join(''))) {
          clearTimeout(timer)
          resolve()
        }
      }
      c.stderr?.on('data', onData)
      c.stdout?.on('data', onData)
      void exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`nats-server exited at start: ${log.slice(-10).join('')}`))
      })
    })
  }

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    const c = child
    if (!c) return
    c.kill(signal)
    await exited
  }

  // A test worker is often killed rather than exited: a detached shell stops the server (by the pid
  // of its latest start) and removes the store once this process is gone, however it went.
  const watch = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `kill -KILL $(cat ${pidFile} 2>/dev/null) 2>/dev/null`,
    `rm -rf ${dir}`,
  ].join('; ')
  spawn('sh', ['-c', watch], { detached: true, stdio: 'ignore' }).unref()
  process.once('exit', () => child?.kill('SIGKILL'))

  await start()
  return {
    url,
    port,
    storeDir: dir,
    get pid() {
      return child?.pid
    },
    stop,
    start,
    close: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
