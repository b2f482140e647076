/**
 * Conformance of the embedded local S3 endpoint, driven by the real AWS SDK v3 clients with their
 * default settings (checksums WHEN_SUPPORTED, path-style chosen by the SDK for an IP endpoint): buckets, object
 * reads and writes, listing. Multipart, copies, deletes, conditional writes, faults, events and restarts:
 * s3-writes.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  CopyObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, NoSuchKey,
  paginateListObjectsV2, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { body, byteOrder, client, expectS3Error, md5, root, s3, sent, sha256, useConformanceS3 } from './s3-conformance';

useConformanceS3();

describe('buckets', () => {
  test('CreateBucket, HeadBucket, ListBuckets; NoSuchBucket', async () => {
    await s3.createBucket('second-bucket');
    await client.send(new HeadBucketCommand({ Bucket: 'second-bucket' }));
    const list = await client.send(new ListBucketsCommand({}));
    expect(list.Buckets!.map((b) => b.Name)).toEqual(expect.arrayContaining(['data-bucket', 'second-bucket']));
    await expectS3Error(client.send(new HeadBucketCommand({ Bucket: 'no-such-bucket' })), 'NotFound', 404);
    await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' })), 'NoSuchBucket', 404);
    expect(s3.bucketPath('data-bucket')).toBe(join(root, 'data-bucket'));
  });
});

describe('PutObject / GetObject / HeadObject', () => {
  test('a streaming PutObject of a Readable is stored byte-exact (aws-chunked decoded, CRC32 trailer checked)', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 12345);
    sent.length = 0;
    const chunks = [] as Buffer[];
    for (let i = 0; i < data.length; i += 64 * 1024 + 7) chunks.push(data.subarray(i, i + 64 * 1024 + 7));
    const res = await client.send(new PutObjectCommand({
      Bucket: 'data-bucket', Key: 'raw/2025-08-10/stream.jsonl', Body: Readable.from(chunks), ContentLength: data.length,
    }));
    const put = sent.find((h) => h['x-amz-decoded-content-length'] !== undefined)!;
    expect(put['content-encoding']).toContain('aws-chunked');
    expect(put['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    const file = s3.objectPath('data-bucket', 'raw/2025-08-10/stream.jsonl');
    expect(file).toBe(join(root, 'data-bucket', 'raw', '2025-08-10', 'stream.jsonl'));
    expect(sha256(readFileSync(file))).toBe(sha256(data));
    expect(res.ETag).toBe(`"${md5(data)}"`);
    const expectedCrc = Buffer.alloc(4);
    expectedCrc.writeUInt32BE(crc32(data));
    expect(res.ChecksumCRC32).toBe(expectedCrc.toString('base64'));
    // GetObject with the SDK's response checksum validation (x-amz-checksum-mode: ENABLED)
    const got = await client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'raw/2025-08-10/stream.jsonl' }));
    expect(got.ChecksumCRC32).toBe(expectedCrc.toString('base64'));
    expect(sha256(Buffer.from(await got.Body!.transformToByteArray()))).toBe(sha256(data));
  });

  test('HeadObject returns content-type, representation headers and x-amz-meta-*', async () => {
    await client.send(new PutObjectCommand({
      Bucket: 'data-bucket',
      Key: 'results/state_counts.json',
      Body: '{"MI":3}',
      ContentType: 'application/json',
      CacheControl: 'no-cache',
      ContentDisposition: 'attachment; filename="x.json"',
      Metadata: { 'watermark': '2025-08-10T00:00:00.000Z|q-1', 'Other-Key': 'v' },
    }));
    const h = await client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'results/state_counts.json' }));
    expect(h.ContentType).toBe('application/json');
    expect(h.ContentLength).toBe(8);
    expect(h.ETag).toBe(`"${md5('{"MI":3}')}"`);
    expect(h.CacheControl).toBe('no-cache');
    expect(h.ContentDisposition).toBe('attachment; filename="x.json"');
    expect(h.Metadata).toEqual({ 'watermark': '2025-08-10T00:00:00.000Z|q-1', 'other-key': 'v' });
    expect(h.LastModified).toBeInstanceOf(Date);
    const g = await client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'results/state_counts.json' }));
    expect(g.Metadata).toEqual(h.Metadata);
    expect(await g.Body!.transformToString()).toBe('{"MI":3}');
  });

  test('GetObject ranges: 206 with Content-Range, 416 InvalidRange when unsatisfiable', async () => {
    const data = Buffer.from('0123456789abcdefghij');
    await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'ranges.bin', Body: data }));
    const r = await client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'ranges.bin', Range: 'bytes=2-5' }));
    expect(r.$metadata.httpStatusCode).toBe(206);
    expect(r.ContentRange).toBe('bytes 2-5/20');
    expect(r.ContentLength).toBe(4);
    expect(await r.Body!.transformToString()).toBe('2345');
    expect((await body('data-bucket', 'ranges.bin', 'bytes=15-')).toString()).toBe('fghij');
    expect((await body('data-bucket', 'ranges.bin', 'bytes=-3')).toString()).toBe('hij');
    expect((await body('data-bucket', 'ranges.bin', 'bytes=18-100')).toString()).toBe('ij');
    expect((await body('data-bucket', 'ranges.bin', 'bytes=-100')).toString()).toBe(data.toString());
    await expectS3Error(client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'ranges.bin', Range: 'bytes=20-' })), 'InvalidRange', 416);
    await expectS3Error(client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'ranges.bin', Range: 'bytes=-0' })), 'InvalidRange', 416);
  });

  test('conditional GetObject: If-Match mismatch is 412, If-None-Match match is 304', async () => {
    const put = await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'cond-get.txt', Body: 'abc' }));
    const ok = await client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'cond-get.txt', IfMatch: put.ETag }));
    expect(await ok.Body!.transformToString()).toBe('abc');
    await expectS3Error(client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'cond-get.txt', IfMatch: '"0000"' })), 'PreconditionFailed', 412);
    // 304 Not Modified has no body; the SDK surfaces it as an error with that status
    await expect(client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'cond-get.txt', IfNoneMatch: put.ETag })))
      .rejects.toMatchObject({ $metadata: { httpStatusCode: 304 } });
  });

  test('date conditions: If-Unmodified-Since before the write is 412, If-Modified-Since after it is 304; the ETag twin wins', async () => {
    const put = await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'cond-dates.txt', Body: 'abc' }));
    const past = new Date(Date.now() - 3_600_000);
    const future = new Date(Date.now() + 3_600_000);
    const get = (extra: Record<string, unknown>) => client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'cond-dates.txt', ...extra }));
    await expectS3Error(get({ IfUnmodifiedSince: past }), 'PreconditionFailed', 412);
    await expect(get({ IfModifiedSince: future })).rejects.toMatchObject({ $metadata: { httpStatusCode: 304 } });
    expect(await (await get({ IfUnmodifiedSince: future, IfModifiedSince: past })).Body!.transformToString()).toBe('abc');
    // If-Match present: If-Unmodified-Since is not evaluated; If-None-Match present: If-Modified-Since is not.
    expect(await (await get({ IfMatch: put.ETag, IfUnmodifiedSince: past })).Body!.transformToString()).toBe('abc');
    expect(await (await get({ IfNoneMatch: '"0000"', IfModifiedSince: future })).Body!.transformToString()).toBe('abc');
  });

  test('copy source conditions: each failing x-amz-copy-source-if-* condition is 412, nothing copied', async () => {
    const put = await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'cond-src.txt', Body: 'abc' }));
    const copy = (extra: Record<string, unknown>) => client.send(new CopyObjectCommand({
      Bucket: 'data-bucket', Key: 'cond-dst.txt', CopySource: 'data-bucket/cond-src.txt', ...extra,
    }));
    const past = new Date(Date.now() - 3_600_000);
    const future = new Date(Date.now() + 3_600_000);
    for (const failing of [{ CopySourceIfMatch: '"0000"' }, { CopySourceIfNoneMatch: put.ETag }, { CopySourceIfModifiedSince: future },
      { CopySourceIfUnmodifiedSince: past }]) {
      await expectS3Error(copy(failing), 'PreconditionFailed', 412);
    }
    await expectS3Error(client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'cond-dst.txt' })), 'NotFound', 404);
    await copy({ CopySourceIfMatch: put.ETag, CopySourceIfUnmodifiedSince: past });
    expect(await body('data-bucket', 'cond-dst.txt')).toEqual(Buffer.from('abc'));
  });

  test('NoSuchKey is the SDK error class; HeadObject of a missing key is NotFound', async () => {
    const e = await expectS3Error(client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'missing/key.json' })), 'NoSuchKey', 404);
    expect(e).toBeInstanceOf(NoSuchKey);
    await expectS3Error(client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'missing/key.json' })), 'NotFound', 404);
  });

  test('keys that would escape the bucket folder are rejected and nothing is written outside it', async () => {
    for (const key of ['../escape.txt', 'a/../../escape.txt', 'a//b', 'trailing/']) {
      await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: key, Body: 'x' })), 'InvalidArgument', 400);
    }
    expect(existsSync(join(root, 'escape.txt'))).toBe(false);
    // a key that is also a folder of other keys cannot be a file (documented limitation)
    await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'clash/inner.txt', Body: 'x' }));
    await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'clash', Body: 'x' })), 'InvalidArgument', 400);
    await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'clash/inner.txt/deeper', Body: 'x' })), 'InvalidArgument', 400);
    expect(() => s3.objectPath('data-bucket', '../x')).toThrow();
  });

  test('an object file placed into the bucket folder from outside is served with an MD5 ETag', async () => {
    mkdirSync(join(root, 'data-bucket', 'seeded'), { recursive: true });
    writeFileSync(join(root, 'data-bucket', 'seeded', 'file.jsonl'), '{"a":1}\n');
    const h = await client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'seeded/file.jsonl' }));
    expect(h.ETag).toBe(`"${md5('{"a":1}\n')}"`);
    expect((await body('data-bucket', 'seeded/file.jsonl')).toString()).toBe('{"a":1}\n');
    // replaced from outside: the metadata follows the new bytes
    writeFileSync(join(root, 'data-bucket', 'seeded', 'file.jsonl'), '{"a":2}\n{"b":3}\n');
    const h2 = await client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'seeded/file.jsonl' }));
    expect(h2.ETag).toBe(`"${md5('{"a":2}\n{"b":3}\n')}"`);
    expect(h2.ContentLength).toBe(16);
  });

  test('concurrent writers of one key leave a matching body and ETag', async () => {
    const bodies = Array.from({ length: 16 }, (_, i) => randomBytes(10_000 + i));
    await Promise.all(bodies.map((b) => client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'race/key.bin', Body: b }))));
    const onDisk = readFileSync(s3.objectPath('data-bucket', 'race/key.bin'));
    expect(bodies.some((b) => b.equals(onDisk))).toBe(true);
    const h = await client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'race/key.bin' }));
    expect(h.ETag).toBe(`"${md5(onDisk)}"`);
    expect(h.ContentLength).toBe(onDisk.length);
  });
});

describe('ListObjectsV2', () => {
  const bucket = 'list-bucket';
  const keys: string[] = [];

  beforeAll(async () => {
    await s3.createBucket(bucket);
    const names = ['a', 'a b', 'a+b', 'a~b', 'a-b', 'a.b', 'A', 'Z', 'é', 'ß', '日本', 'x😀', 'z_', '0'];
    for (let i = 0; i < 2500; i++) {
      const dir = ['p', 'p-q', 'p.q', 'p0', 'pé'][i % 5];
      keys.push(`${dir}/${names[i % names.length]}/${String(i).padStart(5, '0')}${i % 7 === 0 ? ' +~' : ''}.json`);
    }
    // plus keys at the top level and ones that share a folder name's prefix
    keys.push('pa', 'p+', 'p~top');
    const unique = [...new Set(keys)];
    keys.length = 0;
    keys.push(...unique);
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((k) => client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }))));
    }
  }, 120_000);

  test('pages through > 2,500 keys in UTF-8 byte order with continuation tokens', async () => {
    expect(keys.length).toBeGreaterThan(2500);
    const pages: number[] = [];
    const listed: string[] = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket })) {
      pages.push(page.KeyCount!);
      expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
      listed.push(...(page.Contents ?? []).map((c) => c.Key!));
    }
    const expected = [...keys].sort(byteOrder);
    expect(listed).toEqual(expected);
    const expectedPages = [];
    for (let left = keys.length; left > 0; left -= 1000) expectedPages.push(Math.min(1000, left));
    expect(pages).toEqual(expectedPages);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    // byte order is not UTF-16 order: '😀' (F0 9F..) sorts after 'ｚ'-range BMP characters
    expect(byteOrder('x\uff5a', 'x😀')).toBeLessThan(0);
  });

  test('max-keys, start-after, IsTruncated and the opaque continuation token', async () => {
    const expected = [...keys].sort(byteOrder);
    const first = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 7 }));
    expect(first.IsTruncated).toBe(true);
    expect(first.Contents!.map((c) => c.Key)).toEqual(expected.slice(0, 7));
    expect(Buffer.from(first.NextContinuationToken!, 'base64').toString('utf8')).toBe(expected[6]);
    const second = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 7, ContinuationToken: first.NextContinuationToken }));
    expect(second.Contents!.map((c) => c.Key)).toEqual(expected.slice(7, 14));
    const after = await client.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: expected[100], MaxKeys: 3 }));
    expect(after.Contents!.map((c) => c.Key)).toEqual(expected.slice(101, 104));
    const tail = await client.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: expected[expected.length - 2] }));
    expect(tail.IsTruncated).toBe(false);
    expect(tail.Contents!.map((c) => c.Key)).toEqual([expected[expected.length - 1]]);
    const c = first.Contents![0];
    expect(c.Size).toBe(Buffer.byteLength(c.Key!));
    expect(c.ETag).toBe(`"${md5(c.Key!)}"`);
  });

  test('prefix + delimiter give CommonPrefixes, paginated in byte order', async () => {
    const all = await client.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    expect(all.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['p-q/', 'p.q/', 'p/', 'p0/', 'pé/']);
    expect(all.Contents!.map((o) => o.Key)).toEqual(['p+', 'pa', 'p~top']);
    // page size 2 across prefixes and keys
    const items: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 2, ContinuationToken: token }));
      expect(page.KeyCount).toBeLessThanOrEqual(2);
      items.push(...(page.Contents ?? []).map((o) => o.Key!), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    expect(items.sort(byteOrder)).toEqual(['p+', 'p-q/', 'p.q/', 'p/', 'p0/', 'pa', 'p~top', 'pé/']);
    const sub = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'pé/', Delimiter: '/' }));
    const expectedSub = [...new Set(keys.filter((k) => k.startsWith('pé/')).map((k) => k.slice(0, k.indexOf('/', 4) + 1)))].sort(byteOrder);
    expect(sub.CommonPrefixes!.map((p) => p.Prefix)).toEqual(expectedSub);
    const deep = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'p/a+b/' }));
    expect(deep.Contents!.map((o) => o.Key)).toEqual(keys.filter((k) => k.startsWith('p/a+b/')).sort(byteOrder));
    const partial = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'p/a' }));
    expect(partial.Contents!.map((o) => o.Key)).toEqual(keys.filter((k) => k.startsWith('p/a')).sort(byteOrder));
  });
});
