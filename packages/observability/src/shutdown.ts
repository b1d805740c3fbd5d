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
    await flushLog(log)
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
    void flushLog(log).then(() => process.exit(1))
  })
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection')
    void flushLog(log).then(() => process.exit(1))
  })
}

/**
 * Resolves once what was logged is written (or after `timeoutMs`). process.exit drops a write
 * still in flight on the thread pool, and pino's exit hook does not redo it: a service's last
 * line ("stopped") was missing now and then.
 */
export const flushLog = (log: Logger, timeoutMs = 1000): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    log.flush(() => {
      clearTimeout(timer)
      resolve()
    })
  })
