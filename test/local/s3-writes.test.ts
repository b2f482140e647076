/**
 * Conformance of the embedded local S3 endpoint (see s3.test.ts): multipart uploads, copies and deletes,
 * conditional writes, faults and events, bucket operations, restarts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteBucketCommand,
  DeleteObjectCommand, DeleteObjectsCommand, GetBucketNotificationConfigurationCommand, GetObjectCommand, HeadBucketCommand,
  HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, ListPartsCommand, PutBucketNotificationConfigurationCommand,
  PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { body, client, expectS3Error, md5, newClient, root, s3, sha256, useConformanceS3 } from './s3-conformance';
import { LocalS3, type ObjectCreatedNotice } from '../../local/s3';

useConformanceS3();

describe('multipart uploads', () => {
  test('lib-storage Upload (> 5 MiB parts): S3-style ETag md5(part md5s)-N, byte-exact file', async () => {
    const partSize = 5 * 1024 * 1024;
    const data = randomBytes(partSize * 2 + 1234);
    const upload = new Upload({ client, params: { Bucket: 'data-bucket', Key: 'curated/big.parquet', Body: Readable.from([data]) }, partSize, queueSize: 2 });
    const res = await upload.done();
    const partMd5s = [data.subarray(0, partSize), data.subarray(partSize, 2 * partSize), data.subarray(2 * partSize)]
      .map((p) => createHash('md5').update(p).digest());
    const expected = `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-3"`;
    expect(res.ETag).toBe(expected);
    expect(sha256(readFileSync(s3.objectPath('data-bucket', 'curated/big.parquet')))).toBe(sha256(data));
    const h = await client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'curated/big.parquet' }));
    expect(h.ETag).toBe(expected);
    expect(h.ContentLength).toBe(data.length);
    // composite checksum ("…-3"): the SDK skips whole-object validation, the body still streams
    expect(sha256(await body('data-bucket', 'curated/big.parquet'))).toBe(sha256(data));
    expect(existsSync(join(root, '.s3-uploads')) && readFileSync).toBeTruthy();
  });

  test('InvalidPart, InvalidPartOrder, EntityTooSmall; AbortMultipartUpload removes the upload', async () => {
    const key = 'mpu/manual.bin';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'data-bucket', Key: key }));
    const p1 = await client.send(new UploadPartCommand({ Bucket: 'data-bucket', Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(100, 1) }));
    const p2 = await client.send(new UploadPartCommand({ Bucket: 'data-bucket', Key: key, UploadId, PartNumber: 2, Body: Buffer.alloc(100, 2) }));
    const parts = await client.send(new ListPartsCommand({ Bucket: 'data-bucket', Key: key, UploadId }));
    expect(parts.Parts!.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, p1.ETag, 100], [2, p2.ETag, 100]]);
    await expectS3Error(client.send(new CompleteMultipartUploadCommand({
      Bucket: 'data-bucket', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"deadbeef"' }] },
    })), 'InvalidPart', 400);
    await expectS3Error(client.send(new CompleteMultipartUploadCommand({
      Bucket: 'data-bucket', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: p2.ETag }, { PartNumber: 1, ETag: p1.ETag }] },
    })), 'InvalidPartOrder', 400);
    await expectS3Error(client.send(new CompleteMultipartUploadCommand({
      Bucket: 'data-bucket', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] },
    })), 'EntityTooSmall', 400);
    await client.send(new AbortMultipartUploadCommand({ Bucket: 'data-bucket', Key: key, UploadId }));
    await expectS3Error(client.send(new ListPartsCommand({ Bucket: 'data-bucket', Key: key, UploadId })), 'NoSuchUpload', 404);
    await expectS3Error(client.send(new AbortMultipartUploadCommand({ Bucket: 'data-bucket', Key: key, UploadId })), 'NoSuchUpload', 404);
    await expectS3Error(client.send(new UploadPartCommand({ Bucket: 'data-bucket', Key: key, UploadId, PartNumber: 3, Body: 'x' })), 'NoSuchUpload', 404);
    await expectS3Error(client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: key })), 'NotFound', 404);
  });

  test('FULL_OBJECT CRC32 checksum of a multipart object is the CRC of all bytes (validated by the SDK on GetObject)', async () => {
    const key = 'mpu/full-object.bin';
    const partSize = 5 * 1024 * 1024;
    const data = randomBytes(partSize + 999);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({
      Bucket: 'data-bucket', Key: key, ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT',
    }));
    const parts = [];
    for (const [i, chunk] of [data.subarray(0, partSize), data.subarray(partSize)].entries()) {
      const p = await client.send(new UploadPartCommand({ Bucket: 'data-bucket', Key: key, UploadId, PartNumber: i + 1, Body: chunk, ChecksumAlgorithm: 'CRC32' }));
      parts.push({ PartNumber: i + 1, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 });
    }
    const done = await client.send(new CompleteMultipartUploadCommand({ Bucket: 'data-bucket', Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(data));
    expect(done.ChecksumCRC32).toBe(crc.toString('base64'));
    expect(done.ChecksumType).toBe('FULL_OBJECT');
    const got = await client.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: key }));
    expect(got.ChecksumCRC32).toBe(crc.toString('base64'));
    expect(sha256(Buffer.from(await got.Body!.transformToByteArray()))).toBe(sha256(data));
  });

  test('a single-part upload completes with ETag md5(md5)-1', async () => {
    const key = 'mpu/single.bin';
    const data = Buffer.from('only part');
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'data-bucket', Key: key, ContentType: 'text/plain' }));
    const p1 = await client.send(new UploadPartCommand({ Bucket: 'data-bucket', Key: key, UploadId, PartNumber: 1, Body: data }));
    const done = await client.send(new CompleteMultipartUploadCommand({
      Bucket: 'data-bucket', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag, ChecksumCRC32: p1.ChecksumCRC32 }] },
    }));
    expect(done.ETag).toBe(`"${createHash('md5').update(createHash('md5').update(data).digest()).digest('hex')}-1"`);
    expect((await client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: key }))).ContentType).toBe('text/plain');
  });
});

describe('CopyObject and deletes', () => {
  test('CopyObject with COPY and REPLACE metadata directives, URL-encoded source', async () => {
    const src = 'copy src/ä+b~c.json';
    await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: src, Body: '{"x":1}', ContentType: 'application/json', Metadata: { a: '1' } }));
    const copied = await client.send(new CopyObjectCommand({
      Bucket: 'data-bucket', Key: 'copy dst/one.json', CopySource: `data-bucket/${encodeURIComponent(src)}`,
    }));
    expect(copied.CopyObjectResult!.ETag).toBe(`"${md5('{"x":1}')}"`);
    const h1 = await client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'copy dst/one.json' }));
    expect(h1.ContentType).toBe('application/json');
    expect(h1.Metadata).toEqual({ a: '1' });
    await client.send(new CopyObjectCommand({
      Bucket: 'data-bucket',
      Key: 'copy dst/two.json',
      CopySource: `/data-bucket/${encodeURIComponent(src)}`,
      MetadataDirective: 'REPLACE',
      ContentType: 'text/plain',
      Metadata: { b: '2' },
    }));
    const h2 = await client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: 'copy dst/two.json' }));
    expect(h2.ContentType).toBe('text/plain');
    expect(h2.Metadata).toEqual({ b: '2' });
    expect((await body('data-bucket', 'copy dst/two.json')).toString()).toBe('{"x":1}');
    await expectS3Error(client.send(new CopyObjectCommand({ Bucket: 'data-bucket', Key: src, CopySource: `data-bucket/${encodeURIComponent(src)}` })), 'InvalidRequest', 400);
    await expectS3Error(client.send(new CopyObjectCommand({ Bucket: 'data-bucket', Key: 'x', CopySource: 'data-bucket/nope' })), 'NoSuchKey', 404);
    await expectS3Error(client.send(new CopyObjectCommand({
      Bucket: 'data-bucket', Key: 'copy dst/three.json', CopySource: `data-bucket/${encodeURIComponent(src)}`, CopySourceIfMatch: '"nope"',
    })), 'PreconditionFailed', 412);
  });

  test('a copy is a single-part object: MD5 ETag and FULL_OBJECT checksum, from a single-part or a multipart source', async () => {
    const crc = (b: Buffer) => { const x = Buffer.alloc(4); x.writeUInt32BE(crc32(b)); return x.toString('base64'); };
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('base64');
    const head = (key: string) => client.send(new HeadObjectCommand({ Bucket: 'data-bucket', Key: key, ChecksumMode: 'ENABLED' }));
    // single-part source with a CRC32 checksum: the copy keeps both, and a new algorithm is computed
    const small = randomBytes(70_000);
    await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'copy-src/single.bin', Body: small, ChecksumAlgorithm: 'CRC32' }));
    const c1 = await client.send(new CopyObjectCommand({ Bucket: 'data-bucket', Key: 'copy-dst/single.bin', CopySource: 'data-bucket/copy-src/single.bin' }));
    expect(c1.CopyObjectResult!.ETag).toBe(`"${md5(small)}"`);
    expect((await head('copy-dst/single.bin')).ChecksumCRC32).toBe(crc(small));
    await client.send(new CopyObjectCommand({
      Bucket: 'data-bucket', Key: 'copy-dst/single-sha.bin', CopySource: 'data-bucket/copy-src/single.bin', ChecksumAlgorithm: 'SHA256',
    }));
    const h2 = await head('copy-dst/single-sha.bin');
    expect(h2.ETag).toBe(`"${md5(small)}"`);
    expect(h2.ChecksumSHA256).toBe(sha(small));
    // multipart source (ETag "…-2", composite CRC32): the copy gets the MD5 and the CRC32 of all bytes
    const partSize = 5 * 1024 * 1024;
    const big = randomBytes(partSize + 4321);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'data-bucket', Key: 'copy-src/multi.bin', ChecksumAlgorithm: 'CRC32' }));
    const parts = [];
    for (const [i, chunk] of [big.subarray(0, partSize), big.subarray(partSize)].entries()) {
      const p = await client.send(new UploadPartCommand({ Bucket: 'data-bucket', Key: 'copy-src/multi.bin', UploadId, PartNumber: i + 1, Body: chunk, ChecksumAlgorithm: 'CRC32' }));
      parts.push({ PartNumber: i + 1, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 });
    }
    const done = await client.send(new CompleteMultipartUploadCommand({ Bucket: 'data-bucket', Key: 'copy-src/multi.bin', UploadId, MultipartUpload: { Parts: parts } }));
    expect(done.ETag).toMatch(/-2"$/);
    const c3 = await client.send(new CopyObjectCommand({ Bucket: 'data-bucket', Key: 'copy-dst/multi.bin', CopySource: 'data-bucket/copy-src/multi.bin' }));
    expect(c3.CopyObjectResult!.ETag).toBe(`"${md5(big)}"`);
    const h3 = await head('copy-dst/multi.bin');
    expect(h3.ChecksumCRC32).toBe(crc(big));
    expect(h3.ChecksumType).toBe('FULL_OBJECT');
    expect(md5(await body('data-bucket', 'copy-dst/multi.bin'))).toBe(md5(big));
  });

  test('DeleteObject and DeleteObjects (verbose and Quiet) remove files and prune empty folders', async () => {
    const keys = ['del/a/1.txt', 'del/a/2.txt', 'del/b/3.txt', 'del/c 4.txt'];
    for (const k of keys) await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: k, Body: k }));
    const verbose = await client.send(new DeleteObjectsCommand({
      Bucket: 'data-bucket', Delete: { Objects: [{ Key: 'del/a/1.txt' }, { Key: 'del/a/2.txt' }, { Key: 'del/never-existed' }] },
    }));
    expect(verbose.Deleted!.map((d) => d.Key).sort()).toEqual(['del/a/1.txt', 'del/a/2.txt', 'del/never-existed']);
    expect(verbose.Errors ?? []).toEqual([]);
    expect(existsSync(join(root, 'data-bucket', 'del', 'a'))).toBe(false);
    const quiet = await client.send(new DeleteObjectsCommand({ Bucket: 'data-bucket', Delete: { Quiet: true, Objects: [{ Key: 'del/b/3.txt' }] } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    await client.send(new DeleteObjectCommand({ Bucket: 'data-bucket', Key: 'del/c 4.txt' }));
    await client.send(new DeleteObjectCommand({ Bucket: 'data-bucket', Key: 'del/c 4.txt' }));
    expect(existsSync(join(root, 'data-bucket', 'del'))).toBe(false);
    const left = await client.send(new ListObjectsV2Command({ Bucket: 'data-bucket', Prefix: 'del/' }));
    expect(left.KeyCount).toBe(0);
  });
});

describe('conditional writes', () => {
  test('PutObject If-None-Match: * and If-Match: <etag>', async () => {
    const key = 'production/state_counts/snapshot_date=2025-08-10/state_counts.json';
    const created = await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: key, Body: 'v1', IfNoneMatch: '*' }));
    await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: key, Body: 'v2', IfNoneMatch: '*' })), 'PreconditionFailed', 412);
    await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: key, Body: 'v2', IfMatch: '"0123456789abcdef0123456789abcdef"' })), 'PreconditionFailed', 412);
    expect((await body('data-bucket', key)).toString()).toBe('v1');
    const updated = await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: key, Body: 'v2', IfMatch: created.ETag }));
    expect(updated.ETag).toBe(`"${md5('v2')}"`);
    expect((await body('data-bucket', key)).toString()).toBe('v2');
    // If-Match on a key with no current object fails with 404 NoSuchKey, not 412 (S3 User Guide, "Conditional
    // write behavior"): never written, and deleted
    await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: `${key}.missing`, Body: 'x', IfMatch: updated.ETag })), 'NoSuchKey', 404);
    await client.send(new DeleteObjectCommand({ Bucket: 'data-bucket', Key: key }));
    await expectS3Error(client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: key, Body: 'v3', IfMatch: updated.ETag })), 'NoSuchKey', 404);
  });

  test('CompleteMultipartUpload honours If-None-Match and If-Match', async () => {
    const key = 'cond/mpu.bin';
    const complete = async (cond: { IfNoneMatch?: string; IfMatch?: string }) => {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'data-bucket', Key: key }));
      const p = await client.send(new UploadPartCommand({ Bucket: 'data-bucket', Key: key, UploadId, PartNumber: 1, Body: 'part' }));
      return client.send(new CompleteMultipartUploadCommand({
        Bucket: 'data-bucket', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] }, ...cond,
      }));
    };
    const first = await complete({ IfNoneMatch: '*' });
    await expectS3Error(complete({ IfNoneMatch: '*' }), 'PreconditionFailed', 412);
    await expectS3Error(complete({ IfMatch: '"ffffffffffffffffffffffffffffffff"' }), 'PreconditionFailed', 412);
    const second = await complete({ IfMatch: first.ETag });
    expect(second.ETag).toMatch(/^"[0-9a-f]{32}-1"$/);
  });
});

describe('faults and events', () => {
  test('SlowDown (503) injected for the first N requests is recovered by the SDK retries', async () => {
    s3.setFaults({ slowDownFirstN: 2, operations: ['PutObject'] });
    const before = s3.slowDownsInjected;
    const res = await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'faults/first-n.txt', Body: 'ok' }));
    expect(s3.slowDownsInjected - before).toBe(2);
    expect(res.$metadata.attempts).toBe(3);
    // other operations are not affected
    expect((await body('data-bucket', 'faults/first-n.txt')).toString()).toBe('ok');
    s3.setFaults({});
  });

  test('a seeded SlowDown rate is deterministic and the SDK recovers', async () => {
    const run = async () => {
      s3.setFaults({ slowDownRate: 0.3, seed: 42, operations: ['GetObject', 'ListObjectsV2'] });
      const retrying = newClient({ maxAttempts: 10 });
      const before = s3.slowDownsInjected;
      for (let i = 0; i < 4; i++) {
        const r = await retrying.send(new GetObjectCommand({ Bucket: 'data-bucket', Key: 'faults/first-n.txt' }));
        expect(await r.Body!.transformToString()).toBe('ok');
        await retrying.send(new ListObjectsV2Command({ Bucket: 'data-bucket', Prefix: 'faults/' }));
      }
      retrying.destroy();
      return s3.slowDownsInjected - before;
    };
    const a = await run();
    const b = await run();
    s3.setFaults({});
    expect(a).toBeGreaterThan(0);
    expect(b).toBe(a);
    await expectS3Error(newClient({ maxAttempts: 1 }).send((() => {
      s3.setFaults({ slowDownFirstN: 1 });
      return new GetObjectCommand({ Bucket: 'data-bucket', Key: 'faults/first-n.txt' });
    })()), 'SlowDown', 503);
    s3.setFaults({});
  });

  test('objectCreated for PutObject, CopyObject and CompleteMultipartUpload in EventBridge-enabled buckets only', async () => {
    await s3.createBucket('events-bucket');
    const notices: ObjectCreatedNotice[] = [];
    const visible: boolean[] = [];
    s3.on('objectCreated', (n) => {
      notices.push(n);
      // the object is committed before the notice goes out
      visible.push(readFileSync(s3.objectPath(n.bucket, n.key)).length === n.size);
    });
    await client.send(new PutObjectCommand({ Bucket: 'events-bucket', Key: 'before.txt', Body: 'x' }));
    expect(notices).toEqual([]);
    await client.send(new PutBucketNotificationConfigurationCommand({
      Bucket: 'events-bucket', NotificationConfiguration: { EventBridgeConfiguration: {} },
    }));
    const cfg = await client.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'events-bucket' }));
    expect(cfg.EventBridgeConfiguration).toBeDefined();
    const put = await client.send(new PutObjectCommand({ Bucket: 'events-bucket', Key: 'data/batch/2025-08-10/a b.jsonl', Body: 'hello' }));
    await client.send(new CopyObjectCommand({ Bucket: 'events-bucket', Key: 'copied.txt', CopySource: 'events-bucket/before.txt' }));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'events-bucket', Key: 'mpu.bin' }));
    const p = await client.send(new UploadPartCommand({ Bucket: 'events-bucket', Key: 'mpu.bin', UploadId, PartNumber: 1, Body: 'part' }));
    await client.send(new CompleteMultipartUploadCommand({ Bucket: 'events-bucket', Key: 'mpu.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } }));
    await client.send(new PutObjectCommand({ Bucket: 'data-bucket', Key: 'not-enabled.txt', Body: 'x' }));
    expect(notices.map((n) => [n.bucket, n.key, n.reason])).toEqual([
      ['events-bucket', 'data/batch/2025-08-10/a b.jsonl', 'PutObject'],
      ['events-bucket', 'copied.txt', 'CopyObject'],
      ['events-bucket', 'mpu.bin', 'CompleteMultipartUpload'],
    ]);
    expect(notices[0].etag).toBe(put.ETag!.replace(/"/g, ''));
    expect(notices[0].size).toBe(5);
    expect(Number.isNaN(Date.parse(notices[0].time))).toBe(false);
    const seqs = notices.map((n) => n.sequencer);
    for (const s of seqs) expect(s).toMatch(/^[0-9A-F]{16,}$/);
    expect([...seqs].sort()).toEqual(seqs);
    expect(new Set(seqs).size).toBe(3);
    expect(visible).toEqual([true, true, true]);
    // turning it off through the API stops the events
    s3.setEventBridgeEnabled('events-bucket', false);
    await client.send(new PutObjectCommand({ Bucket: 'events-bucket', Key: 'after.txt', Body: 'x' }));
    expect(notices).toHaveLength(3);
  });
});

describe('more bucket operations', () => {
  test('ListObjects (V1) with marker and delimiter; DeleteBucket refuses a non-empty bucket', async () => {
    await s3.createBucket('v1-bucket');
    for (const k of ['a/1', 'a/2', 'b', 'c/3']) await client.send(new PutObjectCommand({ Bucket: 'v1-bucket', Key: k, Body: k }));
    const page = await client.send(new ListObjectsCommand({ Bucket: 'v1-bucket', MaxKeys: 2 }));
    expect(page.Contents!.map((c) => c.Key)).toEqual(['a/1', 'a/2']);
    expect(page.IsTruncated).toBe(true);
    const rest = await client.send(new ListObjectsCommand({ Bucket: 'v1-bucket', Marker: 'a/2', Delimiter: '/' }));
    expect(rest.Contents!.map((c) => c.Key)).toEqual(['b']);
    expect(rest.CommonPrefixes!.map((p) => p.Prefix)).toEqual(['c/']);
    await expectS3Error(client.send(new DeleteBucketCommand({ Bucket: 'v1-bucket' })), 'BucketNotEmpty', 409);
    await client.send(new DeleteObjectsCommand({ Bucket: 'v1-bucket', Delete: { Objects: ['a/1', 'a/2', 'b', 'c/3'].map((Key) => ({ Key })) } }));
    await client.send(new DeleteBucketCommand({ Bucket: 'v1-bucket' }));
    await expectS3Error(client.send(new HeadBucketCommand({ Bucket: 'v1-bucket' })), 'NotFound', 404);
  });
});

describe('restart', () => {
  test('objects, metadata, the EventBridge flag and open uploads survive a restart on the same rootDir', async () => {
    await s3.createBucket('restart-bucket');
    await client.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'restart-bucket', NotificationConfiguration: { EventBridgeConfiguration: {} } }));
    const put = await client.send(new PutObjectCommand({ Bucket: 'restart-bucket', Key: 'k/v.json', Body: '{}', ContentType: 'application/json', Metadata: { m: '1' } }));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'restart-bucket', Key: 'open.bin' }));
    const second = await LocalS3.start({ rootDir: root });
    const c2 = new S3Client({ endpoint: second.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      const h = await c2.send(new HeadObjectCommand({ Bucket: 'restart-bucket', Key: 'k/v.json' }));
      expect([h.ETag, h.ContentType, h.Metadata]).toEqual([put.ETag, 'application/json', { m: '1' }]);
      const cfg = await c2.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'restart-bucket' }));
      expect(cfg.EventBridgeConfiguration).toBeDefined();
      const seen: string[] = [];
      second.on('objectCreated', (n) => seen.push(n.key));
      await c2.send(new PutObjectCommand({ Bucket: 'restart-bucket', Key: 'after-restart.txt', Body: 'x' }));
      expect(seen).toEqual(['after-restart.txt']);
      const parts = await c2.send(new ListPartsCommand({ Bucket: 'restart-bucket', Key: 'open.bin', UploadId }));
      expect(parts.Parts ?? []).toEqual([]);
      await c2.send(new AbortMultipartUploadCommand({ Bucket: 'restart-bucket', Key: 'open.bin', UploadId }));
    } finally {
      c2.destroy();
      await second.close();
    }
  });

  test('closing an endpoint closes its metadata logs', async () => {
    const logsOpen = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd') : [])
      .map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } })
      .filter((target) => target.startsWith(root) && target.endsWith('objects.log')).length;
    const before = logsOpen();
    const second = await LocalS3.start({ rootDir: root });
    const c2 = new S3Client({ endpoint: second.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      await second.createBucket('closing-bucket');
      await c2.send(new PutObjectCommand({ Bucket: 'closing-bucket', Key: 'k.txt', Body: 'x' }));
      if (existsSync('/proc/self/fd')) expect(logsOpen()).toBe(before + 1);
    } finally {
      c2.destroy();
      await second.close();
    }
    expect(logsOpen()).toBe(before);
  });

  test('two endpoints over one rootDir at once: each serves the metadata the other wrote, and the other\'s deletes', async () => {
    await s3.createBucket('shared-bucket');
    const second = await LocalS3.start({ rootDir: root });
    const c2 = new S3Client({ endpoint: second.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const head = async (c: S3Client, Key: string) => {
      const h = await c.send(new HeadObjectCommand({ Bucket: 'shared-bucket', Key }));
      return [h.ETag, h.ContentType, h.Metadata];
    };
    try {
      const a = await client.send(new PutObjectCommand({ Bucket: 'shared-bucket', Key: 'k.json', Body: '{"v":1}', ContentType: 'application/json', Metadata: { by: 'first' } }));
      expect(await head(c2, 'k.json')).toEqual([a.ETag, 'application/json', { by: 'first' }]);
      // the same size: what tells the first endpoint is the data file's mtime, then the log
      const b = await c2.send(new PutObjectCommand({ Bucket: 'shared-bucket', Key: 'k.json', Body: '{"v":2}', ContentType: 'text/plain', Metadata: { by: 'second' } }));
      expect(await head(client, 'k.json')).toEqual([b.ETag, 'text/plain', { by: 'second' }]);
      await client.send(new DeleteObjectCommand({ Bucket: 'shared-bucket', Key: 'k.json' }));
      await expectS3Error(c2.send(new HeadObjectCommand({ Bucket: 'shared-bucket', Key: 'k.json' })), 'NotFound', 404);
      const c = await c2.send(new PutObjectCommand({ Bucket: 'shared-bucket', Key: 'k.json', Body: '{"v":3}', ContentType: 'application/x-ndjson' }));
      expect(await head(client, 'k.json')).toEqual([c.ETag, 'application/x-ndjson', {}]);
    } finally {
      c2.destroy();
      await second.close();
    }
  });
});
