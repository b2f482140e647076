/**
 * End to end on the embedded local AWS with the data bucket VERSIONED, as the construct creates it in
 * AWS (VersioningConfiguration Enabled): a re-upload is a new version and publishes its counts; a
 * DeleteObject leaves a delete marker, and the file's records and outputs leave the published counts;
 * the events carry the version ids the runtime reads (docs/local-s3.md, "Versioning").
 *
 * Needs `node scripts/bundle.mjs` after changing lambda-src/ or local/.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  DeleteObjectCommand, GetBucketVersioningCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { LocalRunResult, runLocalPipeline } from '../../local/orchestrator/index';
import { LocalS3 } from '../../local/s3';
import { record } from '../support/facility-record';

const D = '2025-08-10';
const STATES = ['TX', 'CA', 'NY', 'FL', 'WA'];

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-versioned-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `n` accredited facilities (valid until 2099) of file `f`, states in rotation from `f`. */
function fileLines(f: number, n: number): string {
  return Array.from({ length: n }, (_, i) => {
    const id = `FAC${String(f * 100 + i).padStart(5, '0')}`;
    const state = STATES[(f + i) % STATES.length];
    return JSON.stringify(record(id, D, ['2099-01-01'], { location: { address: '1 Main St', city: 'X', state, zip: '73301' } }));
  }).join('\n') + '\n';
}

/** The state counts of files given as [f, n], computed independently of the pipeline. */
function expectedCounts(files: Array<[number, number]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [f, n] of files) {
    for (let i = 0; i < n; i++) out[STATES[(f + i) % STATES.length]] = (out[STATES[(f + i) % STATES.length]] ?? 0) + 1;
  }
  return out;
}

function published(r: LocalRunResult): Record<string, number> {
  const json = JSON.parse(readFileSync(join(r.bucketDir, 'production', 'state_counts', `snapshot_date=${D}`, 'state_counts.json'), 'utf8'));
  return Object.fromEntries(json.state_counts.map((x: { state: string; accredited_facilities: number }) => [x.state, x.accredited_facilities]));
}

/** The EventBridge events that started the run's executions (the input of each ExecutionStarted). */
function startingEvents(r: LocalRunResult): Array<{ 'detail-type': string; 'detail': Record<string, any> }> {
  const out: Array<{ 'detail-type': string; 'detail': Record<string, any> }> = [];
  for (const f of readdirSync(r.executionHistories).filter((n) => n.endsWith('.json'))) {
    const h = JSON.parse(readFileSync(join(r.executionHistories, f), 'utf8'));
    const started = (h.events as any[]).find((e) => e.type === 'ExecutionStarted');
    const input = JSON.parse(started.executionStartedEventDetails.input);
    out.push(input.detail && input['detail-type'] ? input : input.event ?? input);
  }
  return out;
}

/** Reads the run's S3 state again (a new endpoint over the same folder) after the run. */
async function withStore<T>(r: LocalRunResult, fn: (c: S3Client) => Promise<T>): Promise<T> {
  const s3 = await LocalS3.start({ rootDir: dirname(r.bucketDir) });
  const c = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, forcePathStyle: true });
  try {
    return await fn(c);
  } finally {
    c.destroy();
    await s3.close();
  }
}

async function run(name: string, files: Array<[number, number]>, followUp: Parameters<typeof runLocalPipeline>[0]['followUp']): Promise<LocalRunResult> {
  const data = join(work, name, 'data');
  mkdirSync(join(data, D), { recursive: true });
  for (const [f, n] of files) writeFileSync(join(data, D, `part-${String(f).padStart(3, '0')}.jsonl`), fileLines(f, n));
  return runLocalPipeline({ dataDir: data, workDir: join(work, name, 'aws'), followUp });
}

