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

/**
 * The conditions of a read: throws 412 PreconditionFailed (If-Match, If-Unmodified-Since); returns
 * `'not-modified'` when the answer is 304 (If-None-Match, If-Modified-Since).
 */
export function readCondition(req: IncomingMessage, meta: ObjectMeta): 'not-modified' | undefined {
  const im = header(req, 'if-match');
  const inm = header(req, 'if-none-match');
  const ims = parseHttpDate(header(req, 'if-modified-since'));
  const ius = parseHttpDate(header(req, 'if-unmodified-since'));
  const modified = seconds(meta.lastModified);
  if (im !== undefined) {
    if (!etagListMatches(im, meta.etag)) throw preconditionFailed('If-Match');
  } else if (ius !== undefined && modified > ius) {
    throw preconditionFailed('If-Unmodified-Since');
  }
  if ((inm !== undefined && etagListMatches(inm, meta.etag)) || (inm === undefined && ims !== undefined && modified <= ims)) {
    return 'not-modified';
  }
  return undefined;
}

/** The `x-amz-copy-source-if-*` conditions of a copy's source (412 PreconditionFailed when one fails). */
export function copySourceCondition(req: IncomingMessage, src: ObjectMeta): void {
  const im = header(req, 'x-amz-copy-source-if-match');
  const inm = header(req, 'x-amz-copy-source-if-none-match');
  const ims = parseHttpDate(header(req, 'x-amz-copy-source-if-modified-since'));
  const ius = parseHttpDate(header(req, 'x-amz-copy-source-if-unmodified-since'));
  const modified = seconds(src.lastModified);
  if (im !== undefined) {
    if (!etagListMatches(im, src.etag)) throw preconditionFailed('x-amz-copy-source-If-Match');
  } else if (ius !== undefined && modified > ius) {
    throw preconditionFailed('x-amz-copy-source-If-Unmodified-Since');
  }
  if (inm !== undefined) {
    if (etagListMatches(inm, src.etag)) throw preconditionFailed('x-amz-copy-source-If-None-Match');
  } else if (ims !== undefined && modified <= ims) {
    throw preconditionFailed('x-amz-copy-source-If-Modified-Since');
  }
}
