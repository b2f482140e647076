/**
 * CopyObject: the source is read as by GetObject (its own permission, the missing-key rule, its KMS
 * key) and written as a new single-part object: ETag = MD5 of the bytes and a FULL_OBJECT checksum.
 */
import type { FileHandle } from 'node:fs/promises';
import { objectArn } from './authz';
import { isChecksumAlgorithm, type ChecksumAlgorithm } from './checksums';
import { copySourceCondition, writeCondition } from './conditions';
import type { S3Engine } from './engine';
import { invalidArgument, invalidRequest, S3Error } from './errors';
import { openVersion, versionHeader } from './objects';
import { header, requestMeta, sendXml, sseHeaders, type ObjectCtx } from './request';
import type { ObjectMeta, TempFile } from './store-types';
import { copyObjectResultXml } from './xml';
import { drain } from '../http';

/** The bucket, key and version of `x-amz-copy-source` (URL-encoded, with or without a leading `/`). */
function copySourceOf(value: string): { bucket: string; key: string; versionId?: string } {
  let source = value;
  const vi = source.indexOf('?versionId=');
  const versionId = vi === -1 ? undefined : source.slice(vi + '?versionId='.length);
  if (vi !== -1) source = source.slice(0, vi);
  try {
    const decoded = decodeURIComponent(source.replace(/^\//, ''));
    const slash = decoded.indexOf('/');
    if (slash <= 0 || slash === decoded.length - 1) throw new Error('bad');
    return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), versionId };
  } catch {
    throw invalidArgument('Invalid copy source object key', 'x-amz-copy-source', source);
  }
}

export async function copyObject(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key, req } = ctx;
  e.store.objectPath(bucket, key);
  await drain(req);
  const { bucket: srcBucket, key: srcKey, versionId: sourceVersion } = copySourceOf(header(req, 'x-amz-copy-source')!);
  const directive = (header(req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  const condition = writeCondition(req, key);
  const requested = header(req, 'x-amz-checksum-algorithm')?.toUpperCase();
  if (requested !== undefined && !isChecksumAlgorithm(requested)) throw invalidRequest(`Checksum algorithm ${requested} is not supported`);
  await e.store.requireBucket(bucket);
  await e.store.requireBucket(srcBucket);
  if (srcBucket === bucket && srcKey === key && directive === 'COPY' && !requested) {
    throw invalidRequest('This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
  }
  // the source is read as by GetObject (its own permission, 404/403 rule and KMS key)
  const versioned = sourceVersion !== undefined && sourceVersion !== 'null';
  await e.authorize(ctx, [{ action: versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: objectArn(srcBucket, srcKey) }]);
  const sse = e.writeEncryption(req, bucket);
  e.checkAclSupported(req, bucket);
  let opened;
  try {
    opened = sourceVersion !== undefined
      ? await openVersion(e, srcBucket, srcKey, sourceVersion, 'GET', false) as { meta: ObjectMeta; handle: FileHandle }
      : await e.store.openObject(srcBucket, srcKey);
  } catch (err) {
    if (err instanceof S3Error && err.code === 'InvalidArgument' && err.extra.ArgumentName !== 'versionId') throw e.missingKey(ctx, srcBucket, srcKey);
    throw err;
  }
  if (!opened) throw e.missingKey(ctx, srcBucket, srcKey);
  const { meta: src, handle } = opened;
  try {
    await e.authorize(ctx, [
      e.kmsPermission('kms:Decrypt', e.storedEncryption(srcBucket, src), srcBucket, srcKey),
      e.kmsPermission('kms:GenerateDataKey', sse, bucket, key),
    ]);
  } catch (err) {
    await handle.close();
    throw err;
  }
  let tmp: TempFile;
  const algorithm = (requested as ChecksumAlgorithm | undefined) ?? src.checksum?.algorithm;
  // A copy is a new single-part object: its ETag is the MD5 of the content and its checksum a
  // FULL_OBJECT one. A single-part source already has both (its ETag is that MD5), so the bytes are
  // only copied; a multipart source (ETag `…-n`, composite checksum) is hashed while copying.
  const sourceMd5 = src.etag.includes('-') ? undefined : src.etag;
  const sourceChecksum = src.checksum?.algorithm === algorithm && src.checksum?.type === 'FULL_OBJECT' ? src.checksum.value : undefined;
  try {
    copySourceCondition(req, src);
    tmp = await e.store.writeTemp(handle.createReadStream({ autoClose: false }),
      algorithm && sourceChecksum === undefined ? [algorithm] : [], { md5: sourceMd5 === undefined });
  } finally {
    await handle.close();
  }
  const base = directive === 'COPY'
    ? { contentType: src.contentType, headers: src.headers, userMetadata: src.userMetadata }
    : requestMeta(req);
  const stored = await e.store.commitObject(bucket, key, tmp.path, {
    ...base,
    etag: sourceMd5 ?? tmp.md5!.toString('hex'),
    checksum: algorithm
      ? { algorithm, value: sourceChecksum ?? tmp.digests.get(algorithm)!.toString('base64'), type: 'FULL_OBJECT' }
      : undefined,
    ...(sse ? { sse } : {}),
  }, condition);
  await e.notices.created(bucket, stored, 'CopyObject');
  sendXml(ctx, copyObjectResultXml(stored), {
    'x-amz-copy-source-version-id': src.versionId ?? 'null', ...sseHeaders(stored.sse), ...versionHeader(stored, false),
  });
}
