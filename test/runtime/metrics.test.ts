/**
 * The pipeline's metrics (docs/operability.md, "Metrics"): the embedded-metric-format lines Powertools writes to
 * stdout, captured and checked for names, units, dimensions and values. The validator and publisher run as their
 * real handlers against the embedded S3 (through AWS_ENDPOINT_URL_S3, as in local mode).
 */
import type { QueryExecution } from '@aws-sdk/client-athena';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { queryMetrics } from '../../lambda-src/athena/metrics';
import { statisticsOf } from '../../lambda-src/athena/query-runner';
import type { QueryStatus } from '../../lambda-src/athena/types';
import { STATE_COUNTS_CSV, STATE_COUNTS_JSON, stateCountsCsv } from '../../lambda-src/count';
import { QueryFailedError, TransientError } from '../../lambda-src/lib/errors';
import { lambdaHandler } from '../../lambda-src/lib/handler-runtime';
import { putIfNewer, type Watermark } from '../../lambda-src/lib/watermark';
import { METRICS } from '../../src/contract/observability';
import { record } from '../support/facility-record';
import { useLocalS3 } from '../support/local-s3';

type Handler = (event: unknown) => Promise<unknown>;
interface CloudWatchMetrics {
  readonly Namespace: string;
  readonly Dimensions: string[][];
  readonly Metrics: Array<{ Name: string; Unit: string }>;
}
type Emf = Record<string, unknown> & { _aws: { CloudWatchMetrics: CloudWatchMetrics[] } };
type MetricLine = [name: string, unit: string, dimensions: string[], value: unknown, dimensionValues: Record<string, unknown>];

const BUCKET = 'metrics';
const D = '2025-08-10';
const ENV = { ...process.env };
const { server, newClient } = useLocalS3(BUCKET, 'metrics');
let validator: Handler;
let publisher: Handler;
let c: S3Client;

beforeAll(() => {
  process.env = {
    ...ENV,
    DATA_BUCKET: BUCKET,
    PIPELINE_NAME: 'pipe-a',
    AWS_ENDPOINT_URL_S3: server().endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
  };
  for (const v of ['POWERTOOLS_DEV', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_METRICS_DISABLED', 'POWERTOOLS_SERVICE_NAME', 'AWS_PROFILE']) delete process.env[v];
  // The handlers create their clients at module scope: load them once the environment names the embedded S3.
  validator = jest.requireActual<{ handler: Handler }>('../../lambda-src/handlers/validator').handler;
  publisher = jest.requireActual<{ handler: Handler }>('../../lambda-src/handlers/publish-results').handler;
  c = newClient();
});
afterAll(() => {
  process.env = ENV;
});

/** The EMF blobs written to stdout while `fn` runs, and what `fn` returned or threw. */
async function emf(fn: () => Promise<unknown>): Promise<{ blobs: Emf[]; result?: unknown; error?: unknown }> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  let result: unknown;
  let error: unknown;
  try {
    result = await fn();
  } catch (err) {
    error = err;
  } finally {
    spy.mockRestore();
  }
  const blobs = lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Emf);
  return { blobs, result, error };
}

/** name → [unit, dimension names, value] of every metric of the blobs. */
function metricsOf(blobs: Emf[]): MetricLine[] {
  return blobs.flatMap((b) => b._aws.CloudWatchMetrics.flatMap((cw) => cw.Metrics.map((m) => {
    const dims = cw.Dimensions.flat();
    return [m.Name, m.Unit, dims, b[m.Name], Object.fromEntries(dims.map((d) => [d, b[d]]))] as MetricLine;
  })));
}

async function upload(key: string, lines: string[]): Promise<string> {
  return (await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: lines.join('\n') + '\n' }))).ETag!;
}

