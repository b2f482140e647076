import { CopyObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { QueryStatus } from '../../lambda-src/athena/types';
import { loadConfig } from '../../lambda-src/lib/config';
import { Watermark, formatWatermark, parseWatermark } from '../../lambda-src/lib/watermark';
import { parsePublishInput, publishResults } from '../../lambda-src/publish';
import { awsError } from '../support/aws-error';
import { FakeS3 } from '../support/fake-s3';
import { stateCountsStatus } from '../support/query-status';

const BUCKET = 'medlaunch-data';
const ENV = { DATA_BUCKET: BUCKET };
const config = loadConfig(ENV);
const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });
const bucket = new FakeS3(s3Mock, { bucket: BUCKET });
const noSleep = async (): Promise<void> => undefined;

const D = '2025-08-10';
const RES = `results/state_counts/snapshot_date=${D}/`;
const PROD = `production/state_counts/snapshot_date=${D}/`;
const W1: Watermark = { submittedAt: '2025-08-10T12:00:01.000Z', queryExecutionId: 'q-0001' };
const W2: Watermark = { submittedAt: '2025-08-10T12:05:00.000Z', queryExecutionId: 'q-0002' };

/** Stores an object as the given computation's output (or without a watermark). */
function putRaw(key: string, body: string, watermark?: Watermark, contentType?: string): void {
  bucket.put(key, body, { metadata: watermark ? { watermark: formatWatermark(watermark) } : {}, contentType });
}

function results(w: Watermark, tag: string): void {
  putRaw(`${RES}state_counts.csv`, `state,accredited_facilities\nMI,${tag}\n`, w, 'text/csv; charset=utf-8');
  putRaw(`${RES}state_counts.json`, JSON.stringify({ tag, state_counts: [{ state: 'MI', accredited_facilities: 1 }] }), w, 'application/json');
}

const status = (w: Watermark, over: Partial<QueryStatus> = {}): QueryStatus => stateCountsStatus(w, { bucket: BUCKET, snapshotDate: D },
  { rows: 1, resultKeys: [`${RES}state_counts.csv`, `${RES}state_counts.json`], ...over });

beforeEach(() => {
  s3Mock.reset();
  bucket.reset();
});

const deps = () => ({ s3, config, sleep: noSleep });

