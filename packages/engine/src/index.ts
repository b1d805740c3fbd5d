export { createEngine, type Engine, type EngineOptions, type FeedStatus, type OpenSignal } from './engine.js'
export { walkCross, emptyCross, crossCurve, UNLIMITED, type Cross, type CrossLimits, type CapReason } from './cross.js'
export { replayer, type Replayer } from './replay.js'