describe('validator', () => {
  test('one blob of the Stage 2 metrics per processed object (Pipeline only), one QuarantinedByReason blob per reason code', async () => {
    const key = `data/batch/${D}/a.jsonl`;
    await upload(key, [
      JSON.stringify(record('FAC1', D, ['2025-09-01'])), JSON.stringify(record('FAC1', D, ['2025-09-01'])),
      JSON.stringify(record('FAC2', D, ['2027-01-01'])), '', '{bad', 'nope', JSON.stringify(record('FAC3', D, ['2025-09-01'], { employee_count: -1 })),
    ]);
    const { blobs, error } = await emf(() => validator({ bucket: BUCKET, key }));
    expect(error).toBeUndefined();
    for (const b of blobs) {
      expect(b._aws.CloudWatchMetrics[0].Namespace).toBe('MedlaunchElt');
      expect(b).not.toHaveProperty('service');
    }
    expect(metricsOf(blobs).sort()).toEqual([
      ['BlankLines', 'Count', ['Pipeline'], 1, { Pipeline: 'pipe-a' }],
      ['DuplicateRecords', 'Count', ['Pipeline'], 1, { Pipeline: 'pipe-a' }],
      ['ExpiringFacilities', 'Count', ['Pipeline'], 1, { Pipeline: 'pipe-a' }],
      ['FilesProcessed', 'Count', ['Pipeline'], 1, { Pipeline: 'pipe-a' }],
      ['QuarantinedByReason', 'Count', ['Pipeline', 'Reason'], 1, { Pipeline: 'pipe-a', Reason: 'negative_value' }],
      ['QuarantinedByReason', 'Count', ['Pipeline', 'Reason'], 2, { Pipeline: 'pipe-a', Reason: 'invalid_json' }],
      ['RecordsQuarantined', 'Count', ['Pipeline'], 3, { Pipeline: 'pipe-a' }],
      ['RecordsRead', 'Count', ['Pipeline'], 6, { Pipeline: 'pipe-a' }],
      ['RecordsValid', 'Count', ['Pipeline'], 3, { Pipeline: 'pipe-a' }],
    ].sort());
    // Every QuarantinedByReason blob is its own (single-metric) blob.
    expect(blobs.filter((b) => 'QuarantinedByReason' in b).every((b) => b._aws.CloudWatchMetrics[0].Metrics.length === 1)).toBe(true);
  });

  test('a superseded run and a delete emit nothing', async () => {
    const key = `data/batch/${D}/b.jsonl`;
    const old = await upload(key, [JSON.stringify(record('FAC1', D, ['2025-09-01']))]);
    await upload(key, [JSON.stringify(record('FAC1', D, ['2025-09-02']))]);
    const superseded = await emf(() => validator({ 'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': { bucket: { name: BUCKET }, object: { key, etag: old } } }));
    expect(superseded.result).toMatchObject({ superseded: true });
    expect(superseded.blobs).toEqual([]);
    const deleted = await emf(() => validator({ 'source': 'aws.s3', 'detail-type': 'Object Deleted', 'detail': { bucket: { name: BUCKET }, object: { key: `data/batch/${D}/none.jsonl` } } }));
    expect(deleted.error).toBeUndefined();
    expect(deleted.blobs).toEqual([]);
  });
});

describe('the handler template', () => {
  test('what an invocation added is flushed when it fails too; the namespace comes from POWERTOOLS_METRICS_NAMESPACE', async () => {
    process.env.POWERTOOLS_METRICS_NAMESPACE = 'Custom/Ns';
    try {
      const h = lambdaHandler('validator', async (_e, { metrics }) => {
        metrics.add(METRICS.filesProcessed, 1);
        throw new Error('boom');
      });
      const { blobs, error } = await emf(() => h({}));
      expect((error as Error).message).toBe('boom');
      expect(metricsOf(blobs)).toEqual([['FilesProcessed', 'Count', ['Pipeline'], 1, { Pipeline: 'pipe-a' }]]);
      expect(blobs[0]._aws.CloudWatchMetrics[0].Namespace).toBe('Custom/Ns');
      // The next invocation starts empty: nothing is flushed twice, and an invocation without metrics writes nothing.
      expect((await emf(() => h({}))).blobs).toHaveLength(1);
      expect((await emf(() => lambdaHandler('validator', async () => 'ok')({}))).blobs).toEqual([]);
    } finally {
      delete process.env.POWERTOOLS_METRICS_NAMESPACE;
    }
  });
});

