export { createLogger, redactUrl, type Logger, type LoggerSettings } from './logger.js'
export { onShutdown, logFatalErrors, SHUTDOWN_TIMEOUT_MS, type Closer } from './shutdown.js'
export { parsing, report, runCli, stdoutLines, UsageError } from './cli.js'
