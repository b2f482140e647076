/**
 * pendingRawObjects against the embedded S3 (real ListObjectsV2 pages and LastModified times), with
 * the same SDK client settings as the query-runner handler.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { pendingRawObjects } from '../../lambda-src/athena/pending';
import { loadConfig } from '../../lambda-src/lib/config';
import { LocalS3 } from '../../local/s3';

const BUCKET = 'pending-inputs-bucket';
let root: string;
let s3: LocalS3;
let client: S3Client;
const config = loadConfig({ DATA_BUCKET: BUCKET, PENDING_INPUT_WINDOW_SECONDS: '600' });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pending-inputs-'));
  s3 = await LocalS3.start({ rootDir: root });
  await s3.createBucket(BUCKET);
  client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
});

afterAll(async () => {
  client.destroy();
  await s3.close();
  rmSync(root, { recursive: true, force: true });
});

const put = (key: string) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{}\n' }));
const pause = () => new Promise((r) => setTimeout(r, 20));
async function putAll(keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 25) await Promise.all(keys.slice(i, i + 25).map(put));
}
const names = (n: number) => Array.from({ length: n }, (_, i) => `part-${String(i).padStart(4, '0')}.jsonl`);

test('a raw object is pending until its validated output is written after it; a re-upload is pending again', async () => {
  const d = '2025-09-01';
  // 1,203 raw objects: the listing spans two pages.
  await putAll(names(1203).map((n) => `data/batch/${d}/${n}`));
  await pause();
  const pending = await pendingRawObjects(client, config, d, Date.now());
  expect(pending).toHaveLength(1203);
  await putAll(names(1202).map((n) => `validated/snapshot_date=${d}/${n}`));
  expect(await pendingRawObjects(client, config, d, Date.now())).toEqual([`data/batch/${d}/part-1202.jsonl`]);
  await put(`validated/snapshot_date=${d}/part-1202.jsonl`);
  expect(await pendingRawObjects(client, config, d, Date.now())).toEqual([]);
  await pause();
  await put(`data/batch/${d}/part-0007.jsonl`); // re-uploaded: its validated output is now older
  expect(await pendingRawObjects(client, config, d, Date.now())).toEqual([`data/batch/${d}/part-0007.jsonl`]);
  // Ten minutes later it no longer holds anyone back.
  expect(await pendingRawObjects(client, config, d, Date.now() + 601_000)).toEqual([]);
}, 120_000);

test('a raw object whose Stage 2 failed for good is settled by its failure marker at once; a re-upload is pending again', async () => {
  const d = '2025-09-02';
  await put(`data/batch/${d}/good.jsonl`);
  await put(`data/batch/${d}/bad.jsonl.gz`);
  await pause();
  await put(`validated/snapshot_date=${d}/good.jsonl`);
  // Well inside the window: without a marker the corrupt object holds the snapshot back.
  expect(await pendingRawObjects(client, config, d, Date.now())).toEqual([`data/batch/${d}/bad.jsonl.gz`]);
  await put(`quarantine/_failed/snapshot_date=${d}/bad.jsonl.gz.json`);
  expect(await pendingRawObjects(client, config, d, Date.now())).toEqual([]);
  // A marker of another stem or another snapshot settles nothing.
  await pause();
  await put(`data/batch/${d}/other.ndjson`);
  await put('quarantine/_failed/snapshot_date=2025-09-03/other.ndjson.json');
  await put(`quarantine/_failed/snapshot_date=${d}/other.json`); // the marker of other.jsonl (stem other), not of other.ndjson
  expect(await pendingRawObjects(client, config, d, Date.now())).toEqual([`data/batch/${d}/other.ndjson`]);
  await put(`validated/snapshot_date=${d}/other.ndjson.jsonl`);
  // The key is uploaded again (fixed): its marker is now older, so it waits for its new Stage 2.
  await pause();
  await put(`data/batch/${d}/bad.jsonl.gz`);
  expect(await pendingRawObjects(client, config, d, Date.now())).toEqual([`data/batch/${d}/bad.jsonl.gz`]);
  await put(`validated/snapshot_date=${d}/bad.jsonl.gz.jsonl`);
  expect(await pendingRawObjects(client, config, d, Date.now())).toEqual([]);
}, 60_000);
