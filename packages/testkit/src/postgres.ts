import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { eventually, freePort } from './services.js'

/**
 * A PostgreSQL server of the test's own (initdb in a temporary directory, trust auth, user
 * `postgres`) that the test may stop, start again on the same port, or freeze: the machine's
 * shared server must never go down under other tests. Needs `initdb` and `postgres` on PATH.
 */
export interface OwnPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  /** The postmaster's pid while it runs, else undefined. */
  readonly pid: number | undefined
  /** Fast shutdown (SIGINT: sessions are disconnected, no new ones accepted); resolves once it exited. */
  stop(): Promise<void>
  /** Starts it again on the same port and data directory; resolves once it accepts queries. */
  start(): Promise<void>
  /** SIGSTOP to the postmaster and every backend: connections stay open and nothing answers. */
  freeze(): void
  thaw(): void
  /** Stops it and deletes the data directory. */
  close(): Promise<void>
}

const STARTUP_TIMEOUT_MS = 30_000

/**
 * PostgreSQL refuses to run as root, and test machines and containers often are root: then the
 * server runs as the `postgres` account (or `ARB_PG_USER`), which must exist.
 */
const serverAccount = (): { uid: number; gid: number } | undefined => {
  if (process.getuid?.() !== 0) return undefined
  const user = process.env['ARB_PG_USER'] ?? 'postgres'
  const id = (flag: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim())
  const uid = id('-u')
  const gid = id('-g')
  if (!Number.isInteger(uid) || uid <= 0)
    throw new Error(`running as root and there is no "${user}" user to run postgres`)
  return { uid, gid }
}

export const startPostgres = async (): Promise<OwnPostgres> => {
  const dir = mkdtempSync(join(tmpdir(), 'arb-pg-'))
  const data = join(dir, 'data')
  const account = serverAccount()
  if (account) chownSync(dir, account.uid, account.gid)
  const asServer = account ? { uid: account.uid, gid: account.gid } : {}
  const init = spawnSync('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], {
    encoding: 'utf8',
    ...asServer,
  })
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.error?.message}`)
  const port = await freePort()
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  const log: string[] = []

  const accepts = async (): Promise<true | undefined> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 })
    try {
      await c.connect()
      await c.query('SELECT 1')
      return true
    } catch {
      return undefined
    } finally {
      await c.end().catch(() => undefined)
    }
  }

  const start = async () => {
    if (child) return
    // fsync off: the tests kill and restart it on purpose and never need durability across a crash of the host.
    const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']
    const c = spawn('postgres', args, { stdio: ['ignore', 'pipe', 'pipe'], ...asServer })
    child = c
    const keep = (b: Buffer) => log.push(...b.toString('utf8').split('\n').filter(Boolean).slice(-50))
    c.stdout?.on('data', keep)
    c.stderr?.on('data', keep)
    exited = new Promise((resolve) => c.once('exit', () => resolve()))
    void exited.then(() => {
      if (child === c) child = undefined
    })
    try {
      await eventually(accepts, STARTUP_TIMEOUT_MS, `postgres on port ${port}`)
    } catch (err) {
      throw new Error(`postgres did not start: ${log.slice(-10).join('\n')}`, { cause: err })
    }
  }

  /** The postmaster and its children (backends, checkpointer, …), from /proc. */
  const processTree = (root: number): number[] => {
    const parentOf = new Map<number, number>()
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
        // Field 4 is the ppid; the command name before it may hold spaces, so split after its ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        parentOf.set(Number(name), ppid)
      } catch {
        /* gone meanwhile */
      }
    }
    const tree = [root]
    for (const [pid, ppid] of parentOf) if (ppid === root) tree.push(pid)
    return tree
  }
  const signalTree = (signal: NodeJS.Signals) => {
    if (child?.pid === undefined) return
    for (const pid of processTree(child.pid)) {
      try {
        process.kill(pid, signal)
      } catch {
        /* exited meanwhile */
      }
    }
  }

  const stop = async () => {
    const c = child
    if (!c) return
    signalTree('SIGCONT')
    c.kill('SIGINT')
    await exited
  }

  // A test worker is often killed rather than exited: a detached shell stops the server and
  // removes its files once this process is gone, however it went.
  const watch = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `pm=$(head -1 ${data}/postmaster.pid 2>/dev/null)`,
    `if [ -n "$pm" ]; then kill -CONT $pm $(pgrep -P $pm) 2>/dev/null; kill -INT $pm 2>/dev/null; sleep 3; fi`,
    `rm -rf ${dir}`,
  ].join('; ')
  spawn('sh', ['-c', watch], { detached: true, stdio: 'ignore' }).unref()
  process.once('exit', () => child?.kill('SIGINT'))

  await start()
  return {
    url,
    port,
    get pid() {
      return child?.pid
    },
    stop,
    start,
    freeze: () => signalTree('SIGSTOP'),
    thaw: () => signalTree('SIGCONT'),
    close: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
