import { pino, type Logger, type LoggerOptions } from 'pino'

export type { Logger } from 'pino'

export interface LoggerSettings {
  readonly service: string
  readonly level?: string
  readonly instance?: string
}

/**
 * One root logger per process: JSON on stdout, pretty only on a TTY (CONVENTIONS.md §7).
 * Secrets that may appear in connection strings are redacted.
 */
export const createLogger = ({ service, level = 'info', instance }: LoggerSettings): Logger => {
  const options: LoggerOptions = {
    level,
    base: { service, ...(instance ? { instance } : {}) },
    redact: {
      paths: ['password', '*.password', 'DATABASE_URL', '*.DATABASE_URL', 'config.DATABASE_URL'],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
  if (process.stdout.isTTY && process.env['LOG_PRETTY'] !== '0') {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, singleLine: true } } })
  }
  // Asynchronous, so a stalled reader of stdout never blocks the service; minLength 1 (any line
  // is written at once, as with 0) makes `flush(cb)` wait for a write in flight, which onShutdown
  // needs before process.exit: with pino's default of 0 it calls back at once.
  return pino(options, pino.destination({ dest: 1, sync: false, minLength: 1 }))
}

/** Hides the password of a URL before it is logged. */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '[unparseable url]'
  }
}
