/**
 * Wire-level checks of the local S3 endpoint that the SDK's defaults do not exercise: signed
 * aws-chunked bodies, checksum trailers that do not match, checksum implementations against the
 * SDK's own, the range parser, the request router and raw error XML.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RequestCounter, serverAt } from '../../local/http';
import { LocalS3, parseRange, s3Operation } from '../../local/s3';
import { createHasher, type ChecksumAlgorithm } from '../../local/s3/checksums';
import { AwsChunkedDecoder } from '../../local/s3/chunked';

function raw(endpoint: string, method: string, path: string, headers: Record<string, string | number>, body?: Buffer):
Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Frames a payload as aws-chunked, optionally with chunk signatures and trailers. */
function frame(data: Buffer, chunkSize: number, opts: { signed?: boolean; trailers?: Record<string, string> } = {}): Buffer {
  const sig = (i: number) => (opts.signed ? `;chunk-signature=${String(i).padStart(64, '0')}` : '');
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; i < data.length; i += chunkSize) {
    const c = data.subarray(i, i + chunkSize);
    parts.push(Buffer.from(`${c.length.toString(16)}${sig(n++)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${sig(n)}\r\n`));
  for (const [k, v] of Object.entries(opts.trailers ?? {})) parts.push(Buffer.from(`${k}:${v}\r\n`));
  if (opts.trailers) parts.push(Buffer.from('x-amz-trailer-signature:abc\r\n'));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

async function decode(framed: Buffer, pieces: number): Promise<{ out: Buffer; trailers: Record<string, string> }> {
  const step = Math.max(1, Math.ceil(framed.length / pieces));
  const input = Readable.from(Array.from({ length: Math.ceil(framed.length / step) }, (_, i) => framed.subarray(i * step, (i + 1) * step)));
  const decoder = new AwsChunkedDecoder();
  const out: Buffer[] = [];
  await pipeline(input, decoder, async (src: AsyncIterable<Buffer>) => { for await (const c of src) out.push(c); });
  return { out: Buffer.concat(out), trailers: decoder.trailers };
}

describe('AwsChunkedDecoder', () => {
  test('passes only payload bytes, whatever the network fragmentation, and collects trailers', async () => {
    const data = randomBytes(200_001);
    const framed = frame(data, 65_536, { signed: true, trailers: { 'x-amz-checksum-crc32': 'AAAAAA==' } });
    for (const pieces of [1, 3, 997, framed.length]) {
      const { out, trailers } = await decode(framed, pieces);
      expect(out.equals(data)).toBe(true);
      expect(trailers['x-amz-checksum-crc32']).toBe('AAAAAA==');
    }
  });

  test('rejects truncated bodies and bad framing', async () => {
    const framed = frame(Buffer.from('hello world'), 4);
    await expect(decode(framed.subarray(0, framed.length - 8), 2)).rejects.toThrow(/ended before/);
    await expect(decode(Buffer.from('zz\r\nabc'), 1)).rejects.toThrow(/bad aws-chunked size/);
    await expect(decode(Buffer.from('3\r\nabcX\r\n0\r\n\r\n'), 1)).rejects.toThrow(/CRLF/);
  });
});

describe('checksums', () => {
  test.each([
    ['CRC32', 'cbf43926'],
    ['CRC32C', 'e3069283'],
    ['CRC64NVME', 'ae8b14860a799888'],
  ])('%s check value of "123456789"', (alg, hex) => {
    const h = createHasher(alg as ChecksumAlgorithm);
    h.update(Buffer.from('1234'));
    h.update(Buffer.from('56789'));
    expect(h.digest().toString('hex')).toBe(hex);
  });

  test.each(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const)(
    'the SDK\'s %s (request header, stored, validated on GetObject) agrees with the endpoint', async (alg) => {
      const root = mkdtempSync(join(tmpdir(), 'local-s3-ck-'));
      const s3 = await LocalS3.start({ rootDir: root });
      const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
      try {
        await s3.createBucket('ck-bucket');
        const data = randomBytes(100_003);
        const put = await client.send(new PutObjectCommand({ Bucket: 'ck-bucket', Key: 'k', Body: data, ChecksumAlgorithm: alg }));
        const field = `Checksum${alg}` as 'ChecksumCRC32';
        expect(put[field]).toBeDefined();
        const streamed = await client.send(new PutObjectCommand({
          Bucket: 'ck-bucket', Key: 's', Body: Readable.from([data.subarray(0, 50_000), data.subarray(50_000)]), ContentLength: data.length, ChecksumAlgorithm: alg,
        }));
        expect(streamed[field]).toBe(put[field]);
        const got = await client.send(new GetObjectCommand({ Bucket: 'ck-bucket', Key: 's' }));
        expect(got[field]).toBe(put[field]);
        expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
      } finally {
        client.destroy();
        await s3.close();
        rmSync(root, { recursive: true, force: true });
      }
    });
});

test('parseRange', () => {
  expect(parseRange('bytes=0-0', 10)).toEqual({ start: 0, end: 0 });
  expect(parseRange('bytes=5-', 10)).toEqual({ start: 5, end: 9 });
  expect(parseRange('bytes=-4', 10)).toEqual({ start: 6, end: 9 });
  expect(parseRange('bytes=3-99', 10)).toEqual({ start: 3, end: 9 });
  expect(parseRange('bytes=10-', 10)).toBe('unsatisfiable');
  expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
  expect(parseRange('bytes=5-2', 10)).toBeUndefined();
  expect(parseRange('bytes=0-1,3-4', 10)).toBeUndefined();
  expect(parseRange('items=0-1', 10)).toBeUndefined();
});

describe('raw HTTP', () => {
  let root: string;
  let s3: LocalS3;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'local-s3-raw-'));
    s3 = await LocalS3.start({ rootDir: root });
    await s3.createBucket('raw-bucket');
  });
  afterAll(async () => {
    await s3.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD (signed chunks) is stored without framing', async () => {
    const data = randomBytes(70_000);
    const body = frame(data, 8192, { signed: true });
    const res = await raw(s3.endpoint, 'PUT', '/raw-bucket/signed/obj.bin', {
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': data.length,
      'content-length': body.length,
    }, body);
    expect(res.status).toBe(200);
    expect(readFileSync(s3.objectPath('raw-bucket', 'signed/obj.bin')).equals(data)).toBe(true);
  });

  test('a wrong checksum trailer is BadDigest and nothing is stored', async () => {
    const data = Buffer.from('payload');
    const body = frame(data, 4, { trailers: { 'x-amz-checksum-crc32': 'AAAAAA==' } });
    const res = await raw(s3.endpoint, 'PUT', '/raw-bucket/bad-crc.bin', {
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'x-amz-decoded-content-length': data.length,
      'content-length': body.length,
    }, body);
    expect(res.status).toBe(400);
    expect(res.body).toContain('<Code>BadDigest</Code>');
    const head = await raw(s3.endpoint, 'HEAD', '/raw-bucket/bad-crc.bin', {});
    expect(head.status).toBe(404);
  });

  test('a wrong decoded length, Content-MD5 or x-amz-content-sha256 is rejected', async () => {
    const data = Buffer.from('abc');
    const framed = frame(data, 2);
    const short = await raw(s3.endpoint, 'PUT', '/raw-bucket/len.bin', {
      'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': 4, 'content-length': framed.length,
    }, framed);
    expect(short.body).toContain('<Code>IncompleteBody</Code>');
    const md5 = await raw(s3.endpoint, 'PUT', '/raw-bucket/md5.bin', { 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==', 'content-length': 3 }, data);
    expect(md5.body).toContain('<Code>BadDigest</Code>');
    const sha = await raw(s3.endpoint, 'PUT', '/raw-bucket/sha.bin', { 'x-amz-content-sha256': '0'.repeat(64), 'content-length': 3 }, data);
    expect(sha.body).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
  });

  test('an upload the client abandons mid-body, buffered or streamed, stores nothing and leaves no temp file', async () => {
    for (const [key, sent] of [['abandoned/small.bin', 10_000], ['abandoned/large.bin', 600_000]] as const) {
      await new Promise<void>((resolve) => {
        const req = request(`${s3.endpoint}/raw-bucket/${key}`, { method: 'PUT', headers: { 'content-length': 1_000_000 } });
        req.on('error', () => resolve());
        req.write(randomBytes(sent), () => setTimeout(() => { req.destroy(); resolve(); }, 100));
      });
      await new Promise((r) => setTimeout(r, 200));
      expect((await raw(s3.endpoint, 'HEAD', `/raw-bucket/${key}`, {})).status).toBe(404);
      expect(readdirSync(join(root, '.s3-tmp'))).toEqual([]);
    }
  });

  test('virtual-hosted style requests for <bucket>.localhost', async () => {
    const put = await raw(s3.endpoint, 'PUT', '/v%20host/key.txt', { 'host': 'raw-bucket.localhost', 'content-length': 2 }, Buffer.from('hi'));
    expect(put.status).toBe(200);
    expect(readFileSync(s3.objectPath('raw-bucket', 'v host/key.txt'), 'utf8')).toBe('hi');
    const list = await raw(s3.endpoint, 'GET', '/?list-type=2&prefix=v', { host: 'raw-bucket.localhost:1234' });
    expect(list.body).toContain('<Key>v host/key.txt</Key>');
  });

  test('errors are S3 XML with code, message, resource and request id', async () => {
    const res = await raw(s3.endpoint, 'GET', '/raw-bucket/no%20such%2Bkey', {});
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/xml');
    expect(res.body).toMatch(/<Error><Code>NoSuchKey<\/Code><Message>[^<]+<\/Message><Key>no such\+key<\/Key><Resource>\/raw-bucket\/no such\+key<\/Resource><RequestId>[0-9A-F]{16}<\/RequestId><HostId>[A-Za-z0-9+/=]+<\/HostId><\/Error>/);
    const bucket = await raw(s3.endpoint, 'GET', '/nosuchbucket?list-type=2', {});
    expect(bucket.status).toBe(404);
    expect(bucket.body).toContain('<Code>NoSuchBucket</Code>');
    const unsupported = await raw(s3.endpoint, 'GET', '/raw-bucket?tagging', {});
    expect(unsupported.status).toBe(501);
    expect(unsupported.body).toContain('<Code>NotImplemented</Code>');
    const token = await raw(s3.endpoint, 'GET', '/raw-bucket?list-type=2&continuation-token=%%%', {});
    expect(token.status).toBe(400);
  });
});

