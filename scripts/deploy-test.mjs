// `npm run test:deploy`: the docker compose stack as users deploy it, really running. Makes the
// base images available (deploy/base-images.sh installs Docker and builds local stand-ins where
// no registry answers), builds the image, brings the stack up with the simulator override under
// its own project name with `--scale ingestor-coinbase=2`, and checks: /ready; ticks from every
// simulated exchange in the database; a signal in arb_signals and on arb.signals; both Coinbase
// replicas in /services; recovery after `restart nats`, `restart db`, `restart persister` and a
// SIGKILL of the persister process (the restart policy brings it back), each with no tick gap
// longer than the outage and the persister's ack floor reaching the end of the stream; every
// tick and signal in JetStream stored exactly once, no (exchange, pair, seq) twice; and a clean
// `docker-compose stop` (every container exits 0).
// Prints each phase's duration; always tears the stack down with `down -v`.
//
// Environment: ARB_NATS_IMAGE (nats:2.9), ARB_DB_IMAGE (postgres:15), ARB_IMAGE (arb:local),
// DEPLOY_TEST_SKIP_BUILD=1 to use the image as it is, DEPLOY_TEST_KEEP=1 to leave the stack up.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'

const root = new URL('..', import.meta.url).pathname
const project = `arb-deploytest-${randomBytes(3).toString('hex')}`
const SCALE = 2
const GAP_SLACK_MS = 3000 // client reconnect wait (1 s) plus scheduling on a busy machine
const POLL_MS = 1000

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })

const port = await freePort()
// An empty env file: a developer's .env must not change what the test deploys.
const scratch = mkdtempSync(join(tmpdir(), 'arb-deploytest-'))
const envFile = join(scratch, 'empty.env')
writeFileSync(envFile, '')
const env = {
  ...process.env,
  ARB_IMAGE: process.env.ARB_IMAGE ?? 'arb:local',
  ARB_NATS_IMAGE: process.env.ARB_NATS_IMAGE ?? 'nats:2.9',
  ARB_DB_IMAGE: process.env.ARB_DB_IMAGE ?? 'postgres:15',
  GATEWAY_BIND: '127.0.0.1',
  GATEWAY_PORT: String(port),
}
const gateway = `http://127.0.0.1:${port}`

class DeployFailure extends Error {
  constructor(message, services = []) {
    super(message)
    this.services = services
  }
}
const fail = (message, services) => {
  throw new DeployFailure(message, services)
}

