import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { TransientError, classifyAwsError, isTransientAwsError } from './errors';

/**
 * The watermark of one computation: when Athena accepted its query, then the query id as a
 * tie-breaker. Every result object carries it in its body and as `x-amz-meta-watermark`.
 */
export interface Watermark {
  /** ISO-8601 time Athena accepted the query (`Status.SubmissionDateTime`). */
  readonly submittedAt: string;
  readonly queryExecutionId: string;
}

/** Metadata key (without the `x-amz-meta-` prefix) that carries the watermark. */
export const WATERMARK_METADATA_KEY = 'watermark';

/** `<submittedAt>|<queryExecutionId>`: the x-amz-meta-watermark value (ASCII only). */
export function formatWatermark(w: Watermark): string {
  return `${normaliseTime(w.submittedAt)}|${w.queryExecutionId}`;
}

/** Parses an `x-amz-meta-watermark` value; undefined when absent or malformed. */
export function parseWatermark(value: string | undefined | null): Watermark | undefined {
  if (!value) return undefined;
  const sep = value.indexOf('|');
  if (sep <= 0 || sep === value.length - 1) return undefined;
  const submittedAt = value.slice(0, sep);
  if (!Number.isFinite(Date.parse(submittedAt))) return undefined;
  return { submittedAt, queryExecutionId: value.slice(sep + 1) };
}

function normaliseTime(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) throw new RangeError(`watermark time is not an ISO date-time: ${JSON.stringify(iso)}`);
  return new Date(t).toISOString();
}

/** Orders watermarks: by submission time, then by query execution id. Negative when a < b. */
export function compareWatermarks(a: Watermark, b: Watermark): number {
  const ta = Date.parse(a.submittedAt);
  const tb = Date.parse(b.submittedAt);
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.queryExecutionId === b.queryExecutionId) return 0;
  return a.queryExecutionId < b.queryExecutionId ? -1 : 1;
}

/** An object of the same bucket to copy (server-side) instead of a body: exactly the version with this ETag. */
export interface CopySource {
  readonly key: string;
  readonly etag: string;
}

