/**
 * Error classes whose `name` is the `errorType` the state machine's Retry and Catch match on.
 * Transient errors are retried with backoff; every other error is permanent (alert, no retry).
 */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** The event or payload is malformed, unrelated, or names a key outside the layout. */
export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

/** An Athena query ended FAILED for a reason that retrying will not fix. */
export class QueryFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryFailedError';
  }
}

/** An Athena query was cancelled (StopQueryExecution or the workgroup's data-scanned cutoff). */
export class QueryCancelledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryCancelledError';
  }
}

/** Configuration (environment) is missing or invalid. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const TRANSIENT_NAMES = new Set([
  'SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'RequestTimeoutException',
  'ThrottlingException', 'Throttling', 'TooManyRequestsException', 'ProvisionedThroughputExceededException',
  'InternalServerException', 'InternalServerError', 'TimeoutError', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT',
]);

/** True for throttling, 5xx and network errors of the AWS SDK: worth retrying. */
export function isTransientAwsError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (e.name === 'TransientError') return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code && TRANSIENT_NAMES.has(e.code)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  return status === 429 || (status !== undefined && status >= 500);
}

/** Wraps transient AWS errors into a TransientError; rethrows everything else unchanged. */
export function classifyAwsError(err: unknown, what: string): never {
  if (isTransientAwsError(err)) {
    throw new TransientError(`${what}: ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
  }
  throw err;
}
