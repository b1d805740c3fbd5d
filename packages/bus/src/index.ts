export { connectNats, natsIsUp, type NatsConnection } from './connect.js'
export { ensureStreams, DEFAULT_STREAM_SETTINGS, type StreamSettings } from './streams.js'
export { startHeartbeat, defaultInstanceId, type HeartbeatSource } from './heartbeat.js'
export { jsPublisher, type JsPublisher, type PublisherStats } from './publisher.js'
export {
  durableConsumer,
  consumeForever,
  pullForever,
  type DurableSettings,
  type Consumer,
  type JsMsg,
} from './consumer.js'
