/**
 * Conditional requests as S3 applies them (RFC 7232 plus S3's conditional writes): If-Match,
 * If-None-Match, If-Modified-Since and If-Unmodified-Since on reads, `x-amz-copy-source-if-*` on a
 * copy's source, and If-None-Match: * / If-Match: <etag> on writes, checked at commit under the key's lock.
 */
import type { IncomingMessage } from 'node:http';
import { noSuchKey, notImplemented, preconditionFailed } from './errors';
import { etagListMatches, header, parseHttpDate, seconds } from './request';
import type { ObjectMeta } from './store-types';

/** A precondition of a write, checked against the current object at commit. */
export type WriteCondition = (existing: ObjectMeta | undefined) => void;

/**
 * Precondition of a conditional write (If-None-Match: * / If-Match: <etag>); undefined when unconditional.
 * If-Match on a key with no current object (never written, deleted, or a delete marker on top) fails with
 * 404 NoSuchKey, not 412: S3 User Guide, "Conditional write behavior" (also seen from S3 itself in
 * minio/minio#21526). A 412 means an object is there with another ETag.
 */
export function writeCondition(req: IncomingMessage, key: string): WriteCondition | undefined {
  const inm = header(req, 'if-none-match');
  const im = header(req, 'if-match');
  if (inm === undefined && im === undefined) return undefined;
  if (inm !== undefined && inm.trim() !== '*') throw notImplemented('If-None-Match with a value other than *');
  return (existing) => {
    if (inm !== undefined && existing) throw preconditionFailed('If-None-Match');
    if (im !== undefined && !existing) throw noSuchKey(key);
    if (im !== undefined && !etagListMatches(im, existing!.etag)) throw preconditionFailed('If-Match');
  };
}

type Precondition = 'If-Match' | 'If-Unmodified-Since' | 'If-None-Match' | 'If-Modified-Since';

/**
 * The first precondition that fails against `meta`, read from the headers `<prefix>if-match`, `…if-none-match`,
 * `…if-modified-since`, `…if-unmodified-since`. If-Match takes precedence over If-Unmodified-Since and If-None-Match
 * over If-Modified-Since (a date condition is ignored when its ETag twin is present), as S3 evaluates them.
 */
function failedPrecondition(req: IncomingMessage, meta: ObjectMeta, prefix = ''): Precondition | undefined {
  const im = header(req, `${prefix}if-match`);
  const inm = header(req, `${prefix}if-none-match`);
  const ims = parseHttpDate(header(req, `${prefix}if-modified-since`));
  const ius = parseHttpDate(header(req, `${prefix}if-unmodified-since`));
  const modified = seconds(meta.lastModified);
  if (im !== undefined) {
    if (!etagListMatches(im, meta.etag)) return 'If-Match';
  } else if (ius !== undefined && modified > ius) {
    return 'If-Unmodified-Since';
  }
  if (inm !== undefined) {
    if (etagListMatches(inm, meta.etag)) return 'If-None-Match';
  } else if (ims !== undefined && modified <= ims) {
    return 'If-Modified-Since';
  }
  return undefined;
}

/**
 * The conditions of a read: throws 412 PreconditionFailed (If-Match, If-Unmodified-Since); returns
 * `'not-modified'` when the answer is 304 (If-None-Match, If-Modified-Since).
 */
export function readCondition(req: IncomingMessage, meta: ObjectMeta): 'not-modified' | undefined {
  const failed = failedPrecondition(req, meta);
  if (failed === 'If-Match' || failed === 'If-Unmodified-Since') throw preconditionFailed(failed);
  return failed === undefined ? undefined : 'not-modified';
}

/** The `x-amz-copy-source-if-*` conditions of a copy's source (412 PreconditionFailed when one fails). */
export function copySourceCondition(req: IncomingMessage, src: ObjectMeta): void {
  const failed = failedPrecondition(req, src, 'x-amz-copy-source-');
  if (failed !== undefined) throw preconditionFailed(`x-amz-copy-source-${failed}`);
}