describe('query runner', () => {
  const succeeded: QueryStatus = {
    query: 'state_counts',
    bucket: BUCKET,
    snapshotDate: D,
    queryExecutionId: 'q-1',
    state: 'SUCCEEDED',
    done: true,
    bytesScanned: 4096,
    engineTimeMs: 1234,
    completedAt: '2025-08-10T12:00:03.000Z',
  };
  const call = (run: () => Promise<QueryStatus>) => emf(() => lambdaHandler('query-runner', (_e, { metrics }) => queryMetrics(metrics, 'state_counts', run))({}));

  test('a SUCCEEDED query: bytes scanned, engine time and one success, with the Query dimension', async () => {
    const { blobs } = await call(async () => succeeded);
    const q = { Pipeline: 'pipe-a', Query: 'state_counts' };
    expect(metricsOf(blobs)).toEqual([
      ['QueriesSucceeded', 'Count', ['Pipeline', 'Query'], 1, q],
      ['QueryBytesScanned', 'Bytes', ['Pipeline', 'Query'], 4096, q],
      ['QueryEngineTime', 'Milliseconds', ['Pipeline', 'Query'], 1234, q],
    ]);
  });

  test('a query still running or a transient failure emits nothing; a failure for good counts once', async () => {
    expect((await call(async () => ({ ...succeeded, state: 'RUNNING', done: false }))).blobs).toEqual([]);
    expect((await call(async () => { throw new TransientError('later'); })).blobs).toEqual([]);
    const failed = await call(async () => { throw new QueryFailedError('bad SQL'); });
    expect((failed.error as Error).name).toBe('QueryFailedError');
    expect(metricsOf(failed.blobs)).toEqual([['QueriesFailed', 'Count', ['Pipeline', 'Query'], 1, { Pipeline: 'pipe-a', Query: 'state_counts' }]]);
  });

  test('the statistics of a finished execution go into its QueryStatus', () => {
    const execution: QueryExecution = {
      Status: { State: 'SUCCEEDED', CompletionDateTime: new Date('2025-08-10T12:00:03Z') },
      Statistics: { DataScannedInBytes: 10, EngineExecutionTimeInMillis: 20 },
    };
    expect(statisticsOf(execution)).toEqual({ bytesScanned: 10, engineTimeMs: 20, completedAt: '2025-08-10T12:00:03.000Z' });
    expect(statisticsOf({ Status: { State: 'SUCCEEDED' } })).toEqual({});
  });
});

describe('publisher', () => {
  test('a production publish emits SnapshotsPublished and PublishLag (the report\'s lag); its retry emits nothing', async () => {
    const P = '2025-08-20';
    const key = `data/batch/${P}/a.jsonl`;
    await upload(key, [JSON.stringify(record('FAC1', P, ['2025-09-01']))]);
    await emf(() => validator({ bucket: BUCKET, key, run: { executionArn: 'arn:x', startedAt: '2025-08-20T00:00:00Z' } }));
    const created = (await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).LastModified!;
    const w: Watermark = { submittedAt: new Date().toISOString(), queryExecutionId: 'q-9' };
    const folder = `results/state_counts/snapshot_date=${P}/`;
    const rows = [{ state: 'MI', accredited_facilities: 1 }];
    await putIfNewer(c, { bucket: BUCKET, key: folder + STATE_COUNTS_CSV, body: stateCountsCsv(rows), contentType: 'text/csv', watermark: w });
    await putIfNewer(c, { bucket: BUCKET, key: folder + STATE_COUNTS_JSON, body: JSON.stringify({ state_counts: rows }), contentType: 'application/json', watermark: w });
    const payload = {
      bucket: BUCKET,
      snapshotDate: P,
      results: { query: 'state_counts', bucket: BUCKET, snapshotDate: P, queryExecutionId: 'q-9', submittedAt: w.submittedAt, state: 'SUCCEEDED', done: true },
    };
    const first = await emf(() => publisher(payload));
    expect(first.error).toBeUndefined();
    expect(first.result).toMatchObject({ published: true });
    const prod = (await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `production/state_counts/snapshot_date=${P}/state_counts.json` }))).LastModified!;
    expect(metricsOf(first.blobs)).toEqual([
      ['SnapshotsPublished', 'Count', ['Pipeline'], 1, { Pipeline: 'pipe-a' }],
      ['PublishLag', 'Seconds', ['Pipeline'], (prod.getTime() - created.getTime()) / 1000, { Pipeline: 'pipe-a' }],
    ]);
    const retry = await emf(() => publisher(payload));
    expect(retry.result).toMatchObject({ published: true });
    expect(retry.blobs).toEqual([]);
  });
});