/** `CopySource` of CopyObject: `<bucket>/<key>`, each key segment URL-encoded. */
export function copySourceOf(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** The copy source no longer holds the ETag the write was asked to copy (a newer version replaced it, or it was deleted). */
export class CopySourceChangedError extends Error {
  /** `gone`: the source no longer exists (else another version replaced it). */
  constructor(message: string, readonly gone: boolean) {
    super(message);
    this.name = 'CopySourceChangedError';
  }
}

interface PutIfNewerBase {
  readonly bucket: string;
  readonly key: string;
  /** The stored object's content type (a copy gets it too: its metadata is replaced, not copied). */
  readonly contentType: string;
  readonly watermark: Watermark;
  /**
   * The caller expects the object to be absent (the first computation of a snapshot writes each of its
   * files once): the first attempt is then a create (If-None-Match: *) without reading the object first,
   * one request instead of two. When the object exists after all (412), putIfNewer reads it and goes on as
   * usual, so a wrong guess never changes the outcome; it costs one request (two for a copy, whose 412 is
   * told apart by reading the source).
   * @default false (read first)
   */
  readonly expectAbsent?: boolean;
  /** Attempts after a lost race (412/409); default 5. */
  readonly maxAttempts?: number;
  /** Sleep between attempts (tests inject a no-op). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * What putIfNewer writes: a `body`, or `copyFrom`, a server-side CopyObject of another object of the bucket
 * (`CopySourceIfMatch` on its ETag). A copy's metadata is replaced (`MetadataDirective: REPLACE`): it carries
 * `watermark` and `contentType`, the computation that was compared, even when another computation's object has
 * the same bytes, hence the same MD5 ETag.
 */
export type PutIfNewerInput = PutIfNewerBase & (
  | { readonly body: string | Uint8Array; readonly copyFrom?: undefined }
  | { readonly copyFrom: CopySource; readonly body?: undefined });

export interface PutIfNewerResult {
  /** `written`: our object is stored; `unchanged`: the same computation's object is already there; `stale`: a newer one is. */
  readonly outcome: 'written' | 'unchanged' | 'stale';
  /** The watermark stored before our write (undefined when the object did not exist). */
  readonly stored?: Watermark;
  readonly etag?: string;
}

interface Current {
  readonly etag?: string;
  readonly watermark?: Watermark;
  readonly exists: boolean;
}

/**
 * True when S3 says the *object* is absent: `NoSuchKey` (GET, PUT with If-Match) or `NotFound` (HEAD,
 * which has no error body), or another 404 that is not about the bucket. Never a 403: S3 answers
 * 403 AccessDenied for a missing key when the caller may not list the bucket, and a denied read is
 * an error, not an absence.
 */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * True for a lost conditional-write race: 412 PreconditionFailed or 409 ConditionalRequestConflict.
 * (A PutObject with If-Match on a key deleted meanwhile fails with 404 NoSuchKey instead: putIfNewer
 * treats that as a lost race too.)
 */
export function isConditionalConflict(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  return e?.name === 'PreconditionFailed' || e?.name === 'ConditionalRequestConflict'
    || e?.Code === 'PreconditionFailed' || e?.Code === 'ConditionalRequestConflict' || status === 412 || status === 409;
}

/** What HeadObject says about the current version of an object. */
export interface CurrentVersion {
  readonly etag?: string;
  readonly versionId?: string;
  readonly lastModified?: Date;
  readonly contentType?: string;
  readonly metadata: Record<string, string>;
}

/**
 * The one read of an object's current version (HeadObject): undefined when the object is absent
 * (isNotFound: 404, also a current delete marker; never a 403), TransientError for throttling, 5xx
 * and network errors, any other error as it is.
 */
export async function headCurrent(s3: S3Client, bucket: string, key: string): Promise<CurrentVersion | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return {
      etag: head.ETag, versionId: head.VersionId, lastModified: head.LastModified, contentType: head.ContentType, metadata: head.Metadata ?? {},
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    return classifyAwsError(err, `HeadObject s3://${bucket}/${key}`);
  }
}

/** True when putIfNewer created the object (it was absent): the next file of the same unit is likely absent too. */
export function wasCreated(result: PutIfNewerResult): boolean {
  return result.outcome === 'written' && result.stored === undefined;
}

/** Reads the current object's ETag and watermark (headCurrent). */
export async function readCurrent(s3: S3Client, bucket: string, key: string): Promise<Current> {
  const head = await headCurrent(s3, bucket, key);
  if (!head) return { exists: false };
  return { exists: true, etag: head.etag, watermark: parseWatermark(head.metadata[WATERMARK_METADATA_KEY]) };
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Compare-and-swap write: stores the object only when its watermark is newer than the stored one.
 * Reads the current ETag and `x-amz-meta-watermark` (HeadObject); skips when the stored watermark is
 * newer or equal; otherwise PutObject with `IfMatch: <etag>` (or `IfNoneMatch: '*'` when the object
 * is absent), re-reading and retrying when another writer won the race (412 / 409, or 404 NoSuchKey
 * when the object was deleted between the read and an If-Match write).
 * With `expectAbsent` the first attempt is the create, without the read; a 412 / 409 sends it down
 * the same read-compare-write path (it does not count as a lost race). With `copyFrom` the write is a
 * CopyObject of that exact source version; a source that changed ends in CopySourceChangedError.
 * An object without a (readable) watermark counts as older than any computation.
 */
export async function putIfNewer(s3: S3Client, input: PutIfNewerInput): Promise<PutIfNewerResult> {
  const maxAttempts = input.maxAttempts ?? 5;
  const sleep = input.sleep ?? defaultSleep;
  const where = `s3://${input.bucket}/${input.key}`;
  const operation = input.copyFrom ? 'CopyObject' : 'PutObject';
  let guess = input.expectAbsent === true;
  for (let attempt = 1; ; attempt++) {
    const current: Current = guess ? { exists: false } : await readCurrent(s3, input.bucket, input.key);
    if (current.watermark) {
      const cmp = compareWatermarks(current.watermark, input.watermark);
      if (cmp > 0) return { outcome: 'stale', stored: current.watermark, etag: current.etag };
      if (cmp === 0) return { outcome: 'unchanged', stored: current.watermark, etag: current.etag };
    }
    const condition = current.exists && current.etag ? { IfMatch: current.etag } : { IfNoneMatch: '*' };
    const metadata = { [WATERMARK_METADATA_KEY]: formatWatermark(input.watermark) };
    try {
      if (input.copyFrom) {
        const out = await s3.send(new CopyObjectCommand({
          Bucket: input.bucket,
          Key: input.key,
          CopySource: copySourceOf(input.bucket, input.copyFrom.key),
          CopySourceIfMatch: input.copyFrom.etag,
          MetadataDirective: 'REPLACE',
          Metadata: metadata,
          ContentType: input.contentType,
          ...condition,
        }));
        return { outcome: 'written', stored: current.watermark, etag: out.CopyObjectResult?.ETag };
      }
      const out = await s3.send(new PutObjectCommand({
        Bucket: input.bucket, Key: input.key, Body: input.body, ContentType: input.contentType, Metadata: metadata, ...condition,
      }));
      return { outcome: 'written', stored: current.watermark, etag: out.ETag };
    } catch (err) {
      // A copy's 412 is about the source or about the target (S3 answers both with PreconditionFailed), and so is a
      // 404 (a missing source, or a target deleted under an If-Match): the source is read to tell them apart.
      if (input.copyFrom && (isConditionalConflict(err) || isNotFound(err))) {
        const source = await headCurrent(s3, input.bucket, input.copyFrom.key);
        if (source?.etag !== input.copyFrom.etag) {
          throw new CopySourceChangedError(`s3://${input.bucket}/${input.copyFrom.key} ${source ? `no longer holds ETag ${input.copyFrom.etag}` : 'is gone'}`,
            source === undefined);
        }
      }
      if (guess && isConditionalConflict(err)) {
        // The object exists after all: read it and compare, as without the guess.
        guess = false;
        attempt--;
        continue;
      }
      // If-Match on a key deleted since our HeadObject: S3 answers 404 NoSuchKey, not 412. Another
      // writer changed the object under us just the same: re-read (now absent → If-None-Match).
      const deletedUnderUs = current.exists && current.etag !== undefined && isNotFound(err);
      if (isConditionalConflict(err) || deletedUnderUs) {
        if (attempt >= maxAttempts) {
          throw new TransientError(`${operation} ${where}: lost the conditional-write race ${attempt} times`, { cause: err });
        }
        // Someone else wrote in between: back off with full jitter, then re-read and compare again.
        await sleep(Math.random() * Math.min(2000, 50 * 2 ** attempt));
        continue;
      }
      if (isTransientAwsError(err)) throw new TransientError(`${operation} ${where}: ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }
}
