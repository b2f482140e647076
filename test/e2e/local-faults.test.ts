/**
 * Failure drills on the embedded local AWS: at-least-once and out-of-order delivery, transient S3 and
 * Athena faults (recovered by retries), and a permanent query failure (SNS alert + FAILED execution).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRunOptions, runLocalPipeline } from '../../local/runner';

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

test('a permanently failed query fails its execution and sends one alert naming it', async () => {
  const r = await run('fail', { faults: ['athena-fail'] });
  const failed = r.executions.filter((e) => e.status === 'FAILED');
  expect(failed).toHaveLength(1);
  expect(r.alerts).toHaveLength(1);
  const alert = JSON.stringify(r.alerts[0]);
  expect(alert).toContain(failed[0].name!);
  expect(alert).toContain(failed[0].key!);
  expect(alert).toMatch(/QueryFailedError/);
  // The other executions are unaffected and nothing wrong is published.
  expect(r.executions.filter((e) => e.status === 'SUCCEEDED')).toHaveLength(8);
}, 300_000);
