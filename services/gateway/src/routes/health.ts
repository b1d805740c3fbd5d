import type { FastifyPluginAsync } from 'fastify'
import type pg from 'pg'
import { databaseIsUp } from '../plugins/db.js'
import { Health, Readiness } from '../schemas.js'

/** /ready answers within this even when PostgreSQL hangs, well inside a typical probe timeout. */
export const READY_DB_TIMEOUT_MS = 1000

const healthRoutes: FastifyPluginAsync<{ pool: pg.Pool; natsUp: () => boolean; startedAt: number }> = async (
  app,
  { pool, natsUp, startedAt },
) => {
  // Probes call these every few seconds: keep them out of the info log.
  app.get<{ Reply: Health }>('/health', { logLevel: 'warn', schema: { response: { 200: Health } } }, async () => ({
    status: 'ok',
    uptimeS: Math.floor((Date.now() - startedAt) / 1000),
  }))

  app.get<{ Reply: Readiness }>(
    '/ready',
    { logLevel: 'warn', schema: { response: { 200: Readiness, 503: Readiness } } },
    async (_request, reply) => {
      const database = (await databaseIsUp(pool, READY_DB_TIMEOUT_MS)) ? 'up' : 'down'
      const nats = natsUp() ? 'up' : 'down'
      const ready = database === 'up' && nats === 'up'
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: { nats, database } })
    },
  )
}

export default healthRoutes
