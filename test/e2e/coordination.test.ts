/**
 * End to end on the embedded local AWS (the synthesized stack, the bundled Lambda assets): the files of a
 * snapshot coordinate through the snapshot's ticket ("last finisher refreshes", docs/runtime.md,
 * "Coordinating a snapshot's files"), and a deleted raw file's outputs are removed and its snapshot
 * recomputed ("Deleted files").
 *
 * Needs `node scripts/bundle.mjs` after changing lambda-src/ or local/.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { LocalRunOptions, LocalRunResult, runLocalPipeline } from '../../local/orchestrator/index';
import { record } from '../support/facility-record';

const D = '2025-08-10';
const STATES = ['TX', 'CA', 'NY', 'FL', 'WA'];

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-coord-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Records of file `f` of snapshot `d`: `n` accredited facilities (valid until 2099), states in rotation. */
function fileLines(d: string, f: number, n: number): string {
  return Array.from({ length: n }, (_, i) => {
    const id = `FAC${String(f * 100 + i).padStart(5, '0')}`;
    const state = STATES[(f + i) % STATES.length];
    return JSON.stringify(record(id, d, ['2099-01-01'], { location: { address: '1 Main St', city: 'X', state, zip: '73301' } }));
  }).join('\n') + '\n';
}

/** The state counts of a set of files, computed independently of the pipeline. */
function expectedCounts(files: Array<[number, number]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [f, n] of files) {
    for (let i = 0; i < n; i++) {
      const s = STATES[(f + i) % STATES.length];
      out[s] = (out[s] ?? 0) + 1;
    }
  }
  return out;
}