const lastLines = (text, n) => text.trimEnd().split('\n').slice(-n).join('\n')
/** Runs a command to completion (bounded by timeoutMs); stdout, or a DeployFailure. */
const run = (cmd, args, { timeoutMs = 120_000, input, inherit = false, check = true } = {}) => {
  const r = spawnSync(cmd, args, {
    cwd: root,
    env,
    input,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
    stdio: inherit ? 'inherit' : 'pipe',
  })
  if (check && r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`
    fail(`\`${cmd} ${args.join(' ')}\` failed (${why})\n${lastLines(`${r.stdout ?? ''}${r.stderr ?? ''}`, 40)}`)
  }
  return r.stdout ?? ''
}
const composeArgs = ['-p', project, '--env-file', envFile, '-f', 'docker-compose.yml', '-f', 'deploy/compose.sim.yml']
const compose = (args, opts) => run('docker-compose', [...composeArgs, ...args], opts)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`

/** Polls `probe` until it returns a value; on timeout fails with `what` and the last reason. */
const waitFor = async (what, probe, timeoutMs, services) => {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer yet'
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err instanceof Error ? err.message.split('\n')[0] : String(err)
    }
    if (Date.now() > deadline)
      fail(`timed out after ${seconds(timeoutMs)} waiting for ${what} (last: ${last})`, services)
    await sleep(POLL_MS)
  }
}
/** Throws the reason a condition is not met yet, for waitFor's message. */
const notYet = (reason) => {
  throw new Error(reason)
}

const phases = []
const phase = async (name, fn) => {
  const started = Date.now()
  console.log(`\n▶ ${name}`)
  const result = await fn()
  const ms = Date.now() - started
  phases.push([name, ms])
  console.log(`✔ ${name} (${seconds(ms)})`)
  return result
}

// --- probes -----------------------------------------------------------------------------------
const ids = {}
const containerOf = (service) => {
  const id = compose(['ps', '-q', service]).trim().split('\n')[0]
  if (!id) fail(`no container for service ${service}`, [service])
  return id
}
const sql = (query) =>
  run(
    'docker',
    [
      'exec',
      '-i',
      ids.db,
      'sh',
      '-c',
      'psql -X -q -v ON_ERROR_STOP=1 -A -t -F "|" -U "$POSTGRES_USER" -d "$POSTGRES_DB"',
    ],
    { input: query, timeoutMs: 20_000 },
  )
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|'))
/** JetStream state from the NATS monitoring endpoint, read inside the nats container: per stream
 * its message count, last sequence and, per consumer, the ack floor (every message up to that
 * stream sequence is acknowledged, i.e. stored by the persister). */
const jetstream = () => {
  const url = 'http://127.0.0.1:8222/jsz?streams=true&consumers=true'
  const jsz = JSON.parse(run('docker', ['exec', ids.nats, 'wget', '-q', '-O', '-', url], { timeoutMs: 10_000 }))
  return Object.fromEntries(
    (jsz.account_details ?? []).flatMap((a) =>
      (a.stream_detail ?? []).map((s) => [
        s.name,
        {
          messages: s.state.messages,
          lastSeq: s.state.last_seq,
          ackFloor: Object.fromEntries((s.consumer_detail ?? []).map((c) => [c.name, c.ack_floor.stream_seq])),
        },
      ]),
    ),
  )
}
const streams = () => Object.fromEntries(Object.entries(jetstream()).map(([name, s]) => [name, s.messages]))
/** Waits until the persister has stored every tick the TICKS stream held when called. */
const persisterCaughtUp = async (what, services) => {
  const target = (await waitFor('NATS monitoring', () => jetstream()['TICKS'], 60_000, ['nats'])).lastSeq
  return waitFor(
    `${what}: the persister's ack floor on TICKS to reach ${target}`,
    () => {
      const floor = jetstream()['TICKS']?.ackFloor['persister'] ?? 0
      if (floor < target) notYet(`ack floor ${floor} < ${target}`)
      return Date.now()
    },
    90_000, // a crashed persister's unacked messages come back after the consumer's ack wait (30 s)
    services,
  )
}
const getJson = async (path) => {
  const res = await fetch(`${gateway}${path}`, { signal: globalThis.AbortSignal.timeout(3000) })
  if (!res.ok) notYet(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`)
  return res.json()
}
/** Per (exchange, pair): ticks, newest receivedTs and the longest gap between two consecutive ticks in [from, to]. */
const tickGaps = (from, to) =>
  sql(
    `SELECT exchange, pair, count(*), (extract(epoch FROM max(ts)) * 1000)::bigint,
            coalesce(max(gap_ms), 0)::bigint
       FROM (SELECT exchange, pair, ts,
                    extract(epoch FROM ts - lag(ts) OVER (PARTITION BY exchange, pair ORDER BY ts)) * 1000 AS gap_ms
               FROM ticks
              WHERE ts BETWEEN to_timestamp(${from} / 1000.0) AND to_timestamp(${to} / 1000.0)) g
      GROUP BY 1, 2 ORDER BY 1, 2`,
  ).map(([exchange, pair, n, newest, gap]) => ({
    exchange,
    pair,
    n: Number(n),
    newest: Number(newest),
    gap: Number(gap),
  }))

let feeds = [] // { exchange, pair } that the simulator serves and the ingestors subscribe to
/** Every feed has a tick received after `after` stored; resolves to the time that became true. */
const ticksAfter = (after) => {
  const rows = tickGaps(after, Date.now() + 60_000)
  const missing = feeds.filter((f) => !rows.some((r) => r.exchange === f.exchange && r.pair === f.pair && r.n > 0))
  if (missing.length > 0)
    notYet(`no tick after t0 yet from ${missing.map((f) => `${f.exchange} ${f.pair}`).join(', ')}`)
  return Date.now()
}
const assertGaps = (what, from, to, boundMs, services) => {
  const rows = tickGaps(from, to)
  for (const f of feeds) {
    const r = rows.find((x) => x.exchange === f.exchange && x.pair === f.pair)
    if (!r) fail(`${what}: no tick at all from ${f.exchange} ${f.pair} in the window`, services)
    console.log(`  ${f.exchange} ${f.pair}: ${r.n} ticks, longest gap ${r.gap} ms (bound ${boundMs} ms)`)
    if (r.gap > boundMs)
      fail(`${what}: ${f.exchange} ${f.pair} has a ${r.gap} ms gap, longer than ${boundMs} ms`, services)
  }
  return Math.max(...rows.map((r) => r.gap))
}
const state = (id) => JSON.parse(run('docker', ['inspect', '-f', '{{json .State}}', id]))
const restartCount = (id) => Number(run('docker', ['inspect', '-f', '{{.RestartCount}}', id]).trim())

// --- teardown ---------------------------------------------------------------------------------
let stackUp = false
const teardown = () => {
  if (!stackUp) return
  stackUp = false
  if (process.env.DEPLOY_TEST_KEEP === '1') {
    console.log(
      `\nDEPLOY_TEST_KEEP=1: left ${project} up; remove it with: docker-compose ${composeArgs.join(' ')} down -v`,
    )
    return
  }
  const started = Date.now()
  const r = spawnSync('docker-compose', [...composeArgs, 'down', '-v', '--remove-orphans', '-t', '10'], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 180_000,
  })
  if (r.status !== 0) {
    // Fall back to the labels compose puts on what it created.
    console.error(`down -v failed (${r.error?.message ?? `exit ${r.status}`}): removing ${project} by label`)
    const label = `label=com.docker.compose.project=${project}`
    const list = (...a) => spawnSync('docker', a, { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? []
    const containers = list('ps', '-aq', '--filter', label)
    if (containers.length) spawnSync('docker', ['rm', '-f', '-v', ...containers])
    const volumes = list('volume', 'ls', '-q', '--filter', label)
    if (volumes.length) spawnSync('docker', ['volume', 'rm', '-f', ...volumes])
    const networks = list('network', 'ls', '-q', '--filter', label)
    if (networks.length) spawnSync('docker', ['network', 'rm', ...networks])
  }
  console.log(`torn down ${project} (${seconds(Date.now() - started)})`)
}
// fetch's sockets and abort timers do not keep Node alive: hold the event loop open until the end.
const keepAlive = setInterval(() => {}, 60_000)
let finished = false
process.on('exit', (code) => {
  if (!finished) console.error(`deploy test: exited early (code ${code})`)
  teardown() // whatever happens, nothing of this run is left behind
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n${signal}: tearing down`)
    teardown()
    rmSync(scratch, { recursive: true, force: true })
    process.exit(130)
  })
}

