/**
 * The run report (docs/operability.md, "The run report"), against the embedded S3: the publisher aggregates the
 * snapshot's file summaries, the state counts it published and the payload's queries and executions, and writes
 * `<REPORTS_PREFIX>snapshot_date=<d>/report.json` with compare-and-swap on the computation's watermark.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NO_LOGGER } from '../../lambda-src/athena/client';
import type { QueryStatus } from '../../lambda-src/athena/types';
import { STATE_COUNTS_CSV, STATE_COUNTS_JSON, stateCountsCsv, type StateCountsDocument } from '../../lambda-src/count';
import { loadConfig, type PipelineConfig } from '../../lambda-src/lib/config';
import { formatWatermark, putIfNewer, type Watermark } from '../../lambda-src/lib/watermark';
import { parsePublishInput, publishComputation, type PublishInput } from '../../lambda-src/publish';
import { buildRunReport, publishLagSeconds, readFileSummaries, reportKey, writeRunReport } from '../../lambda-src/publish/report';
import { removeDeletedObjectOutputs } from '../../lambda-src/validate/delete';
import { handleValidatorEvent } from '../../lambda-src/validate/dispatch';
import type { FileSummary, RunReport } from '../../src/contract/observability';
import { record } from '../support/facility-record';
import { useLocalS3 } from '../support/local-s3';
import { stateCountsStatus } from '../support/query-status';

const BUCKET = 'reports';
// The last day of a month: the window's end is clamped to the end of February (the calendar-month rule).
const D = '2025-08-31';
const W1: Watermark = { submittedAt: '2025-08-31T12:00:01.000Z', queryExecutionId: 'q-0001' };
const W2: Watermark = { submittedAt: '2025-08-31T12:05:00.000Z', queryExecutionId: 'q-0002' };
const ARN = (n: string) => `arn:aws:states:us-east-1:123456789012:execution:Pipeline:${n}`;
const quiet = NO_LOGGER;

const { newClient, emptyBucket } = useLocalS3(BUCKET, 'run-report');
let c: S3Client;
const config: PipelineConfig = loadConfig({ DATA_BUCKET: BUCKET, PIPELINE_NAME: 'accreditation-prod', REPORTS_PREFIX: 'ops/reports/' });

beforeEach(async () => {
  await emptyBucket();
  c = newClient();
});

async function json<T>(key: string): Promise<T> {
  return JSON.parse(await (await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString()) as T;
}

/** Uploads a raw file and runs Stage 2 on it as the given execution. */
async function validated(name: string, lines: string[], execution: string): Promise<Date> {
  const key = `data/batch/${D}/${name}.jsonl`;
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: lines.join('\n') + '\n' }));
  await handleValidatorEvent({ bucket: BUCKET, key, run: { executionArn: ARN(execution), startedAt: '2025-08-31T10:00:00.000Z' } },
    { s3: c, config, logger: quiet });
  return (await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).LastModified!;
}

/** Stores a state counts computation the way the state counts query does (CSV, then JSON, each with its watermark). */
async function stateCounts(w: Watermark, rows: Array<[string, number]>): Promise<void> {
  const folder = `results/state_counts/snapshot_date=${D}/`;
  const counts = rows.map(([state, n]) => ({ state, accredited_facilities: n }));
  const doc: StateCountsDocument = {
    snapshot_date: D, as_of: D, watermark: { submitted_at: w.submittedAt, query_execution_id: w.queryExecutionId }, state_counts: counts,
  };
  await putIfNewer(c, { bucket: BUCKET, key: folder + STATE_COUNTS_CSV, body: stateCountsCsv(counts), contentType: 'text/csv', watermark: w });
  await putIfNewer(c, { bucket: BUCKET, key: folder + STATE_COUNTS_JSON, body: JSON.stringify(doc), contentType: 'application/json', watermark: w });
}

