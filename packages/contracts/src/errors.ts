/** Base of every arb error: a stable `code` callers can switch on (like fastify's FST_ERR_*). */
export class ArbError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

export class ConfigError extends ArbError {
  readonly issues: readonly { path: string; message: string }[]
  constructor(issues: readonly { path: string; message: string }[]) {
    super('ARB_ERR_CONFIG', `invalid configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`)
    this.issues = issues
  }
}

export class InvalidMessageError extends ArbError {
  constructor(what: string, reason: string, options?: ErrorOptions) {
    super('ARB_ERR_INVALID_MESSAGE', `invalid ${what}: ${reason}`, options)
  }
}
