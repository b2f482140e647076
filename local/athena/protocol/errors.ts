/** The Athena API's error answer. */

/** An API error answered as `{"__type", "message"}` with HTTP 400 (plus `AthenaErrorCode` / `Reason` in `extra`). */
export class ApiError extends Error {
  constructor(readonly type: string, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
    this.name = type;
  }
}

/** An `InvalidRequestException` with `AthenaErrorCode: INVALID_INPUT`. */
export function invalidInput(message: string): ApiError {
  return new ApiError('InvalidRequestException', message, { AthenaErrorCode: 'INVALID_INPUT' });
}
