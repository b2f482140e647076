/**
 * What a publish costs, and that reading the results by the ETags the count's status names never
 * publishes the wrong computation (docs/runtime.md, "Publish"). Against the embedded S3.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { QueryStatus } from '../../lambda-src/athena/types';
import { loadConfig } from '../../lambda-src/lib/config';
import { Watermark, parseWatermark, putIfNewer, wasCreated } from '../../lambda-src/lib/watermark';
import { publishComputation } from '../../lambda-src/publish';
import { writeRunReport } from '../../lambda-src/publish/report';
import { useLocalS3 } from '../support/local-s3';
import { PUBLISH_FIXTURE, stateCountsStatus } from '../support/query-status';

const BUCKET = 'publish-requests';
const config = loadConfig({ DATA_BUCKET: BUCKET });
const { snapshotDate: D, results: RES, production: PROD, older: W1, newer: W2 } = PUBLISH_FIXTURE;
const noSleep = async (): Promise<void> => undefined;
const KEYS = [`${RES}state_counts.csv`, `${RES}state_counts.json`];

const { newClient, emptyBucket } = useLocalS3(BUCKET, 'publish-requests');

/** Writes computation `w`'s results as the count does, and returns its status (with the ETags it names). */
async function countResults(w: Watermark): Promise<QueryStatus> {
  const s3 = newClient();
  const csv = await putIfNewer(s3, {
    bucket: BUCKET,
    key: KEYS[0],
    body: `state,accredited_facilities\nMI,${w.queryExecutionId}\n`,
    contentType: 'text/csv; charset=utf-8',
    watermark: w,
    sleep: noSleep,
    expectAbsent: true,
  });
  const doc = { snapshot_date: D, as_of: D, state_counts: [{ state: 'MI', accredited_facilities: 1 }], id: w.queryExecutionId };
  const json = await putIfNewer(s3, {
    bucket: BUCKET,
    key: KEYS[1],
    body: `${JSON.stringify(doc)}\n`,
    contentType: 'application/json',
    watermark: w,
    sleep: noSleep,
    expectAbsent: wasCreated(csv),
  });
  return stateCountsStatus(w, { bucket: BUCKET, snapshotDate: D }, {
    resultKeys: KEYS, resultETags: [csv.etag!, json.etag!], resultsCreated: wasCreated(csv) && wasCreated(json),
  });
}

/** A client that records `<command> <key>` of every request. */
function recording(): { s3: S3Client; requests: string[] } {
  const s3 = newClient();
  const requests: string[] = [];
  s3.middlewareStack.add((next, ctx) => async (args) => {
    const input = args.input as { Key?: string; Prefix?: string };
    requests.push(`${String(ctx.commandName).replace('Command', '')} ${input.Key ?? input.Prefix ?? ''}`);
    return next(args);
  }, { step: 'initialize', name: 'record-requests' });
  return { s3, requests };
}

