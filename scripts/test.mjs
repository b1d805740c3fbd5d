// `npm test`: install what is missing, start the services, then format, lint, typecheck,
// schema drift, build and every test. Tests reach NATS and PostgreSQL through NATS_URL /
// DATABASE_URL; unset, they default to this machine's servers, and ARB_TEST_CONTAINERS=1
// leaves them unset so the test kit starts containers instead (needs Docker).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'

const root = new URL('..', import.meta.url).pathname
const env = { ...process.env }
const containers = env.ARB_TEST_CONTAINERS === '1'
if (containers) {
  delete env.NATS_URL
  delete env.DATABASE_URL
  env.TESTCONTAINERS_RYUK_DISABLED ??= 'true'
} else {
  env.NATS_URL ??= 'nats://127.0.0.1:4222'
  env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres'
}

const step = (name, cmd, args) => {
  const started = Date.now()
  console.log(`\n▶ ${name}`)
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env })
  const s = ((Date.now() - started) / 1000).toFixed(1)
  if (r.status !== 0) {
    console.error(`✖ ${name} failed after ${s}s`)
    process.exit(r.status ?? 1)
  }
  console.log(`✔ ${name} (${s}s)`)
}

const extra = process.argv.slice(2)
step('bootstrap', 'node', ['scripts/bootstrap.mjs', ...(containers ? ['--no-services'] : [])])
step('format, lint, typecheck, schemas', 'pnpm', ['run', 'check'])
step('build', 'pnpm', ['run', 'build'])
console.log(
  containers
    ? 'tests: NATS and PostgreSQL from testcontainers'
    : `tests: NATS ${env.NATS_URL}, PostgreSQL ${env.DATABASE_URL.replace(/:[^:@/]*@/, ':***@')}`,
)
// The JSON report gives CI a plain 'N passed, N failed' closing line whatever vitest prints.
const report = `${root}.data/vitest-report.json`
mkdirSync(`${root}.data`, { recursive: true })
rmSync(report, { force: true })
const vitest = [
  'exec',
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...extra,
]
const printTotals = () => {
  if (!existsSync(report)) return
  const r = JSON.parse(readFileSync(report, 'utf8'))
  console.log(
    `vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`,
  )
}
process.on('exit', printTotals)
step('tests', 'pnpm', vitest)