const status = (w: Watermark, over: Partial<QueryStatus> = {}): QueryStatus => stateCountsStatus(w, { bucket: BUCKET, snapshotDate: D }, over);

const EXTRACT: QueryStatus = {
  query: 'facility_extract',
  bucket: BUCKET,
  snapshotDate: D,
  queryExecutionId: 'x-1',
  submittedAt: '2025-08-31T11:59:00.000Z',
  state: 'SUCCEEDED',
  done: true,
  bytesScanned: 2048,
  engineTimeMs: 1500,
  completedAt: '2025-08-31T11:59:02.000Z',
};

async function publish(input: PublishInput) {
  const published = await publishComputation(input, { s3: c, config, logger: quiet });
  return { published, report: await writeRunReport(input, published, { s3: c, config, logger: quiet }) };
}

test('aggregates the file summaries, the published counts, the queries and the executions', async () => {
  const createdA = await validated('a', [
    JSON.stringify(record('FAC1', D, ['2025-09-15'])), JSON.stringify(record('FAC2', D, ['2027-01-01'])), '{bad', '',
  ], 'run-a');
  const createdB = await validated('b', [
    JSON.stringify(record('FAC3', D, ['2026-02-28'])), JSON.stringify(record('FAC3', D, ['2026-02-28'])),
    JSON.stringify(record('FAC4', D, ['2025-09-01'], { employee_count: -1 })), 'x',
  ], 'run-b');
  await stateCounts(W1, [['MI', 2], ['OH', 1]]);
  const input = parsePublishInput({
    bucket: BUCKET, snapshotDate: D, results: status(W1), extract: EXTRACT, run: { executionArn: ARN('run-b'), startedAt: '2025-08-31T10:00:00.000Z' },
  }, config);
  const { published, report: outcome } = await publish(input);
  expect(published.result.published).toBe(true);
  expect(outcome).toMatchObject({ key: `ops/reports/snapshot_date=${D}/report.json`, outcome: 'written' });

  const report = await json<RunReport>(outcome.key);
  const prod = await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `production/state_counts/snapshot_date=${D}/state_counts.json` }));
  const publishedAt = prod.LastModified!.toISOString();
  const newest = Math.max(createdA.getTime(), createdB.getTime());
  expect(report).toMatchObject({
    schemaVersion: 1,
    pipeline: 'accreditation-prod',
    snapshotDate: D,
    asOf: D,
    expiryMonths: 6,
    window: { from: '2025-08-31', to: '2026-02-28' },
    totals: { files: 2, read: 7, valid: 4, quarantined: 3, duplicates: 1, blankLines: 1, expiring: 2, quarantineRate: 3 / 7 },
    reasons: { invalid_json: 2, negative_value: 1 },
    stateCounts: [{ state: 'MI', accreditedFacilities: 2 }, { state: 'OH', accreditedFacilities: 1 }],
    queries: [
      { query: 'facility_extract', queryExecutionId: 'x-1', bytesScanned: 2048, engineTimeMs: 1500, completedAt: EXTRACT.completedAt, state: 'SUCCEEDED' },
      { query: 'state_counts', queryExecutionId: 'q-0001', submittedAt: W1.submittedAt, state: 'SUCCEEDED' },
    ],
    executions: [
      { executionArn: ARN('run-a'), key: `data/batch/${D}/a.jsonl`, role: 'validated' },
      { executionArn: ARN('run-b'), key: `data/batch/${D}/b.jsonl`, role: 'validated' },
      { executionArn: ARN('run-b'), startedAt: '2025-08-31T10:00:00.000Z', role: 'published' },
    ],
    publish: {
      publishedAt,
      lagSeconds: (Date.parse(publishedAt) - newest) / 1000,
      productionKeys: [`production/state_counts/snapshot_date=${D}/state_counts.csv`, `production/state_counts/snapshot_date=${D}/state_counts.json`],
    },
  });
  expect(report.files.map((f) => [f.key, f.read, f.executionArn])).toEqual([
    [`data/batch/${D}/a.jsonl`, 3, ARN('run-a')], [`data/batch/${D}/b.jsonl`, 4, ARN('run-b')],
  ]);
  expect((await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: outcome.key }))).Metadata?.watermark).toBe(formatWatermark(W1));
});