describe('publishResults', () => {
  test('copies the results to the production path with their watermark and content type', async () => {
    results(W1, 'one');
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out).toEqual({
      published: true, reason: 'published', keys: [`${PROD}state_counts.csv`, `${PROD}state_counts.json`], manifest: `${PROD}manifest.json`,
    });
    expect(bucket.text(`${PROD}state_counts.csv`)).toBe('state,accredited_facilities\nMI,one\n');
    expect(JSON.parse(bucket.text(`${PROD}state_counts.json`))).toMatchObject({ tag: 'one' });
    expect(parseWatermark(bucket.objects.get(`${PROD}state_counts.csv`)!.metadata.watermark)).toEqual(W1);
    expect(bucket.objects.get(`${PROD}state_counts.csv`)!.contentType).toBe('text/csv; charset=utf-8');
    // A server-side copy of exactly the version whose watermark was compared, created only if absent.
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      Key: `${PROD}state_counts.csv`, CopySourceIfMatch: bucket.objects.get(`${RES}state_counts.csv`)!.etag, MetadataDirective: 'REPLACE', IfNoneMatch: '*',
    });
  });

  test('re-publishing the same computation is idempotent (no write)', async () => {
    results(W1, 'one');
    await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    s3Mock.resetHistory();
    const again = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(again).toMatchObject({ published: true, reason: 'published' });
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });

  test('a newer computation replaces the production copy (IfMatch on the old ETag)', async () => {
    results(W1, 'one');
    await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    const oldEtag = bucket.objects.get(`${PROD}state_counts.csv`)!.etag;
    results(W2, 'two');
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W2) }, deps());
    expect(out.published).toBe(true);
    expect(bucket.text(`${PROD}state_counts.csv`)).toContain('MI,two');
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, { Key: `${PROD}state_counts.csv`, IfMatch: oldEtag });
  });

  test('stale: an older computation never overwrites a newer production copy', async () => {
    putRaw(`${PROD}state_counts.csv`, 'newer csv', W2);
    putRaw(`${PROD}state_counts.json`, 'newer json', W2);
    results(W1, 'old');
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out).toEqual({ published: false, reason: 'stale', keys: [] });
    expect(bucket.text(`${PROD}state_counts.csv`)).toBe('newer csv');
    expect(bucket.text(`${PROD}state_counts.json`)).toBe('newer json');
    expect(s3Mock).toHaveReceivedCommandTimes(CopyObjectCommand, 0);
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });

  test('publishes what the results path holds now: a newer computation that replaced it wins', async () => {
    results(W2, 'two'); // Stage 3 of a later execution already replaced the results
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out.published).toBe(true);
    expect(parseWatermark(bucket.objects.get(`${PROD}state_counts.json`)!.metadata.watermark)).toEqual(W2);
  });

  test('without resultKeys it publishes the snapshot\'s results folder', async () => {
    results(W1, 'one');
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1, { resultKeys: undefined }) }, deps());
    expect(out.keys).toEqual([`${PROD}state_counts.csv`, `${PROD}state_counts.json`]);
  });

  test('a 412 race at the production path re-reads and retries', async () => {
    results(W1, 'one');
    bucket.before.copy.push(() => {
      // Someone publishes an older computation in between: ours must still win.
      putRaw(`${PROD}state_counts.csv`, 'older', { submittedAt: '2025-08-10T11:00:00Z', queryExecutionId: 'q-0000' });
      throw awsError('PreconditionFailed', 412);
    });
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out.published).toBe(true);
    expect(bucket.text(`${PROD}state_counts.csv`)).toContain('MI,one');
  });

  test('a 412 race lost to a newer computation ends stale', async () => {
    results(W1, 'one');
    bucket.before.copy.push(() => {
      putRaw(`${PROD}state_counts.csv`, 'newer', W2);
      throw awsError('PreconditionFailed', 412);
    });
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out.published).toBe(false);
    expect(out.reason).toBe('stale');
    // The newer computation owns the unit: our JSON is not written beside its CSV.
    expect(out.keys).toEqual([]);
    expect(bucket.text(`${PROD}state_counts.csv`)).toBe('newer');
    expect(bucket.objects.has(`${PROD}state_counts.json`)).toBe(false);
  });

  test('a results object that changed between HeadObject and CopyObject is a TransientError', async () => {
    results(W1, 'one');
    bucket.before.copy.push(() => results(W2, 'two'));
    await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps())).rejects.toMatchObject({ name: 'TransientError' });
  });

  test('a missing results object is InvalidEventError (permanent)', async () => {
    putRaw(`${RES}state_counts.csv`, 'x', W1);
    await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps()))
      .rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringContaining('state_counts.json') });
  });

  test('a results object without a watermark is InvalidEventError', async () => {
    putRaw(`${RES}state_counts.csv`, 'x');
    putRaw(`${RES}state_counts.json`, 'x');
    await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps())).rejects.toMatchObject({ name: 'InvalidEventError' });
  });

  test('access denied is permanent and passed through; throttling is a TransientError', async () => {
    results(W1, 'one');
    bucket.before.head.push(() => {
      throw awsError('AccessDenied', 403);
    });
    await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps())).rejects.toMatchObject({ name: 'AccessDenied' });
    bucket.before.get.push(() => {
      throw awsError('AccessDenied', 403);
    });
    await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps())).rejects.toMatchObject({ name: 'AccessDenied' });
    bucket.before.head.push(() => {
      throw awsError('SlowDown', 503);
    });
    await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps())).rejects.toMatchObject({ name: 'TransientError' });
  });

  test('keys outside the snapshot\'s results folder are refused', async () => {
    for (const key of ['validated/snapshot_date=2025-08-10/x.jsonl', `${RES}../../../production/x`, `${RES}sub/x.csv`, 'results/state_counts/snapshot_date=2025-08-11/state_counts.csv']) {
      await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1, { resultKeys: [key] }) }, deps()))
        .rejects.toMatchObject({ name: 'InvalidEventError' });
    }
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });
});

describe('publish-results input', () => {
  const good = { bucket: BUCKET, snapshotDate: D, results: status(W1) };

  test('accepts {bucket, snapshotDate, results: QueryStatus}', () => {
    expect(parsePublishInput(good, config)).toEqual(good);
  });

  test.each([
    ['not an object', 'x'],
    ['no bucket', { ...good, bucket: undefined }],
    ['another bucket', { ...good, bucket: 'other' }],
    ['a bad snapshot date', { ...good, snapshotDate: '2025-02-30' }],
    ['no results', { ...good, results: undefined }],
    ['an extract status', { ...good, results: status(W1, { query: 'facility_extract' }) }],
    ['an unfinished query', { ...good, results: status(W1, { done: false, state: 'RUNNING' }) }],
    ['results of another snapshot', { ...good, results: status(W1, { snapshotDate: '2025-08-11' }) }],
    ['resultKeys that are not strings', { ...good, results: { ...status(W1), resultKeys: [1] } }],
  ])('%s is InvalidEventError', (_what, event) => {
    expect(() => parsePublishInput(event, config)).toThrow(expect.objectContaining({ name: 'InvalidEventError' }));
  });
});

describe('publish-results handler', () => {
  let handler: (event: unknown, ctx: unknown) => Promise<any>;
  const context = { getRemainingTimeInMillis: () => 60_000, functionName: 'publish-results', awsRequestId: 'r1' };

  beforeAll(() => {
    Object.assign(process.env, ENV, { POWERTOOLS_LOG_LEVEL: 'SILENT' });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require('../../lambda-src/handlers/publish-results').handler;
  });

  test('publishes and reports the keys', async () => {
    results(W1, 'one');
    await expect(handler({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, context))
      .resolves.toEqual({ published: true, reason: 'published', keys: [`${PROD}state_counts.csv`, `${PROD}state_counts.json`], manifest: `${PROD}manifest.json` });
  });

  test('rejects a malformed payload', async () => {
    await expect(handler({ snapshotDate: D }, context)).rejects.toMatchObject({ name: 'InvalidEventError' });
  });
});
