/** The docs/contract.md §4 command-line contract of `medlaunch-elt local` and its text summary, through the real bin script. */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, realpathSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'medlaunch-elt.js');
const expected: Record<string, any> = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'shipped-expected.json'), 'utf8'));
const MARKER = '.medlaunch-elt-workdir';

function cli(args: string[], cwd: string) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 280_000 });
}

function magic(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    return b.toString('latin1');
  } finally {
    closeSync(fd);
  }
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('local --json: last stdout line is the run summary (contract fields + details, skipped, drill), exit 0', () => {
  const r = cli(['local', '--json'], work);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const last = r.stdout.trim().split('\n').pop()!;
  const summary = JSON.parse(last);
  expect(Object.keys(summary).sort()).toEqual([
    'alerts', 'details', 'drill', 'executionHistories', 'executions', 'metrics', 'report', 'requests', 'skipped', 'snapshots',
  ]);
  // The run's HTML report (test/e2e/local-metrics.test.ts checks what it shows).
  expect(realpathSync(summary.report)).toBe(realpathSync(join(work, '.local-aws', 'report.html')));
  // What the Lambdas emitted in the embedded metric format, as CloudWatch would store it; nothing was rejected.
  expect(summary.metrics).toMatchObject({
    rejected: { parsing: 0, validation: 0, first: [] }, series: expect.any(Array), documents: expect.any(Number),
  });
  // Every execution's history, as GetExecutionHistory gives it, one file per execution named after it.
  expect(realpathSync(summary.executionHistories)).toBe(realpathSync(join(work, '.local-aws', 'executions')));
  const histories = readdirSync(summary.executionHistories).sort();
  expect(histories).toEqual(summary.executions.map((e: any) => `${e.name}.json`).sort());
  for (const f of histories) {
    const h = JSON.parse(readFileSync(join(summary.executionHistories, f), 'utf8'));
    expect(h).toMatchObject({ name: f.replace(/\.json$/, ''), status: 'SUCCEEDED', executionArn: expect.stringContaining(':execution:') });
    expect(h.events[0]).toMatchObject({ id: 1, type: 'ExecutionStarted' });
    expect(h.events.at(-1).type).toBe('ExecutionSucceeded');
    expect(h.events.filter((e: any) => e.type === 'TaskStateEntered').map((e: any) => e.stateEnteredEventDetails.name)).toContain('ProcessObject');
  }
  expect(summary.alerts).toEqual([]);
  // The AWS requests the run made, per service and operation (9 uploads, 9 executions).
  expect(summary.requests.client.s3.PutObject).toBeGreaterThanOrEqual(9);
  expect(summary.requests.stepfunctions.StartExecution).toBe(9);
  expect(Object.keys(summary.requests).sort()).toEqual(['athena', 'client', 'events', 'lambda', 'lambda_gb_seconds', 's3', 'sns', 'stepfunctions']);
  for (const [d, want] of Object.entries(expected)) {
    const got = summary.snapshots[d];
    expect(got).toEqual({
      records: want.records,
      valid: want.valid,
      quarantined: want.quarantined,
      extract_rows: want.extract_rows,
      expiring: want.expiring,
      state_counts: want.state_counts,
    });
  }
  for (const e of summary.executions) expect(e).toEqual(expect.objectContaining({ snapshot: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), status: 'SUCCEEDED' }));
  // What the contract fields leave unexplained: 6 records + 1 blank line, 3 valid of which 1 duplicate → 2 extract rows.
  const d13 = summary.details['2025-08-13'];
  expect(d13).toMatchObject({
    files: 3,
    lines: 7,
    duplicates: 1,
    blank: 1,
    quarantine_reasons: { invalid_date: 1, invalid_json: 1, snapshot_mismatch: 1 },
    window: { from: '2025-08-13', to: '2026-02-13', months: 6 },
  });
  expect(summary.snapshots['2025-08-13'].valid - d13.duplicates).toBe(summary.snapshots['2025-08-13'].extract_rows);
  expect(summary.details['2025-08-10'].window).toEqual({ from: '2025-08-10', to: '2026-02-10', months: 6 });
  for (const d of Object.keys(expected)) {
    const x = summary.details[d];
    expect(x.extract_files.length).toBeGreaterThan(0);
    for (const f of x.extract_files) {
      expect(f).toMatch(new RegExp(`/extract/snapshot_date=${d}/[^/]+\\.parquet$`));
      expect(magic(f)).toBe('PAR1');
    }
    expect(x.extract_sample.length).toBe(Math.min(3, summary.snapshots[d].extract_rows));
    expect(x.extract_sample[0].facility_id).toBe([...x.extract_sample.map((s: any) => s.facility_id)].sort()[0]);
    expect(existsSync(x.quarantine_path) || summary.snapshots[d].quarantined === 0).toBe(true);
  }
  expect(summary.skipped).toEqual([]);
  expect(summary.drill).toMatchObject({ seed: 1, faults: [], recovered: true, failed: 0, alerts: 0 });
}, 300_000);

