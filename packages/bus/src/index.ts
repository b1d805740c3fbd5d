export {
  connectNats,
  drainNats,
  natsIsUp,
  watchConnection,
  type ConnectionState,
  type Msg,
  type NatsConnection,
  type Subscription,
} from './connect.js'
export { ensureStreams, DEFAULT_STREAM_SETTINGS, type StreamSettings } from './streams.js'
export { startHeartbeat, defaultInstanceId, processGauges, type HeartbeatSource } from './heartbeat.js'
export {
  jsPublisher,
  BUFFER_POLICIES,
  DEFAULT_PUBLISH_BUFFER,
  type BufferPolicy,
  type JsPublisher,
  type PublishBufferSettings,
  type PublisherStats,
} from './publisher.js'
export {
  durableConsumer,
  consumeForever,
  pullForever,
  type DurableSettings,
  type Consumer,
  type JsMsg,
} from './consumer.js'
