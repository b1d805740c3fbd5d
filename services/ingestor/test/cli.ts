import { spawn } from 'node:child_process'

const root = new URL('../../../', import.meta.url).pathname
const CLI = ['--conditions=source', '--import', 'tsx', 'services/ingestor/src/cli/normalize.ts']

/** Runs the normalize CLI the way `npm run -s normalize` does, as a child process with `stdin` piped in. */
export const normalizeCli = (args: readonly string[], stdin: string) =>
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

/** The JSON objects of a JSON Lines text. */
export const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
