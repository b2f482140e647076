/**
 * Object operations: PutObject (conditional writes, SSE, checksums), GetObject and HeadObject
 * (conditional reads, byte ranges, response overrides), DeleteObject and DeleteObjects.
 */
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { objectArn } from './authz';
import { receiveBody } from './body';
import { checksumHeaderName, CHECKSUM_ALGORITHMS, createHasher } from './checksums';
import { readCondition, writeCondition } from './conditions';
import type { S3Engine } from './engine';
import { notImplemented, S3Error } from './errors';
import {
  checksumHeaders, header, httpDate, parseRange, requestMeta, sendEmpty, sendXml, sseHeaders, type BucketCtx, type ObjectCtx,
} from './request';
import type { ObjectMeta } from './store-types';
import { asRecord, deleteResultXml, malformedXml, MAX_XML_BODY, parseXmlBody, quote, text, type DeleteOutcome } from './xml';
import { readBody } from '../http';

/** `response-*` query parameters of GetObject and the header each overrides. */
const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

/** Objects up to this size are read whole and sent in one write; larger ones are streamed. */
const INLINE_READ_BYTES = 256 * 1024;

/** A key the store cannot hold (see store.ts) cannot exist either. */
function isUnstorableKey(e: unknown): boolean {
  return e instanceof S3Error && (e.code === 'InvalidArgument' || e.code === 'KeyTooLongError');
}

export async function putObject(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key, req } = ctx;
  e.store.objectPath(bucket, key);
  const condition = writeCondition(req, key);
  const meta = requestMeta(req);
  await e.store.requireBucket(bucket);
  const sse = e.writeEncryption(req, bucket);
  e.checkAclSupported(req, bucket);
  await e.authorize(ctx, [e.kmsPermission('kms:GenerateDataKey', sse, bucket, key)]);
  const { tmp, algorithm, checksum } = await receiveBody(e.store, req);
  const stored = await e.store.commitObject(bucket, key, tmp.path, {
    ...meta,
    etag: tmp.md5!.toString('hex'),
    checksum: algorithm && checksum ? { algorithm, value: checksum, type: 'FULL_OBJECT' } : undefined,
    ...(sse ? { sse } : {}),
  }, condition);
  await e.notices.created(bucket, stored, 'PutObject');
  sendEmpty(ctx, 200, { ETag: quote(stored.etag), ...checksumHeaders(stored.checksum), ...sseHeaders(stored.sse) });
}

