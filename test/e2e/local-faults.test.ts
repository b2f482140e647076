/**
 * Failure drills on the embedded local AWS: at-least-once and out-of-order delivery, transient S3 and
 * Athena faults (recovered by retries), and a permanent query failure (SNS alert + FAILED execution).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRunOptions, runLocalPipeline } from '../../local/orchestrator/index';

const DATA = join(__dirname, '..', '..', 'data', 'batch');
const expected: Record<string, any> = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'shipped-expected.json'), 'utf8'));

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-faults-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(name: string, extra: Partial<LocalRunOptions>) {
  return runLocalPipeline({ dataDir: DATA, workDir: join(work, name), ...extra });
}

function expectShippedResults(snapshots: Record<string, any>) {
  for (const d of Object.keys(expected)) {
    expect({ d, ...pick(snapshots[d]) }).toEqual({ d, ...pick(expected[d]) });
  }
}

function pick(s: any) {
  const { records, valid, quarantined, extract_rows, expiring, state_counts } = s;
  return { records, valid, quarantined, extract_rows, expiring, state_counts };
}

test('duplicated and shuffled events give the same published results', async () => {
  const r = await run('dup', { duplicateEvents: 2, shuffle: true, seed: 7 });
  expect(r.executions.length).toBe(3 * 9);
  expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
  expectShippedResults(r.snapshots);
}, 300_000);

test('S3 SlowDown and Athena throttling are retried and recovered', async () => {
  const r = await run('transient', { faults: ['s3-slowdown', 'athena-throttle'], seed: 3 });
  expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
  expect(r.alerts).toEqual([]);
  expectShippedResults(r.snapshots);
}, 300_000);

test('a Lambda timeout is retried by the state machine (the handlers are idempotent)', async () => {
  const r = await run('timeout', { faults: ['lambda-timeout'] });
  expect(r.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
  expect(r.alerts).toEqual([]);
  expectShippedResults(r.snapshots);
}, 300_000);

test('a permanently failed query fails the executions that wait for it, each with one alert naming it; other snapshots are unaffected', async () => {
  const r = await run('fail', { faults: ['athena-fail'] });
  const failed = r.executions.filter((e) => e.status === 'FAILED');
  // The first query fails for good. Every execution of that snapshot whose data it covers shares it
  // (same validated objects → same computation), so how many fail depends on when their Stage 2
  // finished; all of them name the same query, and all are of one snapshot.
  expect(failed.length).toBeGreaterThanOrEqual(1);
  const queryIds = new Set(failed.map((e) => /query (\S+) failed/.exec(e.error ?? '')?.[1]));
  expect(queryIds.size).toBe(1);
  expect([...queryIds][0]).toBeDefined();
  expect(new Set(failed.map((e) => e.snapshot)).size).toBe(1);
  expect(r.alerts).toHaveLength(failed.length);
  for (const e of failed) {
    const alert = JSON.stringify(r.alerts.find((a) => JSON.stringify(a).includes(e.name!)));
    expect(alert).toContain(e.key!);
    expect(alert).toMatch(/QueryFailedError/);
  }
  // The other executions are unaffected and nothing wrong is published.
  expect(r.executions.filter((e) => e.status === 'SUCCEEDED')).toHaveLength(9 - failed.length);
  const failedSnapshot = failed[0].snapshot;
  for (const e of r.executions.filter((x) => x.snapshot !== failedSnapshot)) expect(e.status).toBe('SUCCEEDED');
}, 300_000);
