export { EpochMs, ExchangeId, Pair, splitPair } from './common.js'
export { Level, Tick, TICK_DEPTH } from './tick.js'
export { Signal, SignalLeg, SignalState, CappedBy, CurvePoint } from './signal.js'
export { Heartbeat, ProcessGauges, ServiceName } from './heartbeat.js'
export { topology, tickSubject, tickMsgId, type Topology } from './subjects.js'
export {
  FeedRecord,
  RecordStart,
  RecordOpen,
  RecordFrame,
  RecordSnapshot,
  RecordClose,
  RecordDropped,
} from './recording.js'
export { ArbError, ConfigError, InvalidMessageError } from './errors.js'
export {
  tickDecoder,
  signalDecoder,
  heartbeatDecoder,
  feedRecordDecoder,
  decodeLiveTick,
  MAX_MESSAGE_BYTES,
  MAX_TICK_AHEAD_MS,
  type Decoder,
} from './validate.js'
export {
  parseConfig,
  CommonConfig,
  IngestorConfig,
  PersisterConfig,
  DetectorConfig,
  BacktestConfig,
  EngineConfigFile,
  checkEngineSettings,
  parseEngineConfig,
  type EngineSettings,
  GatewayConfig,
  SimulatorConfig,
} from './config.js'
