import { STATUS_CODES } from 'node:http'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify'
import type pg from 'pg'
import { Signal, type Heartbeat, type Topology } from '@arb/contracts'
import type { Logger } from '@arb/observability'
import dbPlugin from './plugins/db.js'
import { BadRequestError, DatabaseUnavailableError } from './errors.js'
import { SIGNAL_SCHEMA_ID } from './schemas.js'
import type { ServicesRegistry } from './services-registry.js'
import healthRoutes from './routes/health.js'
import servicesRoutes from './routes/services.js'
import signalsRoutes from './routes/signals.js'

/** What the gateway runs on; the app owns (and closes) the pool and the registry, not the NATS connection. */
export interface AppDeps {
  readonly pool: pg.Pool
  /**
   * Whether NATS is up right now. A function, not the connection: the gateway listens (and
   * answers /ready with nats down) while it is still waiting for NATS at start-up.
   */
  readonly natsUp: () => boolean
  readonly topo: Topology
  readonly registry: ServicesRegistry
  readonly log: Logger
  /** This gateway's name in /services. */
  readonly instance: string
  readonly startedAt?: number
}

/** The live part of the gateway's own heartbeat, as other services publish it. */
export type SelfStatus = Pick<Heartbeat, 'status' | 'lastMessageTs' | 'counters'>

declare module 'fastify' {
  interface FastifyInstance {
    selfStatus: () => SelfStatus
    /**
     * Starts a graceful stop: from now on every new request is answered 503 (so a load balancer
     * takes the gateway out), and this resolves once the requests already in flight have been
     * answered, or after `timeoutMs`. `close()` then only has idle connections left to end.
     */
    drain: (timeoutMs?: number) => Promise<void>
  }
}

const SHUTTING_DOWN = JSON.stringify({ error: 'Service Unavailable', message: 'shutting down' })

/** Longest a request can take: the data routes' client-side query bound, plus a margin. */
export const DRAIN_TIMEOUT_MS = 6500

/** The gateway as a plugin (fastify/demo `app.ts`): schemas, error handling and routes. */
export const gatewayApp: FastifyPluginAsync<AppDeps> = async (app, deps) => {
  const startedAt = deps.startedAt ?? Date.now()
  const counters = { requests: 0, serverErrors: 0 }

  await app.register(dbPlugin, { pool: deps.pool })
  app.addHook('onClose', async () => deps.registry.stop())
  app.addSchema({ ...Signal, $id: SIGNAL_SCHEMA_ID })

  // Requests admitted before a drain began; the drain waits for these to be answered.
  const inFlight = new Set<FastifyRequest>()
  let draining = false
  let drained: (() => void) | undefined
  const settle = (request: FastifyRequest) => {
    if (inFlight.delete(request) && draining && inFlight.size === 0) drained?.()
  }
  app.addHook('onRequest', async (request, reply) => {
    if (!draining) {
      inFlight.add(request)
      return
    }
    // Sent as text: the route's own response schema (/ready's 503 is a Readiness) would not fit.
    return reply.code(503).header('connection', 'close').type('application/json').send(SHUTTING_DOWN)
  })
  app.addHook('onRequestAbort', async (request) => settle(request))
  app.addHook('onResponse', async (request, reply) => {
    settle(request)
    counters.requests++
    if (reply.statusCode >= 500) counters.serverErrors++
  })
  app.decorate('drain', async (timeoutMs = DRAIN_TIMEOUT_MS) => {
    draining = true
    if (inFlight.size === 0) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>((resolve) => {
      drained = resolve
      timer = setTimeout(resolve, timeoutMs)
    })
    clearTimeout(timer)
  })
  app.decorate('selfStatus', () => ({
    status: deps.natsUp() ? ('ok' as const) : ('degraded' as const),
    lastMessageTs: deps.registry.stats.lastReceivedTs,
    counters: {
      ...counters,
      heartbeatsReceived: deps.registry.stats.received,
      heartbeatsInvalid: deps.registry.stats.invalid,
    },
  }))

  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  )

  await app.register(healthRoutes, { pool: deps.pool, natsUp: deps.natsUp, startedAt })
  await app.register(servicesRoutes, { registry: deps.registry, instance: deps.instance, startedAt })
  await app.register(signalsRoutes)
}
// Like fastify-plugin: decorators and hooks belong to the instance that registers the app.
Object.assign(gatewayApp, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'gateway' })

/** A ready-to-listen (or inject) gateway. */
export const build = async (deps: AppDeps): Promise<FastifyInstance> => {
  const app = Fastify({
    // Typed as Fastify's logger interface so the instance is a plain FastifyInstance for plugins and callers.
    loggerInstance: deps.log as FastifyBaseLogger,
    // Fastify's default strips unknown query keys silently; a misspelt filter must be a 400 instead.
    ajv: { customOptions: { removeAdditional: false } },
    // Signal ids may be 128 characters (more once percent-encoded); the router's default cut-off is 100.
    routerOptions: { maxParamLength: 512 },
  })
  await app.register(gatewayApp, deps)
  return app
}

type ValidationIssue = NonNullable<FastifyError['validation']>[number]

const describeIssue = (context: string, issue: ValidationIssue): { field: string; message: string } => {
  const params = issue.params as Record<string, unknown>
  const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.')
  if (issue.keyword === 'additionalProperties') {
    const field = String(params['additionalProperty'])
    return { field, message: `unknown ${context === 'querystring' ? 'query parameter' : 'property'} ${field}` }
  }
  if (issue.keyword === 'required') {
    const field = String(params['missingProperty'])
    return { field, message: `${field} is required` }
  }
  const field = path || context
  if (issue.keyword === 'enum') {
    return { field, message: `${field} must be one of: ${(params['allowedValues'] as unknown[]).join(', ')}` }
  }
  if (issue.keyword === 'pattern') return { field, message: `${field} must match ${String(params['pattern'])}` }
  return { field, message: `${field} ${issue.message ?? 'is invalid'}` }
}

const errorHandler = (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
  if (err instanceof DatabaseUnavailableError) {
    request.log.warn({ err }, 'database unavailable')
    return reply.code(503).send({ error: 'database unavailable' })
  }
  if (err instanceof BadRequestError) {
    return reply.code(400).send({ error: 'Bad Request', message: err.message, field: err.field })
  }
  const first = err.validation?.[0]
  if (first !== undefined) {
    const { field, message } = describeIssue(err.validationContext ?? 'request', first)
    return reply.code(400).send({ error: 'Bad Request', message, field })
  }
  const status =
    typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
  if (status < 500) {
    return reply.code(status).send({ error: STATUS_CODES[status] ?? 'Error', message: err.message })
  }
  // Details of a server fault go to the log only: they can name tables, queries or hosts.
  request.log.error({ err }, 'request failed')
  return reply.code(status).send({ error: STATUS_CODES[status] ?? 'Internal Server Error' })
}
