// Installs what a fresh clone lacks (the pinned pnpm, the workspace's packages) so that
// `npm run demo` and `npm test` are the only commands a newcomer needs.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'

const root = new URL('..', import.meta.url).pathname
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'))
const wantedPnpm = pkg.packageManager.replace(/^pnpm@/, '')

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts })
  if (r.status !== 0) {
    console.error(`bootstrap: ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`)
    process.exit(r.status ?? 1)
  }
}

const pnpmVersion = () => {
  try {
    return execFileSync('pnpm', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}

const have = pnpmVersion()
if (have !== wantedPnpm) {
  // corepack cannot verify pnpm signatures on this Node (TOOLCHAIN.md), so npm installs it.
  console.log(`bootstrap: installing pnpm@${wantedPnpm} (found ${have ?? 'none'})`)
  run('npm', ['install', '-g', '--no-fund', '--no-audit', `pnpm@${wantedPnpm}`])
}

const marker = `${root}node_modules/.modules.yaml`
const stale = !existsSync(marker) || statSync(`${root}pnpm-lock.yaml`).mtimeMs > statSync(marker).mtimeMs
if (stale) {
  console.log('bootstrap: installing workspace packages (pnpm install --frozen-lockfile)')
  run('pnpm', ['install', '--frozen-lockfile', '--reporter=append-only'])
}

if (!process.argv.includes('--no-services')) run('bash', [`${root}scripts/ensure-services.sh`])