describe('the versioned data bucket', () => {
  test('a re-upload (v2 replacing v1) publishes v2\'s counts; v1 stays as a noncurrent version; the events carry version ids', async () => {
    const key = (raw: string) => `${raw}${D}/part-001.jsonl`;
    let v1: string | undefined;
    let v2: string | undefined;
    const r = await run('reupload', [[0, 3], [1, 3]], async ({ client, bucket, rawPrefix }) => {
      v1 = (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key(rawPrefix) }))).VersionId;
      v2 = (await client.send(new PutObjectCommand({ Bucket: bucket, Key: key(rawPrefix), Body: fileLines(7, 5) }))).VersionId;
    });
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    expect(r.alerts).toEqual([]);
    expect(r.accessDenied).toEqual([]);
    expect(published(r)).toEqual(expectedCounts([[0, 3], [7, 5]]));
    expect(r.snapshots[D]).toMatchObject({ records: 8, valid: 8, extract_rows: 8 });
    // both versions exist, v2 is current; the validated output names v2 as its source
    expect([typeof v1, typeof v2, v1 === v2]).toEqual(['string', 'string', false]);
    const seen = await withStore(r, async (c) => ({
      status: (await c.send(new GetBucketVersioningCommand({ Bucket: r.bucket }))).Status,
      current: (await c.send(new HeadObjectCommand({ Bucket: r.bucket, Key: key('data/batch/') }))).VersionId,
      old: await (await c.send(new GetObjectCommand({ Bucket: r.bucket, Key: key('data/batch/'), VersionId: v1 }))).Body!.transformToString(),
      source: (await c.send(new HeadObjectCommand({ Bucket: r.bucket, Key: `validated/snapshot_date=${D}/part-001.jsonl` }))).Metadata?.['source-version-id'],
    }));
    expect(seen).toEqual({ status: 'Enabled', current: v2, old: fileLines(1, 3), source: v2 });
    // every Object Created event named the version it announced
    const created = startingEvents(r).filter((e) => e['detail-type'] === 'Object Created');
    expect(created).toHaveLength(3);
    expect(created.every((e) => typeof e.detail.object['version-id'] === 'string')).toBe(true);
    expect(created.map((e) => e.detail.object['version-id'])).toEqual(expect.arrayContaining([v1, v2]));
  }, 600_000);

  test('a deleted raw file (a delete marker) leaves the published counts and its outputs are removed', async () => {
    let marker: string | undefined;
    const r = await run('delete', [[0, 3], [1, 3], [2, 3]], async ({ client, bucket, rawPrefix }) => {
      const del = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${rawPrefix}${D}/part-002.jsonl` }));
      expect(del.DeleteMarker).toBe(true);
      marker = del.VersionId;
    });
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    expect(r.alerts).toEqual([]);
    expect(r.accessDenied).toEqual([]);
    const want = expectedCounts([[0, 3], [1, 3]]);
    expect(published(r)).toEqual(want);
    expect(r.snapshots[D]).toMatchObject({ records: 6, valid: 6, extract_rows: 6, state_counts: want });
    for (const prefix of ['validated', 'expiring', 'quarantine']) {
      expect(existsSync(join(r.bucketDir, prefix, `snapshot_date=${D}`, 'part-002.jsonl'))).toBe(false);
    }
    expect(existsSync(join(r.bucketDir, 'validated', `snapshot_date=${D}`, 'part-001.jsonl'))).toBe(true);
    const summaries = readdirSync(r.bucketDir, { recursive: true }).map(String).filter((p) => p.includes('part-002') && !p.startsWith('data/'));
    expect(summaries).toEqual([]);
    // (the kept file's summary is there: the check above looks where summaries are written)
    expect(existsSync(join(r.bucketDir, 'validated', '_summaries', `snapshot_date=${D}`, 'part-001.json'))).toBe(true);
    // the raw file is behind a delete marker: no current object, the marker is the current version
    const deleted = startingEvents(r).filter((e) => e['detail-type'] === 'Object Deleted');
    expect(deleted.map((e) => [e.detail['deletion-type'], e.detail.object['version-id']])).toEqual([['Delete Marker Created', marker]]);
    expect(existsSync(join(r.bucketDir, 'data', 'batch', D, 'part-002.jsonl'))).toBe(false);
  }, 600_000);

  // Deleting the current version by id makes the previous version current again, and S3 sends only "Object Deleted"
  // (Permanently Deleted, with the deleted version's id): the delete handler removes the outputs that deleted version
  // wrote, then validates the current one (lambda-src/validate/delete.ts; docs/runtime.md, "Deleted files").
  test('deleting the current version by id: the previous version is current again and its counts are published', async () => {
    const key = (raw: string) => `${raw}${D}/part-001.jsonl`;
    const r = await run('restore', [[0, 3], [1, 3]], async ({ client, bucket, rawPrefix }) => {
      const v2 = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key(rawPrefix), Body: fileLines(7, 5) }));
      // v2's outputs are written (its file summary names v2) before v2 is deleted
      const summaryKey = `validated/_summaries/snapshot_date=${D}/part-001.json`;
      for (let i = 0; ; i++) {
        const summary = await client.send(new GetObjectCommand({ Bucket: bucket, Key: summaryKey })).then((o) => o.Body!.transformToString(), () => '{}');
        if (JSON.parse(summary).versionId === v2.VersionId) break;
        if (i > 600) throw new Error('v2 was never processed');
        await new Promise((res) => setTimeout(res, 100));
      }
      const del = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(rawPrefix), VersionId: v2.VersionId }));
      expect([del.VersionId, del.DeleteMarker]).toEqual([v2.VersionId, undefined]);
    });
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    expect(r.accessDenied).toEqual([]);
    const deleted = startingEvents(r).filter((e) => e['detail-type'] === 'Object Deleted');
    expect(deleted.map((e) => e.detail['deletion-type'])).toEqual(['Permanently Deleted']);
    expect(published(r)).toEqual(expectedCounts([[0, 3], [1, 3]]));
    expect(r.snapshots[D]).toMatchObject({ records: 6, valid: 6, extract_rows: 6 });
  }, 600_000);
});
