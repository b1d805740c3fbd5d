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