async function production(): Promise<Array<string | undefined>> {
  const out: Array<string | undefined> = [];
  for (const f of ['csv', 'json']) {
    const h = await newClient().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PROD}state_counts.${f}` })).catch(() => undefined);
    out.push(parseWatermark(h?.Metadata?.watermark)?.queryExecutionId);
  }
  return out;
}

beforeEach(() => emptyBucket());

test('a snapshot\'s first publish and its run report: the results copied by ETag, every file created with one request, the JSON read once', async () => {
  const results = await countResults(W1);
  expect(results.resultsCreated).toBe(true);
  const { s3, requests } = recording();
  const input = { bucket: BUCKET, snapshotDate: D, results };
  const out = await publishComputation(input, { s3, config, sleep: noSleep });
  expect(out).toMatchObject({ result: { published: true }, written: 3, created: true });
  await writeRunReport(input, out, { s3, config, sleep: noSleep });
  expect(requests).toEqual([
    // server-side copies of the results versions the status names
    `CopyObject ${PROD}state_counts.csv`,
    `CopyObject ${PROD}state_counts.json`,
    // verify: the CSV's version, the JSON read whole (the report is made from it)
    `HeadObject ${PROD}state_counts.csv`, `GetObject ${PROD}state_counts.json`,
    `PutObject ${PROD}manifest.json`,
    // the run report: the file summaries (none here), then the report
    `ListObjectsV2 validated/_summaries/snapshot_date=${D}/`,
    `PutObject reports/snapshot_date=${D}/report.json`,
  ]);
  const csv = await (await newClient().send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PROD}state_counts.csv` }))).Body!.transformToString();
  expect(csv).toBe('state,accredited_facilities\nMI,q-1\n');
  const head = await newClient().send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PROD}state_counts.csv` }));
  expect(head.ContentType).toBe('text/csv; charset=utf-8');
});

test('the results were replaced after the status named their ETags: the newer computation is published, never the one named', async () => {
  const older = await countResults(W1);
  await countResults(W2);
  const out = await publishComputation({ bucket: BUCKET, snapshotDate: D, results: older }, { s3: newClient(), config, sleep: noSleep });
  expect(out).toMatchObject({ result: { published: true }, watermark: W2 });
  expect(await production()).toEqual(['q-2', 'q-2']);
});

test('a later refresh of a published snapshot: production is read before it is replaced, the unit stays whole', async () => {
  await publishComputation({ bucket: BUCKET, snapshotDate: D, results: await countResults(W1) }, { s3: newClient(), config, sleep: noSleep });
  const newer = await countResults(W2);
  expect(newer.resultsCreated).toBe(false);
  const { s3, requests } = recording();
  const out = await publishComputation({ bucket: BUCKET, snapshotDate: D, results: newer }, { s3, config, sleep: noSleep });
  expect(out).toMatchObject({ result: { published: true }, created: false });
  expect(requests.filter((r) => r.startsWith('HeadObject'))).toEqual([
    `HeadObject ${PROD}state_counts.csv`, `HeadObject ${PROD}state_counts.json`, `HeadObject ${PROD}state_counts.csv`, `HeadObject ${PROD}manifest.json`,
  ]);
  expect(await production()).toEqual(['q-2', 'q-2']);
});

test('a wrong guess (the status says created, but a newer computation\'s production is there) never overwrites it', async () => {
  const older = await countResults(W1);
  // A newer computation published meanwhile (its results then replaced by ours in this contrived order).
  for (const f of ['csv', 'json']) {
    await newClient().send(new PutObjectCommand({
      Bucket: BUCKET, Key: `${PROD}state_counts.${f}`, Body: 'newer', Metadata: { watermark: `${W2.submittedAt}|${W2.queryExecutionId}` },
    }));
  }
  const out = await publishComputation({ bucket: BUCKET, snapshotDate: D, results: older }, { s3: newClient(), config, sleep: noSleep });
  expect(out.result).toEqual({ published: false, reason: 'stale', keys: [] });
  expect(await production()).toEqual(['q-2', 'q-2']);
});

test('a newer computation with equal counts rewrote the CSV (same bytes, same ETag) and not yet its JSON: production stays one computation', async () => {
  const older = await countResults(W1);
  const csv = await newClient().send(new GetObjectCommand({ Bucket: BUCKET, Key: KEYS[0] }));
  const bytes = await csv.Body!.transformToString();
  // The newer computation's CSV: the same rows, so the same bytes and MD5 ETag as the older one's.
  const rewritten = await putIfNewer(newClient(), { bucket: BUCKET, key: KEYS[0], body: bytes, contentType: 'text/csv; charset=utf-8', watermark: W2 });
  expect(rewritten.etag).toBe(older.resultETags![0]);
  const out = await publishComputation({ bucket: BUCKET, snapshotDate: D, results: older }, { s3: newClient(), config, sleep: noSleep });
  expect(out).toMatchObject({ result: { published: true }, watermark: W1 });
  expect(await production()).toEqual(['q-1', 'q-1']);
});

test('a results file deleted after the status named it: InvalidEventError, not a retried race', async () => {
  // Production exists (an earlier publish), so the copy of the JSON is an If-Match write: its 404 could also mean
  // "the target was deleted under us", and must be told apart.
  await publishComputation({ bucket: BUCKET, snapshotDate: D, results: await countResults(W1) }, { s3: newClient(), config, sleep: noSleep });
  const newer = await countResults(W2);
  await newClient().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: KEYS[1] }));
  await expect(publishComputation({ bucket: BUCKET, snapshotDate: D, results: newer }, { s3: newClient(), config, sleep: noSleep }))
    .rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringContaining('state_counts.json') });
});
