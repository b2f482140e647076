/**
 * An in-memory, one-bucket S3 for unit tests of the runtime's S3 failure paths, installed on an
 * aws-sdk-client-mock stub of `S3Client`. It answers the calls the runtime makes as S3 does:
 *
 * - HeadObject: 404 `NotFound` for a missing key; GetObject: 404 `NoSuchKey`, and 412
 *   `PreconditionFailed` when `IfMatch` names another ETag.
 * - PutObject, conditional: `IfNoneMatch: '*'` on an existing key is 412; `IfMatch` on another ETag
 *   is 412, on a missing key 404 `NoSuchKey` (the key was deleted since it was read).
 * - ListObjectsV2: keys in order, `listPageSize` per page with continuation tokens.
 * - CopyObject (`MetadataDirective` COPY or REPLACE; `CopySourceIfMatch`, and If-Match / If-None-Match on the target) and DeleteObjects.
 * - A request for another bucket is 404 `NoSuchBucket`.
 *
 * ETags are the quoted MD5 of the body (single-part uploads); every write gets a later LastModified
 * (a logical clock, one second per write), as S3 stamps each write.
 *
 * Races and injected errors: a hook pushed on `before.head` / `get` / `put` / `copy` runs once, in
 * order, before the next request of that kind is answered; it may change the objects (a concurrent
 * writer) or throw (e.g. {@link awsError}). Parameters it does not model (versions, ranges,
 * delimiters, StartAfter) are refused with an Error rather than ignored; tests that need those, or
 * real S3 semantics end to end, use the embedded S3 (`./local-s3.ts`).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { awsError } from './aws-error';

/** One stored object. */
export interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  readonly metadata: Record<string, string>;
  readonly contentType?: string;
  readonly lastModified: Date;
}

/** Runs before a request is answered, with the request's key. */
export type RequestHook = (key: string) => void | Promise<void>;

export interface FakeS3Options {
  /** The bucket's name. */
  readonly bucket: string;
  /** Keys per ListObjectsV2 page (small values exercise pagination). @default 1000 */
  readonly listPageSize?: number;
}

/** What {@link FakeS3.put} stores besides the body. */
export interface PutInit {
  readonly metadata?: Record<string, string>;
  readonly contentType?: string;
  /** An ETag of the caller's choice. @default the quoted MD5 of the body */
  readonly etag?: string;
}

const FIRST_WRITE = Date.parse('2025-08-10T00:00:00.000Z');

export function etagOf(body: Buffer): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

