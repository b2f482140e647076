/**
 * The per-file summary Stage 2 leaves for every raw object (docs/operability.md, "The file summary"), against the
 * embedded S3: its fields, the source-version protection (an older version's run never replaces a newer version's
 * summary), and its removal with the other outputs when the raw object is deleted.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PREFIXES } from './validate-helpers';
import { NO_LOGGER } from '../../lambda-src/athena/client';
import { loadConfig } from '../../lambda-src/lib/config';
import { fileSummaryKey } from '../../lambda-src/lib/keys';
import { processS3Object } from '../../lambda-src/validate';
import { removeDeletedObjectOutputs } from '../../lambda-src/validate/delete';
import { handleValidatorEvent } from '../../lambda-src/validate/dispatch';
import type { FileSummary } from '../../src/contract/observability';
import { record } from '../support/facility-record';
import { useLocalS3 } from '../support/local-s3';

const BUCKET = 'summaries';
const D = '2025-08-10';
const KEY = `data/batch/${D}/part.jsonl`;
const SUMMARY = `validated/_summaries/snapshot_date=${D}/part.json`;
const ARN = 'arn:aws:states:us-east-1:123456789012:execution:Pipeline:run-1';
// Two facilities (one expiring within 6 months), a duplicate, a blank line, two bad JSON lines, one schema violation.
const V1 = [
  JSON.stringify(record('FAC1', D, ['2025-09-01'])),
  JSON.stringify(record('FAC2', D, ['2027-01-01'])),
  JSON.stringify(record('FAC1', D, ['2025-09-01'])),
  '',
  '{bad',
  'nope',
  JSON.stringify(record('FAC3', D, ['2025-09-01'], { employee_count: -1 })),
].join('\n') + '\n';
const V2 = `${JSON.stringify(record('FAC9', D, ['2025-10-01']))}\n`;

const { newClient, emptyBucket } = useLocalS3(BUCKET, 'file-summary');

async function summaryOf(c: S3Client): Promise<FileSummary | undefined> {
  try {
    const r = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: SUMMARY }));
    return JSON.parse(await r.Body!.transformToString()) as FileSummary;
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

async function upload(c: S3Client, body: string): Promise<string> {
  return (await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: body }))).ETag!;
}

const run = (c: S3Client, etag: string, sequencer: string) => processS3Object({
  client: c, bucket: BUCKET, key: KEY, etag, sequencer, rawPrefix: 'data/batch/', prefixes: PREFIXES, months: 6,
});

beforeEach(emptyBucket);

test('the summary key sits outside every table partition, under the validated prefix', () => {
  expect(fileSummaryKey('validated/', D, 'part')).toBe(SUMMARY);
});

test('a processed object leaves its counts, reasons, version, execution and creation time', async () => {
  const c = newClient();
  const etag = await upload(c, V1);
  const head = await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
  const config = loadConfig({ DATA_BUCKET: BUCKET });
  const before = Date.now();
  const result = await handleValidatorEvent(
    { bucket: BUCKET, key: KEY, run: { executionArn: ARN, startedAt: '2025-08-10T10:00:00.000Z' } },
    { s3: c, config, logger: NO_LOGGER },
  );
  expect(result).toMatchObject({ summaryKey: SUMMARY, reasons: { invalid_json: 2, negative_value: 1 } });
  const s = await summaryOf(c);
  expect(s).toEqual({
    schemaVersion: 1,
    key: KEY,
    etag,
    snapshotDate: D,
    asOf: D,
    read: 6,
    valid: 3,
    quarantined: 3,
    duplicates: 1,
    blankLines: 1,
    expiring: 1,
    reasons: { invalid_json: 2, negative_value: 1 },
    executionArn: ARN,
    objectCreatedAt: head.LastModified!.toISOString(),
    validatedAt: expect.any(String),
  });
  expect(Date.parse(s!.validatedAt)).toBeGreaterThanOrEqual(before - 1000);
});

test('without a run context (a direct invocation, the CLI\'s processor) the summary has no executionArn', async () => {
  const c = newClient();
  await run(c, await upload(c, V2), '0001');
  const s = await summaryOf(c);
  expect(s).toMatchObject({ read: 1, valid: 1, reasons: {} });
  expect(s).not.toHaveProperty('executionArn');
});

test("an older version's run never replaces the newer version's summary", async () => {
  const slow = newClient();
  const fast = newClient();
  const etag1 = await upload(fast, V1);
  // Hold the older run's summary write: its outputs are written, then the newer version's run completes.
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const atSummary = new Promise<void>((r) => (reached = r));
  slow.middlewareStack.add((next, ctx) => async (args) => {
    if (ctx.commandName === 'PutObjectCommand' && (args.input as { Key?: string }).Key === SUMMARY) {
      reached();
      await gate;
    }
    return next(args);
  }, { step: 'initialize', name: 'holdSummary' });
  const older = run(slow, etag1, '0001');
  await atSummary;
  const etag2 = await upload(fast, V2);
  expect(await run(fast, etag2, '0002')).toMatchObject({ valid: 1, summaryKey: SUMMARY });
  release();
  expect(await older).toMatchObject({ superseded: true });
  expect(await summaryOf(fast)).toMatchObject({ etag: etag2, read: 1, valid: 1, quarantined: 0 });

  // And an older version's run that starts after the newer summary exists is refused before writing it.
  expect(await run(fast, etag1, '0001')).toMatchObject({ superseded: true });
  expect(await summaryOf(fast)).toMatchObject({ etag: etag2, read: 1 });
});

test('deleting the raw object removes its summary with its other outputs', async () => {
  const c = newClient();
  await run(c, await upload(c, V1), '0001');
  expect(await summaryOf(c)).toBeDefined();
  await c.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: KEY }));
  const out = await removeDeletedObjectOutputs({ client: c, bucket: BUCKET, key: KEY, rawPrefix: 'data/batch/', prefixes: PREFIXES, months: 6 });
  expect(out).toMatchObject({ deleted: true });
  expect((out as { removed: string[] }).removed).toContain(SUMMARY);
  expect(await summaryOf(c)).toBeUndefined();
});
