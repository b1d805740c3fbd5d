import { ArbError } from '@arb/contracts'

/** A request the caller must fix; `field` names the query key, parameter or body property at fault. */
export class BadRequestError extends ArbError {
  readonly statusCode = 400
  readonly field: string
  constructor(field: string, message: string, options?: ErrorOptions) {
    super('ARB_ERR_BAD_REQUEST', message, options)
    this.field = field
  }
}

export class NotFoundError extends ArbError {
  readonly statusCode = 404
  constructor(message: string) {
    super('ARB_ERR_NOT_FOUND', message)
  }
}

/** PostgreSQL cannot be reached or did not answer in time; the caller may retry (503). */
export class DatabaseUnavailableError extends ArbError {
  readonly statusCode = 503
  constructor(options?: ErrorOptions) {
    super('ARB_ERR_DB_UNAVAILABLE', 'database unavailable', options)
  }
}
