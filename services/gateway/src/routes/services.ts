import type { FastifyPluginAsync } from 'fastify'
import { ServicesList, type ServiceInstance } from '../schemas.js'
import { byServiceThenInstance, type ServicesRegistry } from '../services-registry.js'

const servicesRoutes: FastifyPluginAsync<{ registry: ServicesRegistry; instance: string; startedAt: number }> = async (
  app,
  { registry, instance, startedAt },
) => {
  app.get<{ Reply: ServicesList }>('/services', { schema: { response: { 200: ServicesList } } }, async () => {
    const now = Date.now()
    const own = app.selfStatus()
    // The gateway lists itself from its live state; its own heartbeat, echoed back by NATS, would be older.
    const self: ServiceInstance = {
      service: 'gateway',
      instance,
      startedAt,
      lastSeen: now,
      ageMs: 0,
      ...own,
      lastMessageAgeMs: own.lastMessageTs === null ? null : Math.max(0, now - own.lastMessageTs),
      // The gateway's own counters are read live, not from beats, so it has no interval to rate over.
      rates: {},
    }
    const others = registry
      .list()
      .filter((e) => !(e.service === 'gateway' && e.instance === instance))
      .map((e): ServiceInstance => ({
        service: e.service,
        instance: e.instance,
        ...(e.exchange !== undefined ? { exchange: e.exchange } : {}),
        status: e.status,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        startedAt: e.startedAt,
        lastSeen: e.lastSeen,
        ageMs: Math.max(0, now - e.lastSeen),
        lastMessageTs: e.lastMessageTs,
        lastMessageAgeMs: e.lastMessageTs === null ? null : Math.max(0, now - e.lastMessageTs),
        counters: e.counters,
        rates: e.rates,
        ...(e.process !== undefined ? { process: e.process } : {}),
      }))
    return [...others, self].sort(byServiceThenInstance)
  })
}

export default servicesRoutes