/** GetObject, or HeadObject with `headOnly`. */
export async function getObject(e: S3Engine, ctx: ObjectCtx, headOnly: boolean): Promise<void> {
  const { bucket, key, req, res, query } = ctx;
  await e.store.requireBucket(bucket);
  let opened: { meta: ObjectMeta; handle?: FileHandle; data?: Buffer } | undefined;
  try {
    if (headOnly) {
      const meta = await e.store.headObject(bucket, key);
      opened = meta ? { meta } : undefined;
    } else {
      opened = await e.store.readObject(bucket, key, INLINE_READ_BYTES);
    }
  } catch (err) {
    if (isUnstorableKey(err)) throw e.missingKey(ctx, bucket, key);
    throw err;
  }
  if (!opened) throw e.missingKey(ctx, bucket, key);
  const { meta, handle, data } = opened;
  try {
    const sse = e.storedEncryption(bucket, meta);
    // reading the bytes of an SSE-KMS object needs the key (HeadObject does not decrypt)
    if (!headOnly) await e.authorize(ctx, [e.kmsPermission('kms:Decrypt', sse, bucket, key)]);
    const headers: Record<string, string | number> = {
      'Content-Type': meta.contentType,
      'ETag': quote(meta.etag),
      'Last-Modified': httpDate(meta.lastModified),
      'Accept-Ranges': 'bytes',
      ...sseHeaders(sse),
    };
    for (const [k, v] of Object.entries(meta.headers)) headers[k] = v;
    for (const [k, v] of Object.entries(meta.userMetadata)) headers[`x-amz-meta-${k}`] = v;
    if (meta.partsCount) headers['x-amz-mp-parts-count'] = meta.partsCount;
    for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
      const v = query.get(param);
      if (v !== null) headers[name] = v;
    }
    if (readCondition(req, meta) === 'not-modified') {
      sendEmpty(ctx, 304, { 'ETag': headers.ETag, 'Last-Modified': headers['Last-Modified'] });
      return;
    }

    let start = 0;
    let end = meta.size - 1;
    let status = 200;
    const range = header(req, 'range');
    const partNumber = query.get('partNumber');
    if (partNumber !== null) {
      if (partNumber !== '1' || meta.partsCount) throw notImplemented('GetObject by partNumber of a multipart object');
    }
    if (range !== undefined) {
      const r = parseRange(range, meta.size);
      if (r === 'unsatisfiable') {
        throw new S3Error('InvalidRange', 416, 'The requested range is not satisfiable',
          { RangeRequested: range, ActualObjectSize: String(meta.size) }, { 'Content-Range': `bytes */${meta.size}` });
      }
      if (r) {
        ({ start, end } = r);
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${meta.size}`;
      }
    }
    if (status === 200 && meta.checksum && (header(req, 'x-amz-checksum-mode') ?? '').toUpperCase() === 'ENABLED') {
      Object.assign(headers, checksumHeaders(meta.checksum));
    }
    const length = meta.size === 0 ? 0 : end - start + 1;
    headers['Content-Length'] = length;
    res.writeHead(status, headers);
    if (headOnly || length === 0) {
      res.end();
      return;
    }
    if (data) {
      res.end(data.subarray(start, end + 1));
      return;
    }
    await pipeline(handle!.createReadStream({ start, end, autoClose: false }), res);
  } finally {
    await handle?.close();
  }
}

export async function deleteObject(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key } = ctx;
  await e.store.requireBucket(bucket);
  let existed = false;
  try {
    existed = await e.store.deleteObject(bucket, key);
  } catch (err) {
    // a key the store cannot hold cannot exist either: deleting it succeeds, as on S3
    if (!isUnstorableKey(err)) throw err;
  }
  sendEmpty(ctx, 204);
  if (existed) await e.notices.deleted(bucket, key);
}

/** Checks the body's x-amz-checksum-* and Content-MD5 headers (400 BadDigest). */
function verifyBodyDigests(ctx: BucketCtx, body: Buffer): void {
  for (const a of CHECKSUM_ALGORITHMS) {
    const v = header(ctx.req, checksumHeaderName(a));
    if (v !== undefined) {
      const h = createHasher(a);
      h.update(body);
      if (h.digest().toString('base64') !== v) throw new S3Error('BadDigest', 400, `The ${a} you specified did not match the calculated checksum.`);
    }
  }
  const md5 = header(ctx.req, 'content-md5');
  if (md5 !== undefined) {
    const h = createHasher('MD5');
    h.update(body);
    if (h.digest().toString('base64') !== md5) throw new S3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.');
  }
}

/** Up to 1,000 keys; each is authorized on its own (s3:DeleteObject), and a denied key is an error of the result. */
export async function deleteObjects(e: S3Engine, ctx: BucketCtx): Promise<void> {
  const bucket = ctx.bucket;
  const body = await readBody(ctx.req, MAX_XML_BODY);
  await e.store.requireBucket(bucket);
  verifyBodyDigests(ctx, body);
  const del = asRecord(parseXmlBody(body).Delete);
  const objects = (Array.isArray(del.Object) ? del.Object : []) as unknown[];
  if (objects.length === 0 || objects.length > 1000) throw malformedXml();
  const quiet = text(del.Quiet)?.trim() === 'true';
  const outcomes: DeleteOutcome[] = [];
  for (const o of objects) {
    const key = text(asRecord(o).Key);
    if (key === undefined) throw malformedXml();
    const denied = e.authz && ctx.caller ? e.authz.denial(ctx.caller, { action: 's3:DeleteObject', resource: objectArn(bucket, key) }) : null;
    if (denied !== null) {
      // S3 reports a key the caller may not delete in the result, as an error of that key
      outcomes.push({ key, deleted: false, code: 'AccessDenied', message: 'Access Denied' });
      e.noteDenied(ctx, 'AccessDenied', denied, key);
      continue;
    }
    try {
      if (await e.store.deleteObject(bucket, key)) await e.notices.deleted(bucket, key);
      outcomes.push({ key, deleted: true });
    } catch (err) {
      if (isUnstorableKey(err)) {
        outcomes.push({ key, deleted: true });
      } else {
        const code = err instanceof S3Error ? err.code : 'InternalError';
        const message = err instanceof S3Error ? err.message : 'We encountered an internal error. Please try again.';
        outcomes.push({ key, deleted: false, code, message });
      }
    }
  }
  sendXml(ctx, deleteResultXml(outcomes, quiet));
}
