import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { PREFIXES } from './validate-helpers';
import { processS3Object } from '../../lambda-src/validate';
import { record } from '../support/facility-record';
import { bodyBytes } from '../support/fake-s3';

const s3Mock = mockClient(S3Client);
const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const KEY = 'data/batch/2025-08-10/sub/part-1.jsonl';
const line = JSON.stringify(record('FAC1', '2025-08-10', ['2025-09-01']));

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name} happened` });
}

function body(text: string | Buffer): any {
  return Readable.from([Buffer.from(text)]);
}

async function bodyText(b: unknown): Promise<string> {
  return (await bodyBytes(b)).toString('utf8');
}

const run = () => processS3Object({ client, bucket: 'data', key: KEY, rawPrefix: 'data/batch/', prefixes: PREFIXES, months: 6 });

beforeEach(() => {
  s3Mock.reset();
  // No output exists yet (each output write first reads the source version of the current output).
  s3Mock.on(HeadObjectCommand).rejects(new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'not found' }));
});

describe('validate (lambda-src/validate, Stage 2) against S3 (mocked SDK)', () => {
  test('reads the object and writes every output under keys derived from the input key', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: body(`${line}\n{bad\n`), ETag: '"abc"' });
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"out"' });
    const summary = await run();
    expect(summary).toMatchObject({
      bucket: 'data',
      key: KEY,
      etag: '"abc"',
      snapshotDate: '2025-08-10',
      asOf: '2025-08-10',
      read: 2,
      valid: 1,
      matched: 1,
      quarantined: 1,
      duplicates: 0,
      blank: 0,
      outputs: {
        validated: ['validated/snapshot_date=2025-08-10/sub__part-1.jsonl'],
        expiring: ['expiring/snapshot_date=2025-08-10/sub__part-1.jsonl'],
        quarantine: ['quarantine/snapshot_date=2025-08-10/sub__part-1.jsonl'],
      },
    });
    const puts = s3Mock.commandCalls(PutObjectCommand);
    const written = new Map<string, string>();
    for (const c of puts) written.set(c.args[0].input.Key!, await bodyText(c.args[0].input.Body));
    expect(written.get('validated/snapshot_date=2025-08-10/sub__part-1.jsonl')).toBe(`${line}\n`);
    expect(written.get('expiring/snapshot_date=2025-08-10/sub__part-1.jsonl')).toBe(`${line}\n`);
    expect(JSON.parse(written.get('quarantine/snapshot_date=2025-08-10/sub__part-1.jsonl')!)).toMatchObject({ source_key: KEY, line: 2, reason: 'invalid_json', raw: '{bad' });
    expect(puts.every((c) => c.args[0].input.Bucket === 'data')).toBe(true);
  });

  test('objects whose keys differ only in extension, case or path separators write different outputs', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => ({ Body: body(`${line}\n`) }));
    s3Mock.on(PutObjectCommand).resolves({});
    const keys = ['a.jsonl', 'a.ndjson', 'A.JSON.gz', 'x/y.jsonl', 'x__y.jsonl'].map((k) => `data/batch/2025-08-10/${k}`);
    const validated: string[] = [];
    for (const key of keys) {
      s3Mock.on(GetObjectCommand).callsFake(() => ({ Body: body(key.endsWith('.gz') ? gzipSync(`${line}\n`) : `${line}\n`) }));
      const r = await processS3Object({ client, bucket: 'data', key, rawPrefix: 'data/batch/', prefixes: PREFIXES, months: 6 });
      validated.push(...r.outputs.validated);
    }
    expect(new Set(validated).size).toBe(keys.length);
    expect(validated.slice(0, 4)).toEqual([
      'validated/snapshot_date=2025-08-10/a.jsonl',
      'validated/snapshot_date=2025-08-10/a.ndjson.jsonl',
      'validated/snapshot_date=2025-08-10/A.JSON.gz.jsonl',
      'validated/snapshot_date=2025-08-10/x__y.jsonl',
    ]);
    expect(validated[4]).toMatch(/^validated\/snapshot_date=2025-08-10\/x__y~[0-9a-f]{12}\.jsonl$/);
  });

  test('NoSuchKey is permanent and keeps the SDK error name', async () => {
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'gone' }));
    await expect(run()).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  test('AccessDenied is permanent: the error names the object, and a failure marker settles it', async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403));
    s3Mock.on(PutObjectCommand).resolves({});
    const err = await processS3Object({ client, bucket: 'data', key: KEY, etag: '"ev"', rawPrefix: 'data/batch/', prefixes: PREFIXES, months: 6 }).catch((e) => e);
    expect(err).toMatchObject({ name: 'AccessDenied' });
    expect(err.message).toContain(`s3://data/${KEY}`);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key)).toEqual(['quarantine/_failed/snapshot_date=2025-08-10/sub__part-1.json']);
    expect(JSON.parse(String(puts[0].Body))).toEqual({ source_key: KEY, etag: '"ev"', error: 'AccessDenied', message: err.message });
  });

  test('a corrupt gzip fails for good with CorruptInputError naming the key, writes only the failure marker', async () => {
    const gz = gzipSync(`${line}\n${line}\n`);
    gz[Math.floor(gz.length / 2)] = 255 - gz[Math.floor(gz.length / 2)];
    s3Mock.on(GetObjectCommand).resolves({ Body: body(gz.subarray(0, gz.length - 4)), ETag: '"gz"' });
    s3Mock.on(PutObjectCommand).resolves({});
    const key = 'data/batch/2025-08-10/bad.jsonl.gz';
    const err = await processS3Object({ client, bucket: 'data', key, rawPrefix: 'data/batch/', prefixes: PREFIXES, months: 6 }).catch((e) => e);
    expect(err).toMatchObject({ name: 'CorruptInputError' });
    expect(err.message).toContain(key);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key)).toEqual(['quarantine/_failed/snapshot_date=2025-08-10/bad.jsonl.gz.json']);
    expect(JSON.parse(String(puts[0].Body))).toMatchObject({ source_key: key, etag: '"gz"', error: 'CorruptInputError' });
  });

  test('when the marker cannot be written, the object error is still reported, with a note', async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403));
    s3Mock.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403));
    const err = await run().catch((e) => e);
    expect(err).toMatchObject({ name: 'AccessDenied' });
    expect(err.message).toMatch(/failure marker .* could not be written/);
  });

  test('no marker for transient errors (retried) or a deleted object (nothing pending)', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    s3Mock.on(GetObjectCommand).rejects(s3Error('SlowDown', 503));
    await expect(run()).rejects.toMatchObject({ name: 'TransientError' });
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'gone' }));
    await expect(run()).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  test('SlowDown on read is a TransientError (retried by the state machine)', async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error('SlowDown', 503));
    await expect(run()).rejects.toMatchObject({ name: 'TransientError' });
  });

  test('a connection reset in the middle of the body is a TransientError', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { name: 'ECONNRESET', code: 'ECONNRESET' });
    const broken = Readable.from((async function* chunks() {
      yield Buffer.from(`${line}\n`);
      throw reset;
    })());
    s3Mock.on(GetObjectCommand).resolves({ Body: broken as any });
    s3Mock.on(PutObjectCommand).resolves({});
    await expect(run()).rejects.toMatchObject({ name: 'TransientError' });
  });

  test('SlowDown on write is a TransientError', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: body(`${line}\n`) });
    s3Mock.on(PutObjectCommand).rejects(s3Error('SlowDown', 503));
    await expect(run()).rejects.toMatchObject({ name: 'TransientError' });
  });

  test('AccessDenied on write stays permanent', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: body(`${line}\n`) });
    s3Mock.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403));
    await expect(run()).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});
