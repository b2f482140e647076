/**
 * The embedded local S3 of the conformance tests (test/local/s3*.test.ts): one endpoint over a temporary folder with
 * the bucket `data-bucket`, an SDK v3 client with default settings that records the headers it sends, and helpers.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { LocalS3 } from '../../local/s3';

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
export const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Set by useConformanceS3's beforeAll (live bindings: read them inside tests). */
export let root: string;
export let s3: LocalS3;
export let client: S3Client;
/** The headers of every request the fixture's clients sent. */
export const sent: Record<string, string>[] = [];

/** A client of the endpoint with the SDK's default settings, recording its request headers in `sent`. */
export function newClient(extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  const c = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
    ...extra,
  });
  c.middlewareStack.add((next) => async (args) => {
    const request = args.request as { headers?: Record<string, string> };
    if (request.headers) sent.push({ ...request.headers });
    return next(args);
  }, { step: 'finalizeRequest', name: 'captureHeaders' });
  return c;
}

/** Expects the call to fail with the S3 error `name` and HTTP `status`; returns the error. */
export async function expectS3Error(p: Promise<unknown>, name: string, status: number): Promise<S3ServiceException> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(S3ServiceException);
    const err = e as S3ServiceException;
    expect(err.name).toBe(name);
    expect(err.$metadata.httpStatusCode).toBe(status);
    return err;
  }
  throw new Error(`expected ${name} (${status}) but the call succeeded`);
}

/** The bytes of an object (or of a range of it). */
export async function body(bucket: string, key: string, range?: string): Promise<Buffer> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** Starts the endpoint before the file's tests and removes it after. */
export function useConformanceS3(): void {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'local-s3-'));
    s3 = await LocalS3.start({ rootDir: root });
    client = newClient();
    await client.send(new CreateBucketCommand({ Bucket: 'data-bucket' }));
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.close();
    rmSync(root, { recursive: true, force: true });
  });
}
