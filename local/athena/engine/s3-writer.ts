/**
 * How the engine writes results: through the local S3 API (PutObject over HTTP, so listings,
 * EventBridge and lifecycle see them), signed as the caller, with the workgroup's headers;
 * 5xx/SlowDown retried.
 */
import { createReadStream, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { Execution } from '../execution';
import type { AthenaContext } from '../options';
import { authorizeWrite, writeHeaders } from './access';
import { QueryError, writeDenied } from './errors';
import { signV4, type SigningCredentials } from '../protocol/sigv4';

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** Options of {@link s3Put}: who writes, and the headers Athena sends for the workgroup's settings. */
export interface S3PutOptions {
  /** Sign the request as this principal's credentials (AWS Signature V4, unsigned payload). */
  readonly credentials?: SigningCredentials;
  readonly region?: string;
  /** x-amz-acl, x-amz-server-side-encryption, ... */
  readonly headers?: Record<string, string>;
}

/**
 * PUT an object (a file or a buffer) through the local S3 API, signed as `opts.credentials` when
 * given; retries 5xx/SlowDown a few times. An HTTP 403 is an {@link S3AccessDenied}.
 */
export async function s3Put(
  endpoint: string, bucket: string, key: string, body: { file: string } | { data: Buffer }, contentType: string, opts: S3PutOptions = {},
): Promise<void> {
  const url = new URL(`${endpoint.replace(/\/+$/, '')}/${encodeURIComponent(bucket)}/${encodeKey(key)}`);
  for (let attempt = 1; ; attempt++) {
    const size = 'file' in body ? statSync(body.file).size : body.data.length;
    let headers: Record<string, string> = { 'content-length': String(size), 'content-type': contentType, ...opts.headers };
    if (opts.credentials) headers = signV4('PUT', url, headers, opts.credentials, opts.region ?? 'us-east-1', 's3');
    const status = await new Promise<{ code: number; text: string }>((resolve, reject) => {
      const req = httpRequest(url, { method: 'PUT', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if ('file' in body) createReadStream(body.file).on('error', reject).pipe(req);
      else req.end(body.data);
    }).catch((e: Error) => ({ code: 0, text: e.message }));
    if (status.code >= 200 && status.code < 300) return;
    if (status.code === 403) throw new S3AccessDenied(bucket, key, status.text);
    const retryable = status.code === 0 || status.code >= 500;
    if (!retryable || attempt >= 5) {
      throw new QueryError(`Error writing s3://${bucket}/${key}: HTTP ${status.code} ${status.text.slice(0, 300)}`, 1, 401, retryable);
    }
    await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
  }
}

/** The local S3 refused a write (HTTP 403). */
export class S3AccessDenied extends Error {
  constructor(readonly bucket: string, readonly key: string, readonly body: string) {
    super(`Access Denied writing s3://${bucket}/${key}`);
    this.name = 'S3AccessDenied';
  }
}

/** Writes one object as Athena does for `ex`: authorized as the caller, signed with its credentials. */
export async function putResult(ctx: AthenaContext, ex: Execution, bucket: string, key: string,
  body: { file: string } | { data: Buffer }, contentType: string): Promise<void> {
  authorizeWrite(ctx, ex, bucket, key);
  const iam = ctx.opts.iam;
  try {
    await s3Put(ctx.opts.s3.endpoint, bucket, key, body, contentType, {
      credentials: iam && ex.principal ? iam.credentials.for(ex.principal) : undefined,
      region: ctx.region,
      headers: writeHeaders(ctx, ex),
    });
  } catch (e) {
    if (e instanceof S3AccessDenied) throw writeDenied(bucket, key, e.body.replace(/\s+/g, ' ').slice(0, 500));
    throw e;
  }
}
