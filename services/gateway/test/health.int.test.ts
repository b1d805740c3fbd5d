import { createServer, type AddressInfo, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startGateway, type Harness } from './helpers.js'

/** A TCP port nothing listens on: bound, then released. */
const closedPort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

describe('GET /health and /ready', () => {
  let gw: Harness | undefined
  afterEach(async () => {
    await gw?.close()
    gw = undefined
  })

  it('/health answers without touching dependencies', async () => {
    gw = await startGateway({ databaseUrl: `postgres://postgres@127.0.0.1:${await closedPort()}/postgres` })
    const res = await gw.app.inject({ method: 'GET', url: '/health' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok', uptimeS: expect.any(Number) })
  })

  it('/ready is 200 when NATS and the database are up', async () => {
    gw = await startGateway()
    const res = await gw.app.inject({ method: 'GET', url: '/ready' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ready', checks: { nats: 'up', database: 'up' } })
  })

  it('/ready is 503 naming the database when it cannot be reached, and data routes fail fast with 503', async () => {
    gw = await startGateway({ databaseUrl: `postgres://postgres@127.0.0.1:${await closedPort()}/postgres` })
    const ready = await gw.app.inject({ method: 'GET', url: '/ready' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json()).toEqual({ status: 'not ready', checks: { nats: 'up', database: 'down' } })

    const started = Date.now()
    for (const url of ['/signals', '/signals/abc']) {
      const res = await gw.app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(503)
      expect(res.json()).toEqual({ error: 'database unavailable' })
    }
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('does not hang on a database that accepts connections but never answers', async () => {
    // A blackhole: TCP accepted, no PostgreSQL handshake ever comes back.
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as AddressInfo
    try {
      gw = await startGateway({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres` })
      const started = Date.now()
      const ready = await gw.app.inject({ method: 'GET', url: '/ready' })
      expect(ready.statusCode).toBe(503)
      expect(ready.json().checks.database).toBe('down')
      const res = await gw.app.inject({ method: 'GET', url: '/signals' })
      expect(res.statusCode).toBe(503)
      expect(res.json()).toEqual({ error: 'database unavailable' })
      // Harness connect timeout is 1 s; /ready gives up after READY_DB_TIMEOUT_MS.
      expect(Date.now() - started).toBeLessThan(4000)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('/ready is 503 naming NATS when the connection is closed', async () => {
    gw = await startGateway()
    await gw.nc.close()
    const res = await gw.app.inject({ method: 'GET', url: '/ready' })
    expect(res.statusCode).toBe(503)
    expect(res.json()).toEqual({ status: 'not ready', checks: { nats: 'down', database: 'up' } })
  })
})

describe('errors', () => {
  let gw: Harness | undefined
  afterEach(async () => {
    await gw?.close()
    gw = undefined
  })

  it('answers an unknown route with a JSON 404', async () => {
    gw = await startGateway()
    const res = await gw.app.inject({ method: 'GET', url: '/nope?x=1' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'Not Found', message: 'no route GET /nope' })
  })

  it('hides the details of a server fault', async () => {
    // No arb_signals table: the query fails with a PostgreSQL error that must not leak.
    gw = await startGateway({ withTable: false })
    const res = await gw.app.inject({ method: 'GET', url: '/signals' })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ error: 'Internal Server Error' })
    expect(res.body).not.toMatch(/arb_signals|relation/)
  })

  it('counts requests and server errors in its own /services entry', async () => {
    gw = await startGateway({ withTable: false })
    await gw.app.inject({ method: 'GET', url: '/signals' })
    const res = await gw.app.inject({ method: 'GET', url: '/services' })
    const self = (res.json() as { service: string; counters: Record<string, number> }[]).find(
      (s) => s.service === 'gateway',
    )
    expect(self?.counters).toMatchObject({ requests: 1, serverErrors: 1 })
  })
})
