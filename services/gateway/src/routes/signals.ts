import type { FastifyPluginAsync } from 'fastify'
import type { Signal, SignalState } from '@arb/contracts'
import { NotFoundError } from '../errors.js'
import { query } from '../plugins/db.js'
import { ErrorBody, SignalHistory, SignalIdParams, SignalsPage, SignalsQuery } from '../schemas.js'
import { checkSignalId, encodeCursor, MAX_EVENTS, signalEventsSql, signalsSql, toFilter } from '../signals-query.js'

interface PageRow {
  payload: Signal
  id: string
  state: SignalState
  cursor_ts: string
}

const signalsRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: SignalsQuery; Reply: SignalsPage }>(
    '/signals',
    { schema: { querystring: SignalsQuery, response: { 200: SignalsPage, '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request) => {
      const filter = toFilter(request.query)
      const q = signalsSql(filter)
      const rows = await query<PageRow>(app.pg, q.text, q.values)
      const page = rows.slice(0, filter.limit)
      const last = page.at(-1)
      const more = rows.length > filter.limit && last !== undefined
      return {
        items: page.map((r) => r.payload),
        nextCursor: more ? encodeCursor({ ts: last.cursor_ts, id: last.id, state: last.state }) : null,
      }
    },
  )

  app.get<{ Params: SignalIdParams; Reply: SignalHistory }>(
    '/signals/:id',
    { schema: { params: SignalIdParams, response: { 200: SignalHistory, '4xx': ErrorBody, '5xx': ErrorBody } } },
    async (request) => {
      const id = checkSignalId(request.params.id)
      const q = signalEventsSql(id)
      const newestFirst = await query<{ payload: Signal }>(app.pg, q.text, q.values)
      const events = newestFirst
        .slice(0, MAX_EVENTS)
        .map((r) => r.payload)
        .reverse()
      const latest = events.at(-1)
      if (latest === undefined) throw new NotFoundError(`signal ${id} not found`)
      return { id, events, latest, truncated: newestFirst.length > MAX_EVENTS }
    },
  )
}

export default signalsRoutes
