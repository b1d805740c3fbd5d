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
  return pino(options)
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