test('an older state machine\'s payload (no extract, no run) still publishes and reports; a deleted file is not in it', async () => {
  await validated('a', [JSON.stringify(record('FAC1', D, ['2025-09-15']))], 'run-a');
  await validated('gone', [JSON.stringify(record('FAC2', D, ['2025-09-15']))], 'run-g');
  const gone = `data/batch/${D}/gone.jsonl`;
  await c.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: gone }));
  await removeDeletedObjectOutputs({ client: c, bucket: BUCKET, key: gone, rawPrefix: config.rawPrefix, prefixes: { validated: 'validated/', expiring: 'expiring/', quarantine: 'quarantine/' }, months: 6 });
  await stateCounts(W1, [['MI', 1]]);
  const { report: outcome } = await publish(parsePublishInput({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, config));
  const report = await json<RunReport>(outcome.key);
  expect(report.files.map((f) => f.key)).toEqual([`data/batch/${D}/a.jsonl`]);
  expect(report.queries).toEqual([{ query: 'state_counts', queryExecutionId: 'q-0001', submittedAt: W1.submittedAt, state: 'SUCCEEDED' }]);
  expect(report.executions).toEqual([{ executionArn: ARN('run-a'), key: `data/batch/${D}/a.jsonl`, role: 'validated' }]);
});

