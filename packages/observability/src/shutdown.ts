import type { Logger } from 'pino'

export type Closer = () => unknown

/** Bound on a graceful stop: compose's default stop timeout is 10 s, so finish well inside it. */
export const SHUTDOWN_TIMEOUT_MS = 8000

/**
 * On SIGINT/SIGTERM runs the closers in order (stop intake, flush, drain connections), then
 * exits; a second signal or the timeout forces the exit. The function returned does the same
 * for a process whose work is done (a replay), exiting with `exitCode` unless a closer fails.
 */
export const onShutdown = (
  log: Logger,
  closers: readonly Closer[],
  timeoutMs = SHUTDOWN_TIMEOUT_MS,
): ((reason: string, exitCode?: number) => void) => {
  let stopping = false
  const stop = async (why: { signal: string } | { reason: string }, exitCode = 0) => {
    if (stopping) {
      log.warn(why, 'second signal, exiting now')
      process.exit(1)
    }
    stopping = true
    log.info(why, 'shutting down')
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown timed out, exiting')
      process.exit(1)
    }, timeoutMs)
    timer.unref()
    let code = exitCode
    for (const close of closers) {
      try {
        await close()
      } catch (err) {
        code = 1
        log.error({ err }, 'error during shutdown')
      }
    }
    log.info('stopped')
    process.exit(code)
  }
  process.on('SIGINT', (signal) => void stop({ signal }))
  process.on('SIGTERM', (signal) => void stop({ signal }))
  return (reason, exitCode) => void stop({ reason }, exitCode)
}

/** A crash is logged as such before the process dies, so the log says why it stopped. */
export const logFatalErrors = (log: Logger): void => {
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception')
    process.exit(1)
  })
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection')
    process.exit(1)
  })
}
