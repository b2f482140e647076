/**
 * Receiving an object body: streams the request (plain or aws-chunked) into a temp file of the
 * store, verifying Content-MD5, x-amz-content-sha256, the decoded length and any x-amz-checksum-*
 * header or trailer, as S3 does before it stores anything.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { checksumHeaderName, CHECKSUM_ALGORITHMS, isChecksumAlgorithm, type ChecksumAlgorithm } from './checksums';
import { AwsChunkedDecoder } from './chunked';
import { invalidRequest, S3Error } from './errors';
import { header, MAX_OBJECT_SIZE } from './request';
import type { S3Store } from './store';
import type { TempFile } from './store-types';

/** A body received: its temp file, and the checksum algorithm and value (base64) the request asked for. */
export interface ReceivedBody {
  tmp: TempFile;
  algorithm?: ChecksumAlgorithm;
  checksum?: string;
}

/** Receives the request body; `extraAlgorithm` is computed too (the checksum of a multipart upload's parts). */
export async function receiveBody(store: S3Store, req: IncomingMessage, extraAlgorithm?: ChecksumAlgorithm): Promise<ReceivedBody> {
  const contentSha = header(req, 'x-amz-content-sha256') ?? '';
  const encodings = (header(req, 'content-encoding') ?? '').split(',').map((s) => s.trim().toLowerCase());
  const chunked = encodings.includes('aws-chunked') || contentSha.startsWith('STREAMING-');
  const declared = Number(chunked ? header(req, 'x-amz-decoded-content-length') ?? NaN : header(req, 'content-length') ?? NaN);
  if (declared > MAX_OBJECT_SIZE) throw new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed size');

  // which checksum: a header value, a trailer announced in x-amz-trailer, or just an algorithm
  let algorithm: ChecksumAlgorithm | undefined;
  let expected: string | undefined;
  let trailerName: string | undefined;
  for (const a of CHECKSUM_ALGORITHMS) {
    const v = header(req, checksumHeaderName(a));
    if (v !== undefined) { algorithm = a; expected = v; }
  }
  const trailer = header(req, 'x-amz-trailer')?.trim().toLowerCase();
  if (!algorithm && trailer) {
    const a = CHECKSUM_ALGORITHMS.find((x) => checksumHeaderName(x) === trailer);
    if (!a) throw invalidRequest(`Unsupported trailer ${trailer}`);
    algorithm = a;
    trailerName = trailer;
  }
  if (!algorithm) {
    const named = (header(req, 'x-amz-sdk-checksum-algorithm') ?? header(req, 'x-amz-checksum-algorithm'))?.toUpperCase();
    if (named) {
      if (!isChecksumAlgorithm(named)) throw invalidRequest(`Checksum algorithm ${named} is not supported`);
      algorithm = named;
    }
  }
  if (!algorithm && extraAlgorithm) algorithm = extraAlgorithm;
  const algorithms = [...new Set([algorithm, extraAlgorithm].filter((a): a is ChecksumAlgorithm => a !== undefined))];

  const decoder = chunked ? new AwsChunkedDecoder() : undefined;
  const source: Readable = decoder ? req.pipe(decoder) : req;
  if (decoder) req.on('error', (e) => decoder.destroy(e));
  const verifySha = /^[0-9a-f]{64}$/.test(contentSha);
  const tmp = await store.writeTemp(source, algorithms, { sha256: verifySha, maxSize: MAX_OBJECT_SIZE });
  try {
    if (!Number.isNaN(declared) && declared !== tmp.size) {
      throw new S3Error('IncompleteBody', 400, 'You did not provide the number of bytes specified by the Content-Length HTTP header');
    }
    const md5 = header(req, 'content-md5');
    if (md5 !== undefined && md5 !== tmp.md5!.toString('base64')) {
      throw new S3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.');
    }
    if (verifySha && tmp.sha256 && tmp.sha256.toString('hex') !== contentSha) {
      throw new S3Error('XAmzContentSHA256Mismatch', 400, 'The provided \'x-amz-content-sha256\' header does not match what was computed.');
    }
    if (trailerName) expected = decoder?.trailers[trailerName];
    const actual = algorithm ? tmp.digests.get(algorithm)!.toString('base64') : undefined;
    if (expected !== undefined && expected !== actual) {
      throw new S3Error('BadDigest', 400, `The ${algorithm} you specified did not match the calculated checksum.`);
    }
    return { tmp, algorithm, checksum: actual };
  } catch (e) {
    await store.discardTemp(tmp);
    throw e;
  }
}
