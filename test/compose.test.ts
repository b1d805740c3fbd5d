import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import type { TObject } from '@sinclair/typebox'
import {
  DetectorConfig,
  GatewayConfig,
  IngestorConfig,
  PersisterConfig,
  SimulatorConfig,
  parseConfig,
} from '@arb/contracts'
import { adapters } from '@arb/exchanges'

// Docker may be absent where the unit tests run, so the compose files are checked against the
// code they start: entry points exist, every variable is one the service reads and parses.
const root = new URL('..', import.meta.url).pathname
const load = (file: string) => parse(readFileSync(`${root}${file}`, 'utf8'), { merge: true }) as Compose
interface Service {
  image?: string
  restart?: string
  command?: string[]
  environment?: Record<string, string | number>
  ports?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: unknown
  container_name?: string
}
interface Compose {
  name?: string
  services: Record<string, Service>
}

const schemas: Record<string, TObject> = {
  ingestor: IngestorConfig,
  persister: PersisterConfig,
  detector: DetectorConfig,
  gateway: GatewayConfig,
  simulator: SimulatorConfig,
}
// `${VAR:-default}` becomes its default, as compose does with an empty environment.
const substitute = (v: string | number) => String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')
const serviceOf = (s: Service) => /^services\/([a-z]+)\/dist\/main\.js$/.exec(s.command?.[1] ?? '')?.[1]

const base = load('docker-compose.yml')
const sim = load('deploy/compose.sim.yml')

describe('docker-compose.yml', () => {
  const arbServices = Object.entries(base.services).filter(([, s]) => serviceOf(s) !== undefined)

  it('has no top-level name and no container_name (compose 1.29, --scale)', () => {
    expect(base.name).toBeUndefined()
    for (const s of Object.values(base.services)) expect(s.container_name).toBeUndefined()
  })

  it('starts entry points that exist, with variables the service reads and accepts', () => {
    expect(arbServices.length).toBeGreaterThanOrEqual(5)
    for (const [name, s] of arbServices) {
      const service = serviceOf(s) as string
      expect(existsSync(`${root}services/${service}/src/main.ts`), name).toBe(true)
      const schema = schemas[service]
      expect(schema, name).toBeDefined()
      const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, substitute(v)]))
      for (const key of Object.keys(env)) expect(Object.keys(schema!.properties), `${name} ${key}`).toContain(key)
      expect(() => parseConfig(schema!, env), name).not.toThrow()
    }
  })

  it('has one ingestor service per exchange adapter', () => {
    for (const id of Object.keys(adapters)) {
      const s = base.services[`ingestor-${id}`]
      expect(s, `ingestor-${id}`).toBeDefined()
      expect(s!.environment?.['EXCHANGE']).toBe(id)
    }
  })

  it('waits for healthy NATS and database, and only the gateway publishes a port, on loopback by default', () => {
    expect(base.services['nats']?.healthcheck).toBeDefined()
    expect(base.services['db']?.healthcheck).toBeDefined()
    for (const [name, s] of arbServices) {
      expect(s.depends_on?.['nats']?.condition, name).toBe('service_healthy')
      if (name !== 'gateway') expect(s.ports, name).toBeUndefined()
    }
    expect(base.services['gateway']?.ports?.map(substitute)).toEqual(['127.0.0.1:3000:3000'])
    expect(base.services['persister']?.depends_on?.['db']?.condition).toBe('service_healthy')
  })

  it('lets the NATS and database images be overridden', () => {
    expect(base.services['nats']?.image).toMatch(/^\$\{ARB_NATS_IMAGE:-nats:2\.1\d/)
    expect(base.services['db']?.image).toMatch(/^\$\{ARB_DB_IMAGE:-timescale\/timescaledb:/)
  })

  it('defaults to a NATS image that can run its wget health check (the scratch variant cannot)', () => {
    expect(JSON.stringify(base.services['nats']?.healthcheck)).toContain('wget')
    expect(base.services['nats']?.image).toMatch(/^\$\{ARB_NATS_IMAGE:-nats:[\d.]+-alpine\}$/)
  })

  it('restarts every service by itself, but not after a deliberate stop', () => {
    for (const file of [base, sim])
      for (const [name, s] of Object.entries(file.services))
        if (s.image !== undefined) expect(s.restart, name).toBe('unless-stopped')
  })
})

describe('.env.example', () => {
  const documented = new Map(
    readFileSync(`${root}.env.example`, 'utf8')
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  )
  it('documents every variable the compose files read, with the default they fall back to', () => {
    for (const file of ['docker-compose.yml', 'deploy/compose.sim.yml']) {
      const text = readFileSync(`${root}${file}`, 'utf8')
      for (const [, name, fallback] of text.matchAll(/\$\{([A-Z_]+)(?::-([^}]*))?\}/g)) {
        expect(documented.has(name!), `${file}: ${name}`).toBe(true)
        expect(documented.get(name!), `${file}: ${name}`).toBe(fallback ?? '')
      }
    }
  })
})

describe('deploy/Dockerfile', () => {
  const dockerfile = readFileSync(`${root}deploy/Dockerfile`, 'utf8')
  const ignored = readFileSync(`${root}.dockerignore`, 'utf8').split('\n')

  it('pins the pnpm of package.json', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { packageManager: string }
    expect(/^ARG PNPM_VERSION=(\S+)$/m.exec(dockerfile)?.[1]).toBe(pkg.packageManager.replace(/^pnpm@/, ''))
  })

  it('builds with the legacy builder: no RUN --mount, COPY --link or heredocs', () => {
    const instructions = dockerfile
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n')
    expect(instructions).not.toMatch(/--mount|--link|<<-?\s*['"]?[A-Z]/)
  })

  it('runs as the node user with the base image as an argument', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:\d+/m)
    expect(
      dockerfile
        .trimEnd()
        .split('\n')
        .filter((l) => l.startsWith('USER '))
        .at(-1),
    ).toBe('USER node')
  })

  it('keeps dependencies, secrets, data and logs out of the build context', () => {
    for (const p of ['**/node_modules', '**/dist', '.env', '.env.*', '.data', '**/*.log', '.git'])
      expect(ignored, p).toContain(p)
  })
})

describe('deploy/compose.sim.yml', () => {
  it('adds the simulator and points every ingestor at it', () => {
    expect(serviceOf(sim.services['simulator']!)).toBe('simulator')
    for (const id of Object.keys(adapters)) {
      const url = sim.services[`ingestor-${id}`]?.environment?.['EXCHANGE_URL']
      expect(url, id).toBe(`ws://simulator:8900/${id}`)
    }
    const env = Object.fromEntries(
      Object.entries(sim.services['simulator']!.environment ?? {}).map(([k, v]) => [k, substitute(v)]),
    )
    expect(() => parseConfig(SimulatorConfig, env)).not.toThrow()
  })
})
