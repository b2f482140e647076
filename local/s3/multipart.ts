/**
 * Multipart uploads: CreateMultipartUpload (checksum algorithm and type, SSE), UploadPart,
 * CompleteMultipartUpload (conditional, see store-uploads.ts for the ETag and checksum rules),
 * AbortMultipartUpload and ListParts.
 */
import { receiveBody } from './body';
import { checksumElementName, checksumHeaderName, CHECKSUM_ALGORITHMS, isChecksumAlgorithm, type ChecksumAlgorithm } from './checksums';
import { writeCondition } from './conditions';
import type { S3Engine } from './engine';
import { invalidArgument, invalidRequest } from './errors';
import { versionHeader } from './objects';
import { header, requestMeta, sendEmpty, sendXml, sseHeaders, type ObjectCtx } from './request';
import type { CompletePart } from './store-types';
import {
  asRecord, completeMultipartUploadXml, initiateMultipartUploadXml, listPartsXml, malformedXml, MAX_XML_BODY, parseXmlBody, quote, text,
} from './xml';
import { drain, readBody } from '../http';

export async function createMultipartUpload(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key, req } = ctx;
  await drain(req);
  e.store.objectPath(bucket, key);
  const meta = requestMeta(req);
  const algName = header(req, 'x-amz-checksum-algorithm')?.toUpperCase();
  if (algName !== undefined && !isChecksumAlgorithm(algName)) throw invalidRequest(`Checksum algorithm ${algName} is not supported`);
  const typeName = header(req, 'x-amz-checksum-type')?.toUpperCase();
  if (typeName !== undefined && typeName !== 'FULL_OBJECT' && typeName !== 'COMPOSITE') {
    throw invalidRequest(`Checksum type ${typeName} is not supported`);
  }
  const checksumType = algName ? (typeName as 'FULL_OBJECT' | 'COMPOSITE' | undefined)
    ?? (algName === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE') : undefined;
  if (checksumType === 'FULL_OBJECT' && (algName === 'SHA1' || algName === 'SHA256')) {
    throw invalidRequest(`The FULL_OBJECT checksum type cannot be used with the ${algName} checksum algorithm.`);
  }
  await e.store.requireBucket(bucket);
  const sse = e.writeEncryption(req, bucket);
  e.checkAclSupported(req, bucket);
  await e.authorize(ctx, [e.kmsPermission('kms:GenerateDataKey', sse, bucket, key)]);
  const upload = await e.store.uploads.create({
    bucket, key, meta: sse ? { ...meta, sse } : meta, checksumAlgorithm: algName as ChecksumAlgorithm | undefined, checksumType,
  });
  const headers: Record<string, string> = { ...sseHeaders(sse) };
  if (upload.checksumAlgorithm) {
    headers['x-amz-checksum-algorithm'] = upload.checksumAlgorithm;
    headers['x-amz-checksum-type'] = upload.checksumType!;
  }
  sendXml(ctx, initiateMultipartUploadXml(bucket, key, upload.uploadId), headers);
}

export async function uploadPart(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key, req, query } = ctx;
  const uploadId = query.get('uploadId')!;
  const pn = query.get('partNumber') ?? '';
  if (!/^\d+$/.test(pn) || Number(pn) < 1 || Number(pn) > 10000) {
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', pn);
  }
  await e.store.requireBucket(bucket);
  const upload = await e.store.uploads.get(bucket, key, uploadId);
  // a part of an SSE-KMS upload needs kms:Decrypt (S3 decrypts the upload's data key)
  await e.authorize(ctx, [e.kmsPermission('kms:Decrypt', upload.meta.sse, bucket, key)]);
  const { tmp, algorithm, checksum } = await receiveBody(e.store, req, upload.checksumAlgorithm);
  const partChecksum = upload.checksumAlgorithm ? tmp.digests.get(upload.checksumAlgorithm)!.toString('base64') : undefined;
  const part = await e.store.uploads.putPart(bucket, key, uploadId, Number(pn), tmp, partChecksum);
  const headers: Record<string, string> = { ETag: quote(part.etag) };
  if (algorithm && checksum) headers[checksumHeaderName(algorithm)] = checksum;
  sendEmpty(ctx, 200, headers);
}

/** The parts listed in a CompleteMultipartUpload document. */
function requestedParts(body: Buffer): CompletePart[] {
  const doc = asRecord(parseXmlBody(body).CompleteMultipartUpload);
  return ((Array.isArray(doc.Part) ? doc.Part : []) as unknown[]).map((p) => {
    const r = asRecord(p);
    const n = text(r.PartNumber)?.trim() ?? '';
    const etag = text(r.ETag)?.trim();
    if (!/^\d+$/.test(n) || etag === undefined) throw malformedXml();
    const checksums: CompletePart['checksums'] = {};
    for (const a of CHECKSUM_ALGORITHMS) {
      const v = text(r[checksumElementName(a)]);
      if (v !== undefined) checksums[a] = v.trim();
    }
    return { partNumber: Number(n), etag, checksums };
  });
}

export async function completeMultipartUpload(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key, req, query } = ctx;
  const uploadId = query.get('uploadId')!;
  const body = await readBody(req, MAX_XML_BODY);
  await e.store.requireBucket(bucket);
  const condition = writeCondition(req, key);
  const parts = requestedParts(body);
  const stored = await e.store.uploads.complete(bucket, key, uploadId, parts, condition);
  await e.notices.created(bucket, stored, 'CompleteMultipartUpload');
  const host = header(req, 'host') ?? e.endpoint.replace(/^http:\/\//, '');
  const location = `http://${host}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  sendXml(ctx, completeMultipartUploadXml(location, bucket, key, stored), { ...sseHeaders(stored.sse), ...versionHeader(stored, false) });
}

export async function abortMultipartUpload(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key, query } = ctx;
  await e.store.requireBucket(bucket);
  await e.store.uploads.abort(bucket, key, query.get('uploadId')!);
  sendEmpty(ctx, 204);
}

export async function listParts(e: S3Engine, ctx: ObjectCtx): Promise<void> {
  const { bucket, key, query } = ctx;
  const uploadId = query.get('uploadId')!;
  await e.store.requireBucket(bucket);
  const upload = await e.store.uploads.get(bucket, key, uploadId);
  const marker = Number(query.get('part-number-marker') ?? '0') || 0;
  const maxParts = Math.min(1000, Number(query.get('max-parts') ?? '1000') || 1000);
  const all = (await e.store.uploads.listParts(bucket, key, uploadId)).filter((p) => p.partNumber > marker);
  const parts = all.slice(0, maxParts);
  sendXml(ctx, listPartsXml({
    bucket,
    key,
    uploadId,
    marker,
    maxParts,
    truncated: all.length > parts.length,
    checksumAlgorithm: upload.checksumAlgorithm,
    checksumType: upload.checksumType,
    parts,
  }));
}
