export { EpochMs, ExchangeId, Pair, splitPair } from './common.js'
export { Level, Tick, TICK_DEPTH } from './tick.js'
export { Signal, SignalLeg, SignalState, CappedBy, CurvePoint } from './signal.js'
export { Heartbeat, ServiceName } from './heartbeat.js'
export { topology, tickSubject, tickMsgId, type Topology } from './subjects.js'
export { ArbError, ConfigError, InvalidMessageError } from './errors.js'
export { tickDecoder, signalDecoder, heartbeatDecoder, type Decoder } from './validate.js'
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