describe('one router', () => {
  const req = (method: string, url: string, headers: Record<string, string> = {}) => ({ method, url, headers }) as unknown as IncomingMessage;

  test('names every request by its S3 API operation', () => {
    const cases: Array<[string, string, string, Record<string, string>?]> = [
      ['GET', '/', 'ListBuckets'],
      ['GET', '/b', 'ListObjects'],
      ['GET', '/b?prefix=a&marker=x', 'ListObjects'],
      ['GET', '/b?list-type=2&prefix=a', 'ListObjectsV2'],
      ['GET', '/b?versions', 'ListObjectVersions'],
      ['GET', '/b?uploads', 'ListMultipartUploads'],
      ['GET', '/b?location', 'GetBucketLocation'],
      ['GET', '/b?acl', 'GetBucketAcl'],
      ['PUT', '/b?policy', 'PutBucketPolicy'],
      ['DELETE', '/b?publicAccessBlock', 'DeletePublicAccessBlock'],
      ['PUT', '/b?notification', 'PutBucketNotificationConfiguration'],
      ['PUT', '/b', 'CreateBucket'],
      ['HEAD', '/b', 'HeadBucket'],
      ['DELETE', '/b', 'DeleteBucket'],
      ['POST', '/b?delete', 'DeleteObjects'],
      ['GET', '/b/k', 'GetObject'],
      ['HEAD', '/b/a/k', 'HeadObject'],
      ['PUT', '/b/k', 'PutObject'],
      ['PUT', '/b/k', 'CopyObject', { 'x-amz-copy-source': '/b/j' }],
      ['PUT', '/b/k?partNumber=1&uploadId=u', 'UploadPartCopy', { 'x-amz-copy-source': '/b/j' }],
      ['GET', '/b/k?tagging', 'GetObjectTagging'],
      ['DELETE', '/b/k?tagging', 'DeleteObjectTagging'],
      ['POST', '/b/k?select&select-type=2', 'SelectObjectContent'],
      ['POST', '/b/k', 'Unsupported'],
      ['PATCH', '/b', 'Unsupported'],
      ['GET', '/b/%ZZ', 'Unsupported'],
    ];
    for (const [method, url, op, headers] of cases) expect([method, url, s3Operation(req(method, url, headers))]).toEqual([method, url, op]);
  });

  test('the endpoint dispatches on the names the request counter counts; what it does not implement is 501', async () => {
    const root = mkdtempSync(join(tmpdir(), 'local-s3-router-'));
    const s3 = await LocalS3.start({ rootDir: root });
    const counter = new RequestCounter().observe(serverAt(s3.endpoint)!, 's3', s3Operation);
    try {
      await s3.createBucket('router-bucket');
      expect((await raw(s3.endpoint, 'PUT', '/router-bucket/k', { 'content-length': 1 }, Buffer.from('x'))).status).toBe(200);
      expect((await raw(s3.endpoint, 'GET', '/router-bucket?prefix=k', {})).body).toContain('<Key>k</Key>');
      for (const [method, path] of [['GET', '/router-bucket/k?tagging'], ['PUT', '/router-bucket?acl'], ['GET', '/router-bucket?uploads']]) {
        const res = await raw(s3.endpoint, method, path, { 'content-length': 0 });
        expect([path, res.status]).toEqual([path, 501]);
        expect(res.body).toContain('<Code>NotImplemented</Code>');
      }
      expect(counter.snapshot().s3).toEqual({ GetObjectTagging: 1, ListMultipartUploads: 1, ListObjects: 1, PutBucketAcl: 1, PutObject: 1 });
      s3.setFaults({ slowDownFirstN: 1, operations: ['GetObjectTagging'] });
      expect((await raw(s3.endpoint, 'GET', '/router-bucket/k?tagging', {})).status).toBe(503);
      expect((await raw(s3.endpoint, 'GET', '/router-bucket/k', {})).status).toBe(200);
    } finally {
      counter.close();
      await s3.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
