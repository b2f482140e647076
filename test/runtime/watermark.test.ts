import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  CopySourceChangedError,
  Watermark,
  compareWatermarks,
  formatWatermark,
  isNotFound,
  parseWatermark,
  putIfNewer,
} from '../../lambda-src/lib/watermark';
import { awsError } from '../support/aws-error';
import { FakeS3 } from '../support/fake-s3';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });
const bucket = new FakeS3(s3Mock, { bucket: 'data' });
const noSleep = async (): Promise<void> => undefined;

const W1: Watermark = { submittedAt: '2025-08-10T10:00:00.000Z', queryExecutionId: 'aaaa-1' };
const W2: Watermark = { submittedAt: '2025-08-10T10:00:05.000Z', queryExecutionId: 'aaaa-0' };
const W2b: Watermark = { submittedAt: '2025-08-10T10:00:05.000Z', queryExecutionId: 'bbbb-0' };

beforeEach(() => {
  s3Mock.reset();
  bucket.reset();
});

describe('watermark order and encoding', () => {
  test('orders by submission time, then by query execution id', () => {
    expect(compareWatermarks(W1, W2)).toBeLessThan(0);
    expect(compareWatermarks(W2, W1)).toBeGreaterThan(0);
    expect(compareWatermarks(W2, W2b)).toBeLessThan(0);
    expect(compareWatermarks(W2b, W2)).toBeGreaterThan(0);
    expect(compareWatermarks(W1, { ...W1 })).toBe(0);
    // Time wins over id order even when the id sorts the other way.
    expect(compareWatermarks({ submittedAt: '2025-08-10T10:00:00Z', queryExecutionId: 'zzzz' }, W2)).toBeLessThan(0);
  });

  test('compares instants, not strings (offsets and precision differ)', () => {
    const a = { submittedAt: '2025-08-10T12:00:00+02:00', queryExecutionId: 'x' };
    const b = { submittedAt: '2025-08-10T10:00:00.000Z', queryExecutionId: 'x' };
    expect(compareWatermarks(a, b)).toBe(0);
  });

  test('formats as ISO|id and parses back; malformed values are undefined', () => {
    const text = formatWatermark({ submittedAt: '2025-08-10T12:00:00+02:00', queryExecutionId: 'q-1' });
    expect(text).toBe('2025-08-10T10:00:00.000Z|q-1');
    expect(parseWatermark(text)).toEqual({ submittedAt: '2025-08-10T10:00:00.000Z', queryExecutionId: 'q-1' });
    expect(parseWatermark(undefined)).toBeUndefined();
    expect(parseWatermark('')).toBeUndefined();
    expect(parseWatermark('not-a-date|q')).toBeUndefined();
    expect(parseWatermark('2025-08-10T10:00:00Z|')).toBeUndefined();
    expect(parseWatermark('|q')).toBeUndefined();
    expect(() => formatWatermark({ submittedAt: 'yesterday', queryExecutionId: 'q' })).toThrow(RangeError);
  });
});

