/**
 * An S3 error response: `<Error><Code>…</Code><Message>…</Message>…</Error>` with its HTTP status.
 * It is an answer, not a fault of the endpoint, so it carries no stack trace: capturing one cost
 * more than the rest of a 404 (a HeadObject of a missing key is the most common error by far).
 */
export class S3Error extends Error {
  readonly code: string;
  readonly status: number;
  readonly extra: Record<string, string>;
  readonly headers: Record<string, string>;

  constructor(code: string, status: number, message: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'S3Error';
    this.code = code;
    this.status = status;
    this.extra = extra;
    this.headers = headers;
  }
}

export const noSuchBucket = (bucket: string) =>
  new S3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: bucket });
export const noSuchKey = (key: string) =>
  new S3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key });
export const noSuchUpload = (uploadId: string) =>
  new S3Error('NoSuchUpload', 404,
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId });
export const preconditionFailed = (condition: string) =>
  new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', { Condition: condition });
export const invalidArgument = (message: string, name?: string, value?: string) =>
  new S3Error('InvalidArgument', 400, message,
    name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' });
export const invalidRequest = (message: string) => new S3Error('InvalidRequest', 400, message);
export const notImplemented = (what: string) =>
  new S3Error('NotImplemented', 501, `A header or query you provided implies functionality that is not implemented: ${what}`);
