import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { QueryStatus } from '../../lambda-src/athena/types';
import { loadConfig } from '../../lambda-src/lib/config';
import { Watermark, formatWatermark, parseWatermark } from '../../lambda-src/lib/watermark';
import { parsePublishInput, publishResults } from '../../lambda-src/publish';

const BUCKET = 'medlaunch-data';
const ENV = { DATA_BUCKET: BUCKET };
const config = loadConfig(ENV);
const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });
const noSleep = async (): Promise<void> => undefined;

const D = '2025-08-10';
const RES = `results/state_counts/snapshot_date=${D}/`;
const PROD = `production/state_counts/snapshot_date=${D}/`;
const W1: Watermark = { submittedAt: '2025-08-10T12:00:01.000Z', queryExecutionId: 'q-0001' };
const W2: Watermark = { submittedAt: '2025-08-10T12:05:00.000Z', queryExecutionId: 'q-0002' };

function awsError(name: string, httpStatus: number): Error {
  return Object.assign(new Error(`${name} (${httpStatus})`), { name, $fault: httpStatus >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: httpStatus } });
}

interface Stored { body: Buffer; etag: string; metadata: Record<string, string>; contentType?: string }
let store: Map<string, Stored>;
let beforeGet: Array<() => void>;
let beforePut: Array<() => void>;
let beforeHead: Array<(key: string) => void>;