describe('putIfNewer', () => {
  const base = { bucket: 'data', key: 'results/x.json', contentType: 'application/json', sleep: noSleep };

  test('creates an absent object with IfNoneMatch:* and the watermark metadata', async () => {
    const out = await putIfNewer(s3, { ...base, body: 'one', watermark: W1 });
    expect(out.outcome).toBe('written');
    expect(out.stored).toBeUndefined();
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { IfNoneMatch: '*', Metadata: { watermark: formatWatermark(W1) } });
    expect(bucket.text('results/x.json')).toBe('one');
  });

  test('replaces an older object with IfMatch on its ETag', async () => {
    await putIfNewer(s3, { ...base, body: 'old', watermark: W1 });
    const etag = bucket.objects.get('results/x.json')!.etag;
    const out = await putIfNewer(s3, { ...base, body: 'new', watermark: W2 });
    expect(out).toMatchObject({ outcome: 'written', stored: W1 });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { IfMatch: etag });
    expect(bucket.text('results/x.json')).toBe('new');
  });

  test('never overwrites a newer object (stale) and skips an equal one (unchanged)', async () => {
    await putIfNewer(s3, { ...base, body: 'newer', watermark: W2 });
    const stale = await putIfNewer(s3, { ...base, body: 'older', watermark: W1 });
    expect(stale).toMatchObject({ outcome: 'stale', stored: W2 });
    const same = await putIfNewer(s3, { ...base, body: 'again', watermark: { ...W2 } });
    expect(same.outcome).toBe('unchanged');
    expect(bucket.text('results/x.json')).toBe('newer');
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
  });

  test('an object without a watermark counts as older than any computation', async () => {
    bucket.put('results/x.json', 'manual', { etag: '"m"' });
    const out = await putIfNewer(s3, { ...base, body: 'computed', watermark: W1 });
    expect(out.outcome).toBe('written');
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { IfMatch: '"m"' });
  });

  test('412 race: re-reads, and stops when the winner is newer', async () => {
    let raced = false;
    // A concurrent newer writer lands between our HeadObject and our PutObject: the fake S3 answers
    // our If-None-Match: * with 412, as S3 does.
    bucket.before.put.push(() => {
      raced = true;
      bucket.put('results/x.json', 'winner', { etag: '"w"', metadata: { watermark: formatWatermark(W2) } });
    });
    const out = await putIfNewer(s3, { ...base, body: 'mine', watermark: W1 });
    expect(raced).toBe(true);
    expect(out).toMatchObject({ outcome: 'stale', stored: W2 });
    expect(bucket.text('results/x.json')).toBe('winner');
    expect(s3Mock).toHaveReceivedCommandTimes(HeadObjectCommand, 2);
  });

  test('412 race: re-reads, and writes when the winner is older', async () => {
    bucket.before.put.push(() => {
      bucket.put('results/x.json', 'older', { etag: '"o"', metadata: { watermark: formatWatermark(W1) } }); // 412 for us
    });
    const out = await putIfNewer(s3, { ...base, body: 'mine', watermark: W2 });
    expect(out).toMatchObject({ outcome: 'written', stored: W1 });
    expect(s3Mock).toHaveReceivedNthCommandWith(2, PutObjectCommand, { IfNoneMatch: '*' });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { IfMatch: '"o"' });
    expect(bucket.text('results/x.json')).toBe('mine');
  });

  test('404 NoSuchKey on If-Match (the object was deleted after our read) is a lost race: re-read, then create', async () => {
    bucket.put('results/x.json', 'older', { etag: '"o"', metadata: { watermark: formatWatermark(W1) } });
    bucket.before.put.push(() => {
      bucket.objects.delete('results/x.json');
    });
    const out = await putIfNewer(s3, { ...base, body: 'mine', watermark: W2 });
    expect(out).toMatchObject({ outcome: 'written' });
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => [c.args[0].input.IfMatch, c.args[0].input.IfNoneMatch]);
    expect(puts).toEqual([['"o"', undefined], [undefined, '*']]);
    expect(bucket.text('results/x.json')).toBe('mine');
  });

  test('a 404 that is not a lost race (no such bucket, or If-None-Match) is not retried', async () => {
    bucket.before.put.push(() => { throw awsError('NoSuchBucket', 404); });
    await expect(putIfNewer(s3, { ...base, body: 'x', watermark: W1 })).rejects.toMatchObject({ name: 'NoSuchBucket' });
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1);
  });

  test('409 ConditionalRequestConflict is retried too; losing every time ends in TransientError', async () => {
    for (let i = 0; i < 3; i++) bucket.before.put.push(() => { throw awsError('ConditionalRequestConflict', 409); });
    await expect(putIfNewer(s3, { ...base, body: 'x', watermark: W1, maxAttempts: 3 })).rejects.toMatchObject({ name: 'TransientError' });
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 3);
  });

  describe('expectAbsent: the create comes first, without the read', () => {
    const ops = () => s3Mock.calls().map((c) => {
      const cmd = c.args[0] as { constructor: { name: string }; input: { IfMatch?: string; IfNoneMatch?: string } };
      return `${cmd.constructor.name.replace('Command', '')}${cmd.input.IfMatch ? ` IfMatch ${cmd.input.IfMatch}` : ''}${cmd.input.IfNoneMatch ? ' IfNoneMatch *' : ''}`;
    });

    test('an absent object costs one request (no HeadObject)', async () => {
      const out = await putIfNewer(s3, { ...base, body: 'one', watermark: W1, expectAbsent: true });
      expect(out).toEqual({ outcome: 'written', stored: undefined, etag: expect.any(String) });
      expect(ops()).toEqual(['PutObject IfNoneMatch *']);
      expect(bucket.text('results/x.json')).toBe('one');
    });

    test('a wrong guess (412) falls back to read, compare, If-Match write: an older object is replaced', async () => {
      bucket.put('results/x.json', 'older', { etag: '"o"', metadata: { watermark: formatWatermark(W1) } });
      const out = await putIfNewer(s3, { ...base, body: 'mine', watermark: W2, expectAbsent: true, maxAttempts: 1 });
      // maxAttempts 1: the wrong guess is not a lost race, so it does not use up the attempts.
      expect(out).toMatchObject({ outcome: 'written', stored: W1 });
      expect(ops()).toEqual(['PutObject IfNoneMatch *', 'HeadObject', 'PutObject IfMatch "o"']);
      expect(bucket.text('results/x.json')).toBe('mine');
    });

    test('a wrong guess never overwrites a newer object, and an equal one is unchanged', async () => {
      bucket.put('results/x.json', 'newer', { etag: '"n"', metadata: { watermark: formatWatermark(W2) } });
      expect(await putIfNewer(s3, { ...base, body: 'older', watermark: W1, expectAbsent: true })).toMatchObject({ outcome: 'stale', stored: W2 });
      expect(await putIfNewer(s3, { ...base, body: 'same', watermark: W2, expectAbsent: true })).toMatchObject({ outcome: 'unchanged', etag: '"n"' });
      expect(bucket.text('results/x.json')).toBe('newer');
    });

    test('a 409 on the guess (a concurrent create) is read and compared like a 412', async () => {
      bucket.before.put.push(() => {
        bucket.put('results/x.json', 'winner', { etag: '"w"', metadata: { watermark: formatWatermark(W2) } });
        throw awsError('ConditionalRequestConflict', 409);
      });
      const out = await putIfNewer(s3, { ...base, body: 'mine', watermark: W1, expectAbsent: true });
      expect(out).toMatchObject({ outcome: 'stale', stored: W2 });
      expect(bucket.text('results/x.json')).toBe('winner');
    });
  });

  describe('copyFrom: a server-side copy of one exact source version', () => {
    const source = 'results/x.csv';
    const seed = (w: Watermark = W2) => bucket.put(source, 'a,b\n', { metadata: { watermark: formatWatermark(w) }, contentType: 'text/csv' });
    const copy = (over: Partial<{ etag: string; watermark: Watermark }> = {}) => putIfNewer(s3, {
      bucket: 'data',
      key: 'production/x.csv',
      contentType: 'text/csv; charset=utf-8',
      sleep: noSleep,
      watermark: over.watermark ?? W2,
      copyFrom: { key: source, etag: over.etag ?? bucket.objects.get(source)!.etag },
    });

    test('copies with CopySourceIfMatch and the target condition, stamped with the compared watermark and the content type', async () => {
      seed();
      const out = await copy();
      expect(out).toMatchObject({ outcome: 'written', stored: undefined });
      expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
        CopySourceIfMatch: bucket.objects.get(source)!.etag, IfNoneMatch: '*', MetadataDirective: 'REPLACE', ContentType: 'text/csv; charset=utf-8',
      });
      expect(bucket.objects.get('production/x.csv')).toMatchObject({ contentType: 'text/csv; charset=utf-8', metadata: { watermark: formatWatermark(W2) } });
      expect(out.etag).toBe(bucket.objects.get('production/x.csv')!.etag);
    });

    test('a newer computation with the same bytes (the same MD5 ETag) replaced the source: the copy carries the watermark compared', async () => {
      seed(W1);
      const named = bucket.objects.get(source)!.etag;
      seed(W2); // same bytes, newer watermark: CopySourceIfMatch still matches
      expect(bucket.objects.get(source)!.etag).toBe(named);
      await copy({ etag: named, watermark: W1 });
      expect(parseWatermark(bucket.objects.get('production/x.csv')!.metadata.watermark)).toEqual(W1);
    });

    test('a source that no longer holds the ETag ends in CopySourceChangedError (not a lost race); a deleted one says so', async () => {
      seed();
      const named = bucket.objects.get(source)!.etag;
      bucket.put(source, 'newer\n', { metadata: { watermark: formatWatermark(W2b) } });
      await expect(copy({ etag: named })).rejects.toMatchObject({ name: 'CopySourceChangedError', gone: false });
      expect(s3Mock).toHaveReceivedCommandTimes(CopyObjectCommand, 1);
      expect(bucket.objects.has('production/x.csv')).toBe(false);
      // The target exists (so a 404 could also mean "deleted under an If-Match"): a missing source is still told apart.
      bucket.put('production/x.csv', 'older', { etag: '"o"', metadata: { watermark: formatWatermark(W1) } });
      bucket.objects.delete(source);
      await expect(copy({ etag: named })).rejects.toBeInstanceOf(CopySourceChangedError);
      await expect(copy({ etag: named })).rejects.toMatchObject({ gone: true });
      expect(s3Mock).toHaveReceivedCommandTimes(CopyObjectCommand, 3);
    });

    test('a 412 about the target (the source unchanged) is a lost race: re-read and compare', async () => {
      seed();
      bucket.before.copy.push(() => {
        bucket.put('production/x.csv', 'older', { etag: '"o"', metadata: { watermark: formatWatermark(W1) } });
      });
      const out = await copy();
      expect(out).toMatchObject({ outcome: 'written', stored: W1 });
      expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, { IfMatch: '"o"' });
      expect(bucket.text('production/x.csv')).toBe('a,b\n');
    });
  });


  test('throttling and 5xx become TransientError; access denied stays permanent', async () => {
    bucket.before.put.push(() => { throw awsError('SlowDown', 503); });
    await expect(putIfNewer(s3, { ...base, body: 'x', watermark: W1 })).rejects.toMatchObject({ name: 'TransientError' });
    bucket.before.head.push(() => { throw awsError('InternalError', 500); });
    await expect(putIfNewer(s3, { ...base, body: 'x', watermark: W1 })).rejects.toMatchObject({ name: 'TransientError' });
    bucket.before.head.push(() => { throw awsError('AccessDenied', 403); });
    await expect(putIfNewer(s3, { ...base, body: 'x', watermark: W1 })).rejects.toMatchObject({ name: 'AccessDenied' });
    bucket.before.put.push(() => { throw awsError('AccessDenied', 403); });
    await expect(putIfNewer(s3, { ...base, body: 'x', watermark: W1 })).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});

describe('what counts as absent', () => {
  test('404 NotFound (HEAD) and NoSuchKey are absent; a 403 or a missing bucket never is', () => {
    expect(isNotFound(awsError('NotFound', 404))).toBe(true);
    expect(isNotFound(awsError('NoSuchKey', 404))).toBe(true);
    // S3 answers 403 for a missing key when the caller may not list the bucket: that is an error.
    expect(isNotFound(awsError('AccessDenied', 403))).toBe(false);
    expect(isNotFound(awsError('Forbidden', 403))).toBe(false);
    expect(isNotFound(awsError('NoSuchBucket', 404))).toBe(false);
    expect(isNotFound(new Error('socket hang up'))).toBe(false);
  });

  test('putIfNewer never writes over an object it was denied to read', async () => {
    bucket.before.head.push(() => { throw awsError('Forbidden', 403); });
    await expect(putIfNewer(s3, { bucket: 'data', key: 'k', contentType: 'text/plain', body: 'x', watermark: W1, sleep: noSleep })).rejects.toMatchObject({ name: 'Forbidden' });
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });
});