test('local (text): counts explained, ids capped with the window and the path, skipped files named, a marked work folder cleared', () => {
  const data = join(work, 'data');
  cpSync(join(ROOT, 'data', 'batch'), data, { recursive: true });
  writeFileSync(join(data, '2025-08-10', 'notes.txt'), 'not data');
  mkdirSync(join(data, '2025-08-12'));
  const wd = join(work, 'marked');
  mkdirSync(join(wd, 's3'), { recursive: true });
  writeFileSync(join(wd, MARKER), '');
  writeFileSync(join(wd, 's3', 'stale-from-last-run.jsonl'), '{}');
  mkdirSync(join(wd, 'executions'));
  writeFileSync(join(wd, 'executions', 'stale-execution-from-last-run.json'), '{}');
  writeFileSync(join(wd, 'report.html'), 'the last run\'s report');

  const r = cli(['local', '--data', data, '--workdir', wd], work);
  expect(r.status).toBe(0);
  expect(r.stderr).toBe(`medlaunch-elt: warning: --data ${join(data, '2025-08-12')}: snapshot folder holds no data files (.jsonl, .ndjson, .json, optionally .gz); skipped\n`);
  const out = r.stdout;
  expect(out).toMatch(/synthesized \S+: 4 Lambda functions \(3 of the pipeline, 1 CDK deployment helper not needed locally\)/);
  expect(out).toMatch(/deployed locally: 2 buckets .*; 3 pipeline Lambda functions; 1 rule /);
  expect(out).toMatch(/^AWS requests: S3 [\d,]+ \(.*PutObject [\d,]+.*\) · Athena [\d,]+ \(.*StartQueryExecution.*\) · Lambda [\d,]+ invocations · SNS 0 · Step Functions 9 executions, [\d,]+ transitions · EventBridge [\d,]+ events$/m);
  expect(out).toMatch(/uploaded 9 objects from .* to s3:\/\/\S+\/data\/batch\/; skipped 1 file that is not data \(\.jsonl, \.ndjson, \.json, optionally \.gz\): 2025-08-10\/notes\.txt/);
  expect(out).toMatch(/^snapshot +files +lines +records +valid +duplicates +quarantined +blank +extract +expiring +accredited/m);
  expect(out).toMatch(/^2025-08-13 +3 +7 +6 +3 +1 +3 +1 +2 +1 +AR:1 ID:1$/m);
  expect(out).toMatch(/^ {2}quarantined 3 \(invalid_date 1, invalid_json 1, snapshot_mismatch 1\) → .*marked\/s3\/\S+\/quarantine\/snapshot_date=2025-08-13\/$/m);
  expect(out).toMatch(/^ {2}expiring 19 facilities in 2025-08-11 → 2026-02-11: FAC00024, FAC00026, FAC00027, FAC00030, FAC00036, … \(\+14 more\) → \S+\/expiring\/snapshot_date=2025-08-11\/$/m);
  expect(out).toMatch(/^ {2}expiring 1 facility in 2025-08-13 → 2026-02-13: FAC00071 → /m);
  expect(out).toMatch(/^ {2}extract 2 rows \(Parquet\) → \S+\/extract\/snapshot_date=2025-08-13\/ \(1 \.parquet file\)$/m);
  expect(out).toMatch(/^ {4}FAC00071 +Little Rock Community Healt… +64 +6 +2025-10-24 +2025-10-24$/m);
  // No line lists every expiring id; no alerts log when nothing was alerted.
  for (const line of out.split('\n')) expect(line.includes('FAC00070')).toBe(false);
  expect(out).not.toMatch(/alerts log/);
  expect(existsSync(join(wd, 'alerts.jsonl'))).toBe(false);
  // The folder an earlier run created was cleared and marked again.
  expect(existsSync(join(wd, 's3', 'stale-from-last-run.jsonl'))).toBe(false);
  expect(readdirSync(join(wd, 'executions'))).toHaveLength(9);
  expect(out).toMatch(/^execution histories \(GetExecutionHistory's shape\): .*marked\/executions\/$/m);
  expect(out).toMatch(/^report: .*marked\/report\.html$/m);
  expect(readFileSync(join(wd, 'report.html'), 'utf8')).toContain('<meta name="generator" content="medlaunch-elt report">');
  // The data-quality block, computed from the metrics the Lambdas emitted (either figures or the note that none came).
  expect(out).toMatch(/^data quality( \(the Lambdas' metrics, namespace MedlaunchElt\):$|: the Lambdas emitted no metrics)/m);
  expect(out).not.toMatch(/EMF documents? rejected/);
  expect(existsSync(join(wd, MARKER))).toBe(true);
}, 300_000);

test('--fault athena-fail: the same seed fails the same snapshot on every run; text and --json say what was injected', () => {
  const text = cli(['local', '--fault', 'athena-fail', '--workdir', join(work, 'fail1')], work);
  expect(text.status).toBe(1);
  expect(text.stderr.trim().split('\n')).toHaveLength(1);
  // One failure, one alert: only the execution holding the snapshot's ticket runs its queries (docs/runtime.md,
  // "Coordinating a snapshot's files"); which of the snapshot's three files holds it depends on timing.
  expect(text.stderr.trim()).toMatch(/^medlaunch-elt: 1 of 9 execution\(s\) failed; first: data\/batch\/2025-08-11\/facilities_000[1-3]\.jsonl: QueryFailedError.* \(alerts: .*fail1\/alerts\.jsonl\)$/);
  expect(text.stdout).toMatch(/^drill \(seed 1\):$/m);
  expect(text.stdout).toMatch(/^ {2}injected athena-fail: every facility_extract query of snapshot 2025-08-11 ends FAILED \(non-retryable\)$/m);
  expect(text.stdout).toMatch(/^ {2}not recovered: 1 of 9 executions failed, 1 alert published/m);
  expect(text.stdout).toMatch(/^alerts log: .*fail1\/alerts\.jsonl$/m);

  const json = cli(['local', '--fault', 'athena-fail', '--json', '--workdir', join(work, 'fail2')], work);
  expect(json.status).toBe(1);
  const summary = JSON.parse(json.stdout.trim().split('\n').pop()!);
  const failed = summary.executions.filter((e: any) => e.status !== 'SUCCEEDED').map((e: any) => e.snapshot);
  expect(failed).toEqual(['2025-08-11']);
  expect(summary.drill).toMatchObject({
    seed: 1,
    failed: 1,
    alerts: 1,
    recovered: false,
    faults: [{ fault: 'athena-fail', target: '2025-08-11', injected: expect.stringMatching(/snapshot 2025-08-11/) }],
  });
  expect(summary.alerts).toHaveLength(1);
}, 300_000);

test.each([
  [['local', '--data', '/nonexistent'], /--data \/nonexistent: not a directory/],
  [['local', '--months', 'x'], /--months must be an integer/],
  [['local', '--as-of', '2025-02-30'], /--as-of must be a YYYY-MM-DD calendar date/],
  [['local', '--fault', 'nope'], /--fault nope: unknown/],
  [['local', '--bogus'], /Unknown option '--bogus'/],
  [['nope'], /unknown command 'nope'/],
])('bad arguments %j: one-line error, exit 2', (args, message) => {
  const r = cli(args as string[], work);
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(message as RegExp);
});