function writeSnapshot(data: string, d: string, files: number, records: number): void {
  mkdirSync(join(data, d), { recursive: true });
  for (let f = 0; f < files; f++) writeFileSync(join(data, d, `part-${String(f).padStart(3, '0')}.jsonl`), fileLines(d, f, records));
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Distinct state-counts computations (one Athena results CSV each) and extract computations (watermark ids) of a run. */
function computations(r: LocalRunResult): { stateCounts: number } {
  const csv = listFiles(join(r.bucketDir, 'athena-results')).filter((f) => /\/[0-9a-f-]{36}\.csv$/.test(f));
  return { stateCounts: csv.length };
}

function production(r: LocalRunResult, d: string): { counts: Record<string, number>; queryId: string } {
  const json = JSON.parse(readFileSync(join(r.bucketDir, 'production', 'state_counts', `snapshot_date=${d}`, 'state_counts.json'), 'utf8'));
  const counts = Object.fromEntries(json.state_counts.map((x: any) => [x.state, x.accredited_facilities]));
  return { counts, queryId: json.watermark.query_execution_id };
}

async function run(name: string, setup: (data: string) => void, opts: Partial<LocalRunOptions> = {}): Promise<LocalRunResult> {
  const data = join(work, name, 'data');
  mkdirSync(data, { recursive: true });
  setup(data);
  return runLocalPipeline({ dataDir: data, workDir: join(work, name, 'aws'), ...opts });
}

describe('one snapshot, many files: the last finisher refreshes', () => {
  test('50 files x 3 records: (about) one refresh, one published computation equal to the whole snapshot', async () => {
    const r = await run('fifty', (data) => writeSnapshot(data, D, 50, 3));
    expect(r.executions).toHaveLength(50);
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    expect(r.alerts).toEqual([]);
    const want = expectedCounts(Array.from({ length: 50 }, (_, f) => [f, 3]));
    expect(r.snapshots[D]).toMatchObject({ records: 150, valid: 150, extract_rows: 150, state_counts: want });
    const c = computations(r);
    // eslint-disable-next-line no-console
    console.log('fifty files', c, r.durationMs);
    expect(c.stateCounts).toBeGreaterThanOrEqual(1);
    expect(c.stateCounts).toBeLessThanOrEqual(3);
    // The ticket names one execution of the snapshot.
    const ticket = JSON.parse(readFileSync(join(r.bucketDir, 'validated', '_coordination', `snapshot_date=${D}`, 'ticket.json'), 'utf8'));
    expect(ticket).toMatchObject({ execution: expect.stringContaining(':execution:'), object: expect.stringMatching(new RegExp(`^data/batch/${D}/part-\\d{3}\\.jsonl$`)) });
    // The curated partition holds the files of one computation.
    const curated = listFiles(join(r.bucketDir, 'curated', 'facility_metrics', `snapshot_date=${D}`));
    expect(new Set(curated.map((f) => f.split('/').pop()!.split('_')[0])).size).toBe(1);
  }, 600_000);

  test('duplicated and shuffled events give the same results, one alert-free run', async () => {
    const r = await run('dup', (data) => writeSnapshot(data, D, 20, 3), { duplicateEvents: 1, shuffle: true, seed: 7 });
    expect(r.executions).toHaveLength(40);
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    expect(r.alerts).toEqual([]);
    const want = expectedCounts(Array.from({ length: 20 }, (_, f) => [f, 3]));
    expect(r.snapshots[D]).toMatchObject({ records: 60, valid: 60, extract_rows: 60, state_counts: want });
    expect(production(r, D).counts).toEqual(want);
  }, 600_000);

  test('a corrupt .gz among good files: the good ones publish, one alert names the bad file', async () => {
    const r = await run('corrupt', (data) => {
      writeSnapshot(data, D, 10, 3);
      const gz = gzipSync(fileLines(D, 99, 3));
      writeFileSync(join(data, D, 'bad.jsonl.gz'), gz.subarray(0, gz.length - 10));
    });
    expect(r.executions).toHaveLength(11);
    const failed = r.executions.filter((e) => e.status !== 'SUCCEEDED');
    expect(failed).toHaveLength(1);
    expect(failed[0].key).toBe(`data/batch/${D}/bad.jsonl.gz`);
    expect(failed[0].error).toMatch(/CorruptInputError/);
    expect(r.alerts).toHaveLength(1);
    expect(JSON.stringify(r.alerts[0])).toContain('bad.jsonl.gz');
    expect(production(r, D).counts).toEqual(expectedCounts(Array.from({ length: 10 }, (_, f) => [f, 3])));
    // docs/runtime.md, "Coordinating a snapshot's files": a good file's ProcessObject claims the ticket itself; only
    // the failed file's execution claims in ClaimSnapshot, and it still reads the ticket back.
    const states = (name: string | undefined): string[] => JSON.parse(readFileSync(join(r.executionHistories, `${name!}.json`), 'utf8')).events
      .filter((e: { type: string }) => e.type.endsWith('StateEntered')).map((e: { stateEnteredEventDetails: { name: string } }) => e.stateEnteredEventDetails.name);
    expect(states(failed[0].name)).toEqual(expect.arrayContaining(['ProcessObject', 'ClaimSnapshot', 'ReadTicket', 'NotifyFailure']));
    for (const ok of r.executions.filter((e) => e.status === 'SUCCEEDED')) {
      expect(states(ok.name)).toEqual(expect.arrayContaining(['ProcessObject', 'ReadTicket']));
      expect(states(ok.name)).not.toContain('ClaimSnapshot');
    }
  }, 600_000);

  test('a late file after the first publish: a newer publish includes it', async () => {
    let first: { counts: Record<string, number>; queryId: string } | undefined;
    let firstJson = '';
    const r = await run('late', (data) => writeSnapshot(data, D, 5, 3), {
      followUp: async ({ client, bucket, rawPrefix }) => {
        firstJson = readFileSync(join(work, 'late', 'aws', 's3', bucket, 'production', 'state_counts', `snapshot_date=${D}`, 'state_counts.json'), 'utf8');
        const j = JSON.parse(firstJson);
        const counts = Object.fromEntries(j.state_counts.map((x: any) => [x.state, x.accredited_facilities]));
        first = { counts, queryId: j.watermark.query_execution_id };
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${rawPrefix}${D}/late.jsonl`, Body: fileLines(D, 50, 4) }));
      },
    });
    expect(first?.counts).toEqual(expectedCounts(Array.from({ length: 5 }, (_, f) => [f, 3])));
    expect(r.executions).toHaveLength(6);
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    const now = production(r, D);
    expect(now.counts).toEqual(expectedCounts([...Array.from({ length: 5 }, (_, f): [number, number] => [f, 3]), [50, 4]]));
    expect(now.queryId).not.toBe(first!.queryId);
    expect(JSON.parse(readFileSync(join(r.bucketDir, 'production', 'state_counts', `snapshot_date=${D}`, 'state_counts.json'), 'utf8')).watermark.submitted_at
      > JSON.parse(firstJson).watermark.submitted_at).toBe(true);
  }, 600_000);

  test('a deleted file after publish: its outputs are removed and the counts recomputed without it', async () => {
    const r = await run('delete', (data) => writeSnapshot(data, D, 4, 3), {
      followUp: async ({ client, bucket, rawPrefix }) => {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${rawPrefix}${D}/part-002.jsonl` }));
      },
    });
    expect(r.executions).toHaveLength(5);
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    expect(r.alerts).toEqual([]);
    const want = expectedCounts([[0, 3], [1, 3], [3, 3]]);
    expect(production(r, D).counts).toEqual(want);
    expect(r.snapshots[D]).toMatchObject({ records: 9, valid: 9, extract_rows: 9, state_counts: want });
    for (const prefix of ['validated', 'expiring', 'quarantine']) {
      expect(existsSync(join(r.bucketDir, prefix, `snapshot_date=${D}`, 'part-002.jsonl'))).toBe(false);
      expect(existsSync(join(r.bucketDir, prefix, `snapshot_date=${D}`, 'part-001.jsonl'))).toBe(true);
    }
  }, 600_000);

  test('deleting every file of a snapshot publishes empty counts', async () => {
    const r = await run('delete-all', (data) => writeSnapshot(data, D, 2, 3), {
      followUp: async ({ client, bucket, rawPrefix }) => {
        for (const f of ['part-000.jsonl', 'part-001.jsonl']) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${rawPrefix}${D}/${f}` }));
      },
    });
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    expect(production(r, D).counts).toEqual({});
    expect(r.snapshots[D]).toMatchObject({ records: 0, extract_rows: 0, state_counts: {} });
  }, 600_000);

  test('a backfill: 5 snapshots x 5 files, each snapshot published complete', async () => {
    const days = ['2025-08-01', '2025-08-02', '2025-08-03', '2025-08-04', '2025-08-05'];
    const r = await run('backfill', (data) => {
      for (const d of days) writeSnapshot(data, d, 5, 2);
    });
    expect(r.executions).toHaveLength(25);
    expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    const want = expectedCounts(Array.from({ length: 5 }, (_, f) => [f, 2]));
    for (const d of days) {
      expect(r.snapshots[d]).toMatchObject({ records: 10, valid: 10, extract_rows: 10, state_counts: want });
      expect(production(r, d).counts).toEqual(want);
    }
  }, 600_000);
});