test('a stale report never replaces a newer one', async () => {
  await validated('a', [JSON.stringify(record('FAC1', D, ['2025-09-15']))], 'run-a');
  await stateCounts(W1, [['MI', 1]]);
  const first = parsePublishInput({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, config);
  const older = await publishComputation(first, { s3: c, config });
  // A newer computation is published, with its report, before the older execution writes its report.
  await stateCounts(W2, [['MI', 7]]);
  const { report: newer } = await publish(parsePublishInput({ bucket: BUCKET, snapshotDate: D, results: status(W2) }, config));
  expect(newer.outcome).toBe('written');
  expect(await writeRunReport(first, older, { s3: c, config })).toMatchObject({ outcome: 'stale' });
  const report = await json<RunReport>(newer.key);
  expect(report.stateCounts).toEqual([{ state: 'MI', accreditedFacilities: 7 }]);
  expect(report.queries[0]).toMatchObject({ queryExecutionId: 'q-0002' });
});

test('a report of a newer computation already stored is kept when the production copy still holds the older one', async () => {
  await stateCounts(W1, [['MI', 1]]);
  const input = parsePublishInput({ bucket: BUCKET, snapshotDate: D, results: status(W1) }, config);
  const published = await publishComputation(input, { s3: c, config });
  const key = reportKey(config, D, D);
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{"newer":true}', Metadata: { watermark: formatWatermark(W2) } }));
  expect(await writeRunReport(input, published, { s3: c, config })).toMatchObject({ outcome: 'stale' });
  expect(await json(key)).toEqual({ newer: true });
});

test('a non-default as-of date reports under as_of=<a>/, next to its results', () => {
  expect(reportKey(config, D, D)).toBe(`ops/reports/snapshot_date=${D}/report.json`);
  expect(reportKey(config, D, '2025-12-31')).toBe(`ops/reports/snapshot_date=${D}/as_of=2025-12-31/report.json`);
  expect(reportKey({ ...config, asOfDate: '2025-12-31' }, D, '2025-12-31')).toBe(`ops/reports/snapshot_date=${D}/report.json`);
});

test('REPORTS_PREFIX and PIPELINE_NAME are validated; the defaults come from the contract', () => {
  const defaults = loadConfig({ DATA_BUCKET: BUCKET });
  expect(defaults).toMatchObject({ reportsPrefix: 'reports/', pipelineName: 'medlaunch-elt' });
  expect(() => loadConfig({ DATA_BUCKET: BUCKET, REPORTS_PREFIX: 'reports' })).toThrow("REPORTS_PREFIX must be a non-empty S3 prefix ending in '/'");
  expect(() => loadConfig({ DATA_BUCKET: BUCKET, REPORTS_PREFIX: '/reports/' })).toThrow('REPORTS_PREFIX');
  expect(() => loadConfig({ DATA_BUCKET: BUCKET, PIPELINE_NAME: '  ' })).toThrow('PIPELINE_NAME must be 1 to 1024 characters');
});

test('the payload\'s extract and run are optional but checked when present', () => {
  const base = { bucket: BUCKET, snapshotDate: D, results: status(W1) };
  expect(() => parsePublishInput({ ...base, extract: { query: 'state_counts' } }, config)).toThrow('extract must be');
  expect(() => parsePublishInput({ ...base, run: { executionArn: 7 } }, config)).toThrow('run must be');
});

test('lag and rate edge cases: no creation time → no lag; nothing read → rate 0', () => {
  const f = (over: Partial<FileSummary>): FileSummary => ({
    schemaVersion: 1,
    key: 'k',
    snapshotDate: D,
    asOf: D,
    read: 0,
    valid: 0,
    quarantined: 0,
    duplicates: 0,
    blankLines: 0,
    expiring: 0,
    reasons: {},
    validatedAt: '2025-08-31T10:00:00.000Z',
    ...over,
  });
  expect(publishLagSeconds('2025-08-31T10:00:00.000Z', [f({})])).toBeUndefined();
  expect(publishLagSeconds('2025-08-31T10:01:00.500Z', [f({ objectCreatedAt: '2025-08-31T10:00:00.000Z' }), f({ objectCreatedAt: '2025-08-31T09:00:00.000Z' })]))
    .toBe(60.5);
  const r = buildRunReport({
    pipeline: 'p',
    input: { bucket: BUCKET, snapshotDate: D, results: status(W1) },
    asOf: D,
    expiryMonths: 1,
    files: [f({})],
    stateCounts: [],
    publishedAt: '2025-08-31T10:00:00.000Z',
    productionKeys: [],
    generatedAt: '2025-08-31T10:00:01.000Z',
  });
  expect(r.totals.quarantineRate).toBe(0);
  expect(r.window).toEqual({ from: D, to: '2025-09-30' });
  expect(r.publish).not.toHaveProperty('lagSeconds');
});

test('summaries are read with bounded concurrency, whatever their number', async () => {
  const folder = `validated/_summaries/snapshot_date=${D}/`;
  for (let i = 0; i < 30; i++) {
    const s: FileSummary = {
      schemaVersion: 1,
      key: `data/batch/${D}/f${String(i).padStart(2, '0')}.jsonl`,
      snapshotDate: D,
      asOf: D,
      read: 1,
      valid: 1,
      quarantined: 0,
      duplicates: 0,
      blankLines: 0,
      expiring: 0,
      reasons: {},
      validatedAt: '2025-08-31T10:00:00.000Z',
    };
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${folder}f${i}.json`, Body: JSON.stringify(s) }));
  }
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${folder}broken.json`, Body: '{not json' }));
  let inFlight = 0;
  let peak = 0;
  c.middlewareStack.add((next, ctx) => async (args) => {
    if (ctx.commandName !== 'GetObjectCommand') return next(args);
    peak = Math.max(peak, ++inFlight);
    try {
      return await next(args);
    } finally {
      inFlight--;
    }
  }, { step: 'initialize', name: 'countReads' });
  const files = await readFileSummaries({ s3: c, config, logger: quiet }, BUCKET, D);
  expect(files).toHaveLength(30);
  expect(files[0].key < files[29].key).toBe(true);
  expect(peak).toBeGreaterThan(1);
  expect(peak).toBeLessThanOrEqual(8);
});
