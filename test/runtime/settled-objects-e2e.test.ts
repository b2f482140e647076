/**
 * End to end on the embedded local AWS (the synthesized stack, the bundled Lambda assets): a raw
 * object whose Stage 2 fails for good no longer holds its snapshot back for the pending-input window
 * (20 minutes by default), and a snapshot folder outside the tables' projection range is refused.
 *
 * Needs `node scripts/bundle.mjs` after changing lambda-src/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runLocalPipeline } from '../../local/orchestrator/index';
import { snapshotDateMax } from '../../src/contract/snapshot-range';
import { record } from '../support/facility-record';

const D = '2025-08-10';
const FUTURE = new Date(Date.parse(`${snapshotDateMax()}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-settled-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('a corrupt .jsonl.gz fails its own execution with one alert; the good file of the snapshot publishes in seconds; a future folder is refused and left in place', async () => {
  const data = join(work, 'data');
  mkdirSync(join(data, D), { recursive: true });
  mkdirSync(join(data, FUTURE), { recursive: true });
  const lines = (d: string, ids: string[]) => ids.map((id) => JSON.stringify(record(id, d, ['2099-01-01'], { location: { address: '1 Main St', city: 'Austin', state: 'TX', zip: '73301' } }))).join('\n') + '\n';
  writeFileSync(join(data, D, 'good.jsonl'), lines(D, ['FAC00001', 'FAC00002']));
  const gz = gzipSync(lines(D, ['FAC00003', 'FAC00004', 'FAC00005']));
  writeFileSync(join(data, D, 'bad.jsonl.gz'), gz.subarray(0, gz.length - 10)); // truncated: corrupt
  writeFileSync(join(data, FUTURE, 'early.jsonl'), lines(FUTURE, ['FAC00009']));

  const started = Date.now();
  const r = await runLocalPipeline({ dataDir: data, workDir: join(work, 'run') });
  const seconds = (Date.now() - started) / 1000;

  const byKey = Object.fromEntries(r.executions.map((e) => [e.key!.split('/').slice(-2).join('/'), e]));
  expect(Object.keys(byKey).sort()).toEqual([`${D}/bad.jsonl.gz`, `${D}/good.jsonl`, `${FUTURE}/early.jsonl`]);
  expect(byKey[`${D}/good.jsonl`].status).toBe('SUCCEEDED');
  expect(byKey[`${D}/bad.jsonl.gz`]).toMatchObject({ status: 'FAILED' });
  expect(byKey[`${D}/bad.jsonl.gz`].error).toMatch(/CorruptInputError.*bad\.jsonl\.gz/);
  expect(byKey[`${FUTURE}/early.jsonl`]).toMatchObject({ status: 'FAILED' });
  expect(byKey[`${FUTURE}/early.jsonl`].error).toMatch(new RegExp(`InvalidEventError.*${FUTURE}.*2000-01-01,NOW\\+1DAYS`));

  // One alert per failed execution, each naming its object.
  expect(r.alerts).toHaveLength(2);
  expect(JSON.stringify(r.alerts)).toContain('bad.jsonl.gz');
  expect(JSON.stringify(r.alerts)).toContain(`${FUTURE}/early.jsonl`);

  // The good file's results are published without waiting out the pending-input window.
  expect(r.snapshots[D]).toMatchObject({ records: 2, valid: 2, extract_rows: 2, state_counts: { TX: 2 } });
  expect(seconds).toBeLessThan(120);

  // The failure marker names the object; the refused raw object is still where it was uploaded.
  const marker = join(r.bucketDir, 'quarantine', '_failed', `snapshot_date=${D}`, 'bad.jsonl.gz.json');
  expect(JSON.parse(readFileSync(marker, 'utf8'))).toMatchObject({ source_key: `data/batch/${D}/bad.jsonl.gz`, error: 'CorruptInputError' });
  expect(existsSync(join(r.bucketDir, 'data', 'batch', FUTURE, 'early.jsonl'))).toBe(true);
  expect(existsSync(join(r.bucketDir, 'validated', `snapshot_date=${FUTURE}`))).toBe(false);
  expect(existsSync(join(r.bucketDir, 'production', 'state_counts', `snapshot_date=${FUTURE}`))).toBe(false);
}, 300_000);