/** The bytes of a request or response body (string, bytes or a stream), as the SDK accepts them. */
export async function bodyBytes(body: unknown): Promise<Buffer> {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

function refuseUnmodelled(command: string, input: Record<string, unknown>, params: readonly string[]): void {
  for (const p of params) {
    if (input[p] !== undefined) throw new Error(`FakeS3 does not model ${command} ${p}: use the embedded S3 (test/support/local-s3.ts)`);
  }
}

export class FakeS3 {
  /** The bucket's objects by key: tests may read, seed (see {@link put}) or delete them directly. */
  readonly objects = new Map<string, StoredObject>();
  /** Hooks run once each, in order, before the next request of each kind is answered. */
  readonly before: { readonly head: RequestHook[]; readonly get: RequestHook[]; readonly put: RequestHook[]; readonly copy: RequestHook[] } = {
    head: [], get: [], put: [], copy: [],
  };
  private writes = 0;

  constructor(private readonly mock: AwsClientStub<S3Client>, private readonly options: FakeS3Options) {}

  /**
   * Empties the bucket, drops pending hooks and installs the command handlers on the stub. Call it in
   * `beforeEach`, after `mock.reset()` (which removes every handler).
   */
  reset(): void {
    this.objects.clear();
    for (const hooks of Object.values(this.before)) hooks.length = 0;
    this.writes = 0;
    this.install();
  }

  /** Stores an object as a PutObject would, without a request (the stub records nothing). */
  put(key: string, body: string | Buffer, init: PutInit = {}): StoredObject {
    const b = Buffer.from(body);
    const o: StoredObject = {
      body: b,
      etag: init.etag ?? etagOf(b),
      metadata: { ...(init.metadata ?? {}) },
      contentType: init.contentType,
      lastModified: this.tick(),
    };
    this.objects.set(key, o);
    return o;
  }

  /** The body of `key` as text; throws when there is no such object. */
  text(key: string): string {
    const o = this.objects.get(key);
    if (!o) throw new Error(`no object ${key}; have ${[...this.objects.keys()].join(', ')}`);
    return o.body.toString();
  }

  /** The keys that start with `prefix`, in order. */
  keysUnder(prefix: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  private tick(): Date {
    return new Date(FIRST_WRITE + 1000 * this.writes++);
  }

  /** The conditions of a write (PutObject, CopyObject's target): If-None-Match: * and If-Match, as S3 answers them. */
  private checkWriteCondition(i: { Key?: string; IfNoneMatch?: string; IfMatch?: string }): void {
    const current = this.objects.get(i.Key!);
    if (i.IfNoneMatch !== undefined && i.IfNoneMatch !== '*') throw new Error('FakeS3: If-None-Match takes only *');
    if (i.IfNoneMatch === '*' && current) throw awsError('PreconditionFailed', 412);
    if (i.IfMatch !== undefined && !current) throw awsError('NoSuchKey', 404);
    if (i.IfMatch !== undefined && current!.etag !== i.IfMatch) throw awsError('PreconditionFailed', 412);
  }

  private checkBucket(bucket: string | undefined): void {
    if (bucket !== this.options.bucket) throw awsError('NoSuchBucket', 404);
  }

  private install(): void {
    const pageSize = this.options.listPageSize ?? 1000;
    this.mock.on(HeadObjectCommand).callsFake(async (i) => {
      refuseUnmodelled('HeadObject', i, ['VersionId', 'Range', 'PartNumber']);
      await this.before.head.shift()?.(i.Key);
      this.checkBucket(i.Bucket);
      const o = this.objects.get(i.Key);
      if (!o) throw awsError('NotFound', 404);
      if (i.IfMatch !== undefined && i.IfMatch !== o.etag) throw awsError('PreconditionFailed', 412);
      return { ETag: o.etag, Metadata: { ...o.metadata }, ContentLength: o.body.length, ContentType: o.contentType, LastModified: o.lastModified };
    });
    this.mock.on(GetObjectCommand).callsFake(async (i) => {
      refuseUnmodelled('GetObject', i, ['VersionId', 'Range', 'PartNumber']);
      await this.before.get.shift()?.(i.Key);
      this.checkBucket(i.Bucket);
      const o = this.objects.get(i.Key);
      if (!o) throw awsError('NoSuchKey', 404);
      if (i.IfMatch !== undefined && i.IfMatch !== o.etag) throw awsError('PreconditionFailed', 412);
      return {
        // A stream that also has the SDK body's transformToString / transformToByteArray, as real responses do.
        Body: Object.assign(Readable.from([o.body]), {
          transformToString: async (encoding: BufferEncoding = 'utf-8') => o.body.toString(encoding),
          transformToByteArray: async () => new Uint8Array(o.body),
        }),
        ETag: o.etag,
        Metadata: { ...o.metadata },
        ContentLength: o.body.length,
        ContentType: o.contentType,
        LastModified: o.lastModified,
      };
    });
    this.mock.on(PutObjectCommand).callsFake(async (i) => {
      await this.before.put.shift()?.(i.Key);
      this.checkBucket(i.Bucket);
      this.checkWriteCondition(i);
      const stored = this.put(i.Key, await bodyBytes(i.Body), { metadata: i.Metadata, contentType: i.ContentType });
      return { ETag: stored.etag };
    });
    this.mock.on(ListObjectsV2Command).callsFake(async (i) => {
      refuseUnmodelled('ListObjectsV2', i, ['Delimiter', 'StartAfter']);
      this.checkBucket(i.Bucket);
      const all = this.keysUnder(i.Prefix ?? '');
      const size = Math.min(pageSize, i.MaxKeys ?? 1000);
      const start = i.ContinuationToken ? Number(i.ContinuationToken) : 0;
      const page = all.slice(start, start + size);
      const more = start + size < all.length;
      return {
        Contents: page.map((Key) => {
          const o = this.objects.get(Key)!;
          return { Key, ETag: o.etag, LastModified: o.lastModified, Size: o.body.length };
        }),
        KeyCount: page.length,
        IsTruncated: more,
        NextContinuationToken: more ? String(start + size) : undefined,
      };
    });
    this.mock.on(CopyObjectCommand).callsFake(async (i) => {
      await this.before.copy.shift()?.(i.Key);
      this.checkBucket(i.Bucket);
      const source = String(i.CopySource).replace(/^\//, '');
      const slash = source.indexOf('/');
      this.checkBucket(source.slice(0, slash));
      refuseUnmodelled('CopyObject', i, ['CopySourceIfNoneMatch', 'CopySourceIfModifiedSince', 'CopySourceIfUnmodifiedSince']);
      const o = this.objects.get(decodeURIComponent(source.slice(slash + 1)));
      if (!o) throw awsError('NoSuchKey', 404);
      if (i.CopySourceIfMatch !== undefined && o.etag !== i.CopySourceIfMatch) throw awsError('PreconditionFailed', 412);
      this.checkWriteCondition(i);
      const metadata = i.MetadataDirective === 'REPLACE' ? { ...(i.Metadata ?? {}) } : { ...o.metadata };
      const contentType = i.MetadataDirective === 'REPLACE' ? i.ContentType : o.contentType;
      const copy = this.put(i.Key, o.body, { metadata, contentType, etag: o.etag });
      return { CopyObjectResult: { ETag: copy.etag, LastModified: copy.lastModified } };
    });
    this.mock.on(DeleteObjectsCommand).callsFake(async (i) => {
      this.checkBucket(i.Bucket);
      const objects: Array<{ Key?: string }> = i.Delete?.Objects ?? [];
      for (const o of objects) this.objects.delete(o.Key!);
      return { Deleted: objects.map((o) => ({ Key: o.Key })) };
    });
  }
}