async function bytes(body: unknown): Promise<Buffer> {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const c of body as Readable) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}
const etagOf = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`;
function putRaw(key: string, body: string, watermark?: Watermark, contentType?: string): void {
  const b = Buffer.from(body);
  store.set(key, { body: b, etag: etagOf(b), metadata: watermark ? { watermark: formatWatermark(watermark) } : {}, contentType });
}
const text = (key: string): string => store.get(key)!.body.toString();

function results(w: Watermark, tag: string): void {
  putRaw(`${RES}state_counts.csv`, `state,accredited_facilities\nMI,${tag}\n`, w, 'text/csv; charset=utf-8');
  putRaw(`${RES}state_counts.json`, JSON.stringify({ tag }), w, 'application/json');
}

function status(w: Watermark, over: Partial<QueryStatus> = {}): QueryStatus {
  return {
    query: 'state_counts',
    bucket: BUCKET,
    snapshotDate: D,
    asOf: D,
    queryExecutionId: w.queryExecutionId,
    submittedAt: w.submittedAt,
    state: 'SUCCEEDED',
    done: true,
    rows: 1,
    resultKeys: [`${RES}state_counts.csv`, `${RES}state_counts.json`],
    ...over,
  };
}

beforeEach(() => {
  s3Mock.reset();
  store = new Map();
  beforeGet = [];
  beforePut = [];
  beforeHead = [];
  s3Mock.on(HeadObjectCommand).callsFake(async (i) => {
    beforeHead.shift()?.(i.Key!);
    const o = store.get(i.Key!);
    if (!o) throw awsError('NotFound', 404);
    return { ETag: o.etag, Metadata: o.metadata, ContentLength: o.body.length, ContentType: o.contentType };
  });
  s3Mock.on(GetObjectCommand).callsFake(async (i) => {
    beforeGet.shift()?.();
    const o = store.get(i.Key!);
    if (!o) throw awsError('NoSuchKey', 404);
    if (i.IfMatch && i.IfMatch !== o.etag) throw awsError('PreconditionFailed', 412);
    return { Body: Readable.from([o.body]), ETag: o.etag, Metadata: o.metadata, ContentLength: o.body.length, ContentType: o.contentType };
  });
  s3Mock.on(PutObjectCommand).callsFake(async (i) => {
    beforePut.shift()?.();
    const cur = store.get(i.Key!);
    if (i.IfNoneMatch === '*' && cur) throw awsError('PreconditionFailed', 412);
    if (i.IfMatch !== undefined && (!cur || cur.etag !== i.IfMatch)) throw awsError('PreconditionFailed', 412);
    const b = await bytes(i.Body);
    store.set(i.Key!, { body: b, etag: etagOf(b), metadata: { ...(i.Metadata ?? {}) }, contentType: i.ContentType });
    return { ETag: etagOf(b) };
  });
});

const deps = () => ({ s3, config, sleep: noSleep });

describe('publishResults', () => {
  test('copies the results to the production path with their watermark and content type', async () => {
    results(W1, 'one');
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out).toEqual({ published: true, reason: 'published', keys: [`${PROD}state_counts.csv`, `${PROD}state_counts.json`] });
    expect(text(`${PROD}state_counts.csv`)).toBe('state,accredited_facilities\nMI,one\n');
    expect(JSON.parse(text(`${PROD}state_counts.json`))).toEqual({ tag: 'one' });
    expect(parseWatermark(store.get(`${PROD}state_counts.csv`)!.metadata.watermark)).toEqual(W1);
    expect(store.get(`${PROD}state_counts.csv`)!.contentType).toBe('text/csv; charset=utf-8');
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { IfNoneMatch: '*', ContentLength: store.get(`${PROD}state_counts.csv`)!.body.length });
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, { IfMatch: store.get(`${RES}state_counts.csv`)!.etag });
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
    const oldEtag = store.get(`${PROD}state_counts.csv`)!.etag;
    results(W2, 'two');
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W2) }, deps());
    expect(out.published).toBe(true);
    expect(text(`${PROD}state_counts.csv`)).toContain('MI,two');
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { IfMatch: oldEtag });
  });

  test('stale: an older computation never overwrites a newer production copy', async () => {
    putRaw(`${PROD}state_counts.csv`, 'newer csv', W2);
    putRaw(`${PROD}state_counts.json`, 'newer json', W2);
    results(W1, 'old');
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out).toEqual({ published: false, reason: 'stale', keys: [] });
    expect(text(`${PROD}state_counts.csv`)).toBe('newer csv');
    expect(text(`${PROD}state_counts.json`)).toBe('newer json');
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 0);
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  });

  test('publishes what the results path holds now: a newer computation that replaced it wins', async () => {
    results(W2, 'two'); // Stage 3 of a later execution already replaced the results
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out.published).toBe(true);
    expect(parseWatermark(store.get(`${PROD}state_counts.json`)!.metadata.watermark)).toEqual(W2);
  });

  test('without resultKeys it publishes the snapshot\'s results folder', async () => {
    results(W1, 'one');
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1, { resultKeys: undefined }) }, deps());
    expect(out.keys).toEqual([`${PROD}state_counts.csv`, `${PROD}state_counts.json`]);
  });

  test('a 412 race at the production path re-reads and retries', async () => {
    results(W1, 'one');
    beforePut.push(() => {
      // Someone publishes an older computation in between: ours must still win.
      putRaw(`${PROD}state_counts.csv`, 'older', { submittedAt: '2025-08-10T11:00:00Z', queryExecutionId: 'q-0000' });
      throw awsError('PreconditionFailed', 412);
    });
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out.published).toBe(true);
    expect(text(`${PROD}state_counts.csv`)).toContain('MI,one');
  });

  test('a 412 race lost to a newer computation ends stale', async () => {
    results(W1, 'one');
    beforePut.push(() => {
      putRaw(`${PROD}state_counts.csv`, 'newer', W2);
      throw awsError('PreconditionFailed', 412);
    });
    const out = await publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps());
    expect(out.published).toBe(false);
    expect(out.reason).toBe('stale');
    // The newer computation owns the unit: our JSON is not written beside its CSV.
    expect(out.keys).toEqual([]);
    expect(text(`${PROD}state_counts.csv`)).toBe('newer');
    expect(store.has(`${PROD}state_counts.json`)).toBe(false);
  });

  test('a results object that changed between HeadObject and GetObject is a TransientError', async () => {
    results(W1, 'one');
    beforeGet.push(() => results(W2, 'two'));
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
    beforeHead.push(() => {
      throw awsError('AccessDenied', 403);
    });
    await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps())).rejects.toMatchObject({ name: 'AccessDenied' });
    beforeGet.push(() => {
      throw awsError('AccessDenied', 403);
    });
    await expect(publishResults({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, deps())).rejects.toMatchObject({ name: 'AccessDenied' });
    beforeHead.push(() => {
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
      .resolves.toEqual({ published: true, reason: 'published', keys: [`${PROD}state_counts.csv`, `${PROD}state_counts.json`] });
  });

  test('rejects a malformed payload', async () => {
    await expect(handler({ snapshotDate: D }, context)).rejects.toMatchObject({ name: 'InvalidEventError' });
  });
});
