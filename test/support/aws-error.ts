/**
 * An error shaped like the ones the AWS SDK v3 throws for a service's error response: `name` is the
 * error code (`NoSuchKey`, `PreconditionFailed`, `ThrottlingException`...), `$metadata.httpStatusCode`
 * the HTTP status and `$fault` says whose fault it is (5xx: server). The runtime classifies errors by
 * these fields, so a mock that rejects with one exercises the same branch as the real service would.
 */
export function awsError(name: string, httpStatus: number): Error {
  return Object.assign(new Error(`${name} (${httpStatus})`), {
    name,
    $fault: httpStatus >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: httpStatus },
  });
}
