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
import type { DeleteResult, ObjectMeta } from './store-types';
import { markerNotAllowed, noSuchVersion } from './store-versions';
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
  return e instanceof S3Error && ((e.code === 'InvalidArgument' && e.extra.ArgumentName !== 'versionId') || e.code === 'KeyTooLongError');
}

/** `x-amz-version-id` of an object of a versioned bucket (`null` for a version written before versioning); none otherwise. */
export function versionHeader(meta: ObjectMeta, versioned: boolean): Record<string, string> {
  return versioned || meta.versionId !== undefined ? { 'x-amz-version-id': meta.versionId ?? 'null' } : {};
}

/** The headers of a DeleteObject answer: the version deleted or marker created, and whether it is a marker. */
function deleteHeaders(r: DeleteResult): Record<string, string> {
  return { ...(r.versionId !== undefined ? { 'x-amz-version-id': r.versionId } : {}), ...(r.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}) };
}

/**
 * The version `versionId` of a key for GetObject/HeadObject/CopyObject, opened unless `headOnly`:
 * 404 NoSuchVersion for an unknown id, 405 MethodNotAllowed for a delete marker (API reference, GetObject).
 */
export async function openVersion(e: S3Engine, bucket: string, key: string, versionId: string, method: string, headOnly: boolean):
Promise<{ meta: ObjectMeta; handle?: FileHandle }> {
  return e.store.withKey(bucket, key, async () => {
    const found = await e.store.versions.find(bucket, key, versionId);
    if (!found) throw noSuchVersion(key, versionId);
    if (found.kind === 'marker') throw markerNotAllowed(found.marker, method);
    if (headOnly) return { meta: found.meta };
    const handle = await e.store.versions.open(found);
    if (!handle) throw noSuchVersion(key, versionId);
    return { meta: found.meta, handle };
  });
}

/** The missing-key error of a key whose current version may be a delete marker (`x-amz-delete-marker: true`, its version id). */
async function missingCurrent(e: S3Engine, ctx: ObjectCtx): Promise<S3Error> {
  const err = e.missingKey(ctx, ctx.bucket, ctx.key);
  const marker = err.code === 'NoSuchKey' ? await e.store.versions.currentMarker(ctx.bucket, ctx.key) : undefined;
  if (!marker) return err;
  return new S3Error(err.code, err.status, err.message, err.extra, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId });
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
  sendEmpty(ctx, 200, { ETag: quote(stored.etag), ...checksumHeaders(stored.checksum), ...sseHeaders(stored.sse), ...versionHeader(stored, false) });
}

/** GetObject, or HeadObject with `headOnly`. */
export async function getObject(e: S3Engine, ctx: ObjectCtx, headOnly: boolean): Promise<void> {
  const { bucket, key, req, res, query } = ctx;
  await e.store.requireBucket(bucket);
  let opened: { meta: ObjectMeta; handle?: FileHandle; data?: Buffer } | undefined;
  const versionId = query.get('versionId') ?? undefined;
  try {
    if (versionId !== undefined) {
      opened = await openVersion(e, bucket, key, versionId, req.method ?? 'GET', headOnly);
    } else if (headOnly) {
      const meta = await e.store.headObject(bucket, key);
      opened = meta ? { meta } : undefined;
    } else {
      opened = await e.store.readObject(bucket, key, INLINE_READ_BYTES);
    }
  } catch (err) {
    if (isUnstorableKey(err)) throw e.missingKey(ctx, bucket, key);
    throw err;
  }
  if (!opened) throw await missingCurrent(e, ctx);
  const { meta, handle, data } = opened;
  const versioned = (await e.store.versioningOf(bucket)) !== undefined;
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
      ...versionHeader(meta, versioned),
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

/** DeleteObject: on a versioned bucket a delete marker, or with `versionId` that version removed for good. */
export async function deleteObject(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key } = ctx;
  await e.store.requireBucket(bucket);
  let result: DeleteResult = { changed: false, deleteMarker: false, deletionType: 'Permanently Deleted' };
  try {
    result = await e.store.deleteVersion(bucket, key, ctx.query.get('versionId') ?? undefined);
  } catch (err) {
    // a key the store cannot hold cannot exist either: deleting it succeeds, as on S3
    if (!isUnstorableKey(err)) throw err;
  }
  sendEmpty(ctx, 204, deleteHeaders(result));
  if (result.changed) await e.notices.deleted(bucket, key, result);
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
    const versionId = text(asRecord(o).VersionId);
    if (key === undefined) throw malformedXml();
    const action = versionId !== undefined && versionId !== 'null' ? 's3:DeleteObjectVersion' : 's3:DeleteObject';
    const denied = e.authz && ctx.caller ? e.authz.denial(ctx.caller, { action, resource: objectArn(bucket, key) }) : null;
    if (denied !== null) {
      // S3 reports a key the caller may not delete in the result, as an error of that key
      outcomes.push({ key, deleted: false, code: 'AccessDenied', message: 'Access Denied', ...(versionId !== undefined ? { versionId } : {}) });
      e.noteDenied(ctx, 'AccessDenied', denied, key);
      continue;
    }
    try {
      const r = await e.store.deleteVersion(bucket, key, versionId);
      if (r.changed) await e.notices.deleted(bucket, key, r);
      outcomes.push({
        key,
        deleted: true,
        ...(versionId !== undefined ? { versionId } : {}),
        ...(r.deleteMarker ? { deleteMarker: true, deleteMarkerVersionId: r.versionId } : {}),
      });
    } catch (err) {
      if (isUnstorableKey(err)) {
        outcomes.push({ key, deleted: true, ...(versionId !== undefined ? { versionId } : {}) });
      } else {
        const code = err instanceof S3Error ? err.code : 'InternalError';
        const message = err instanceof S3Error ? err.message : 'We encountered an internal error. Please try again.';
        outcomes.push({ key, deleted: false, code, message, ...(versionId !== undefined ? { versionId } : {}) });
      }
    }
  }
  sendXml(ctx, deleteResultXml(outcomes, quiet));
}