// --- the test ---------------------------------------------------------------------------------
const figures = []
const started = Date.now()
let ok = false
try {
  await phase('base images (deploy/base-images.sh)', () =>
    run('bash', ['deploy/base-images.sh'], { inherit: true, timeoutMs: 15 * 60_000 }),
  )

  if (process.env.DEPLOY_TEST_SKIP_BUILD !== '1') {
    await phase(`build ${env.ARB_IMAGE}`, () =>
      run('docker', ['build', '-f', 'deploy/Dockerfile', '-t', env.ARB_IMAGE, '.'], { timeoutMs: 15 * 60_000 }),
    )
  }
  const size = (img) => Number(run('docker', ['image', 'inspect', '-f', '{{.Size}}', img]).trim())
  const baseImage = run('docker', [
    'image',
    'inspect',
    '-f',
    '{{index .Config.Labels "arb.base"}}',
    env.ARB_IMAGE,
  ]).trim()
  const mb = (b) => `${(b / 1e6).toFixed(1)} MB`
  const imageSize = size(env.ARB_IMAGE)
  figures.push(['image size', mb(imageSize)])
  if (baseImage && baseImage !== '<no value>')
    figures.push([`added over ${baseImage}`, mb(imageSize - size(baseImage))])

  const services = compose(['config', '--services']).trim().split('\n')
  const exchanges = services.filter((s) => s.startsWith('ingestor-')).map((s) => s.slice('ingestor-'.length))
  const config = parse(compose(['config']))
  // The pairs each ingestor subscribes to, as the merged configuration sets them.
  feeds = exchanges.flatMap((exchange) =>
    String(config.services[`ingestor-${exchange}`]?.environment?.PAIRS ?? '')
      .split(',')
      .map((pair) => ({ exchange, pair: pair.trim() })),
  )
  if (feeds.length === 0 || feeds.some((f) => !f.pair)) fail(`could not read the ingestors' PAIRS from compose config`)
  console.log(
    `project ${project}, gateway ${gateway}, feeds: ${feeds.map((f) => `${f.exchange} ${f.pair}`).join(', ')}`,
  )

  const upStarted = Date.now()
  await phase(`up -d --scale ingestor-coinbase=${SCALE}, then /ready`, async () => {
    stackUp = true
    compose(['up', '-d', '--no-build', '--scale', `ingestor-coinbase=${SCALE}`], { timeoutMs: 300_000 })
    ids.db = containerOf('db')
    ids.nats = containerOf('nats')
    await waitFor('GET /ready = 200', () => getJson('/ready'), 120_000, ['gateway', 'nats', 'db'])
    figures.push(['up → /ready', seconds(Date.now() - upStarted)])
  })

  await phase('data flows: ticks, signals, instances', async () => {
    const since = Date.now()
    await waitFor('ticks from every feed', () => ticksAfter(0), 90_000, [
      'persister',
      ...exchanges.map((e) => `ingestor-${e}`),
      'simulator',
    ])
    const signals = await waitFor(
      'a signal in arb_signals and in the SIGNALS stream',
      () => {
        const stored = Number(sql('SELECT count(*) FROM arb_signals')[0][0])
        const published = streams()['SIGNALS'] ?? 0
        if (stored < 1 || published < 1) notYet(`arb_signals ${stored}, SIGNALS stream ${published}`)
        return { stored, published }
      },
      90_000,
      ['detector', 'persister'],
    )
    console.log(`  signals: ${signals.stored} stored, ${signals.published} on arb.signals`)
    const instances = await waitFor(
      `${SCALE} coinbase instances and every ingestor in /services`,
      async () => {
        const list = await getJson('/services')
        const ingestors = list.filter((s) => s.service === 'ingestor')
        const per = Object.fromEntries(exchanges.map((e) => [e, ingestors.filter((s) => s.exchange === e)]))
        if (per.coinbase.length !== SCALE || exchanges.some((e) => per[e].length < 1))
          notYet(`ingestors: ${exchanges.map((e) => `${e} ${per[e].length}`).join(', ')}`)
        return list
      },
      60_000,
      ['gateway', 'ingestor-coinbase'],
    )
    console.log(`  /services: ${instances.map((s) => `${s.service}${s.exchange ? `(${s.exchange})` : ''}`).join(', ')}`)
    // A steady-state window long enough to know the usual spacing of ticks.
    await sleep(Math.max(0, 10_000 - (Date.now() - since)))
    const gap = assertGaps('steady state', Date.now() - 10_000, Date.now(), 60_000, ['persister'])
    figures.push(['steady state: longest gap between two ticks of a feed', `${gap} ms`])
  })

  // A disruption: `act` breaks something and returns when it is back (the outage). Then new ticks
  // must reach the database, the persister must acknowledge everything the stream held, /ready
  // must be 200, and no feed may have a gap between two stored ticks longer than the outage.
  const disrupt = async (name, services, act) => {
    await phase(name, async () => {
      const t0 = Date.now()
      const back = await act()
      const outage = back - t0
      const flowing = await waitFor('ticks received after it in the database', () => ticksAfter(back), 90_000, services)
      const complete = await persisterCaughtUp(name, services)
      await waitFor('GET /ready = 200', () => getJson('/ready'), 60_000, ['gateway', ...services])
      console.log(
        `  outage ${outage} ms; new ticks stored after ${flowing - t0} ms, every earlier one after ${complete - t0} ms`,
      )
      assertGaps(name, t0 - 2000, complete, outage + GAP_SLACK_MS, services)
      figures.push(
        [`${name}: outage`, seconds(outage)],
        [`${name} → new ticks stored`, seconds(flowing - t0)],
        [`${name} → every tick stored`, seconds(complete - t0)],
      )
      await sleep(5000) // so that the next disruption's gap window sees only its own
    })
  }
  const ingestors = exchanges.map((e) => `ingestor-${e}`)

  await disrupt('docker-compose restart nats', ['nats', 'persister', ...ingestors], () => {
    compose(['restart', 'nats'], { timeoutMs: 60_000 })
    return Date.now()
  })

  await disrupt('docker-compose restart db', ['db', 'persister'], () => {
    compose(['restart', 'db'], { timeoutMs: 60_000 })
    return Date.now()
  })

  await disrupt('docker-compose restart persister', ['persister'], () => {
    compose(['restart', 'persister'], { timeoutMs: 60_000 })
    return Date.now()
  })

  await disrupt('SIGKILL of the persister process', ['persister'], async () => {
    const id = containerOf('persister')
    const before = restartCount(id)
    // SIGKILL the process itself, as the OOM killer or a crash would. Not `docker kill` or
    // `docker-compose kill`: a kill through the Docker API counts as a manual stop, and the
    // restart policy then leaves the container down (checked with Docker 20.10).
    const pid = Number(run('docker', ['inspect', '-f', '{{.State.Pid}}', id]).trim())
    if (process.getuid?.() === 0) process.kill(pid, 'SIGKILL')
    else
      run('docker', ['run', '--rm', '--pid=host', '--user=0', '--entrypoint=sh', env.ARB_IMAGE, '-c', `kill -9 ${pid}`])
    const back = await waitFor(
      'the restart policy to start the persister again',
      () => (restartCount(id) > before && state(id).Running ? Date.now() : undefined),
      60_000,
      ['persister'],
    )
    console.log(`  persister restart count ${before} → ${restartCount(id)}`)
    return back
  })

  await phase('every tick and signal in JetStream stored exactly once', async () => {
    // Stop the sources so the counts settle, then compare the streams with the tables.
    compose(['stop', ...exchanges.map((e) => `ingestor-${e}`)], { timeoutMs: 60_000 })
    const counts = await waitFor(
      'the tables to match the streams',
      () => {
        const s = streams()
        const [[ticks, signals]] = sql('SELECT (SELECT count(*) FROM ticks), (SELECT count(*) FROM arb_signals)')
        const c = {
          ticksStream: s['TICKS'],
          ticks: Number(ticks),
          signalsStream: s['SIGNALS'],
          signals: Number(signals),
        }
        if (c.ticks !== c.ticksStream || c.signals !== c.signalsStream)
          notYet(`TICKS ${c.ticksStream} vs ticks ${c.ticks}, SIGNALS ${c.signalsStream} vs arb_signals ${c.signals}`)
        return c
      },
      60_000,
      ['persister', 'detector'],
    )
    const dups = sql(`SELECT exchange, pair, seq, count(*) FROM ticks GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 5`)
    if (dups.length > 0) fail(`duplicate ticks (exchange|pair|seq|count): ${dups.map((d) => d.join('|')).join(', ')}`)
    const per = sql(`SELECT exchange, count(*) FROM ticks GROUP BY 1 ORDER BY 1`)
    console.log(
      `  ticks ${counts.ticks} = TICKS stream (${per.map(([e, n]) => `${e} ${n}`).join(', ')}), no (exchange, pair, seq) twice`,
    )
    console.log(`  signals ${counts.signals} = SIGNALS stream`)
  })

  await phase('docker-compose stop: every container exits 0 within the 10 s grace', async () => {
    const t0 = Date.now()
    compose(['stop', '-t', '10'], { timeoutMs: 120_000 })
    const took = Date.now() - t0
    const containers = run('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])
      .trim()
      .split('\n')
    const bad = []
    for (const id of containers) {
      const name = run('docker', ['inspect', '-f', '{{.Name}}', id]).trim().replace(/^\//, '')
      const s = state(id)
      if (s.Running || s.ExitCode !== 0) bad.push(`${name}: ${s.Running ? 'still running' : `exit ${s.ExitCode}`}`)
    }
    if (bad.length > 0) fail(`unclean stop: ${bad.join(', ')}`, ['persister', 'detector', 'gateway'])
    console.log(`  ${containers.length} containers stopped with exit 0 in ${took} ms`)
    figures.push(['docker-compose stop (all)', seconds(took)])
  })
  ok = true
} catch (err) {
  console.error(`\n✖ ${err instanceof Error ? err.message : String(err)}`)
  if (err instanceof DeployFailure && stackUp) {
    for (const s of [...new Set(err.services)]) {
      const r = spawnSync('docker-compose', [...composeArgs, 'logs', '--no-color', '--tail', '40', s], {
        cwd: root,
        env,
        encoding: 'utf8',
        timeout: 30_000,
      })
      console.error(`\n--- docker-compose logs --tail 40 ${s} ---\n${(r.stdout ?? '') + (r.stderr ?? '')}`)
    }
    const ps = spawnSync('docker-compose', [...composeArgs, 'ps'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    })
    console.error(`\n--- docker-compose ps ---\n${ps.stdout ?? ''}`)
  } else if (!(err instanceof DeployFailure)) console.error(err)
} finally {
  teardown()
  rmSync(scratch, { recursive: true, force: true })
}

console.log('\nphases:')
for (const [name, ms] of phases) console.log(`  ${seconds(ms).padStart(8)}  ${name}`)
console.log(`  ${seconds(Date.now() - started).padStart(8)}  total`)
if (figures.length > 0) {
  console.log('figures:')
  for (const [name, v] of figures) console.log(`  ${name}: ${v}`)
}
console.log(ok ? '\ndeploy test passed' : '\ndeploy test FAILED')
finished = true
clearInterval(keepAlive)
process.exit(ok ? 0 : 1)
