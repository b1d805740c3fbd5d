export { testNatsUrl, testDatabaseUrl, uniqueName, freshSchema, eventually, freePort } from './services.js'
export { startService, type ServiceProcess } from './processes.js'
export {
  startReplayServer,
  loadFrames,
  type ReplayServer,
  type ReplayServerOptions,
  type ReplayConnection,
  type ReceivedMessage,
} from './replay-server.js'
export { sampleSignal } from './samples.js'
export { startPostgres, type OwnPostgres } from './postgres.js'
export { startNats, type OwnNats } from './nats-server.js'
