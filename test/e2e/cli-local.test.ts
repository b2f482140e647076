/** The SPEC §4 command-line contract of `medlaunch-elt local`, through the real bin script. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'medlaunch-elt.js');
const expected: Record<string, any> = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'shipped-expected.json'), 'utf8'));

function cli(args: string[], cwd: string) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 280_000 });
}

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('local --json: last stdout line is the run summary, exit 0', () => {
  const r = cli(['local', '--json'], work);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const last = r.stdout.trim().split('\n').pop()!;
  const summary = JSON.parse(last);
  expect(Object.keys(summary).sort()).toEqual(['alerts', 'executions', 'snapshots']);
  expect(summary.alerts).toEqual([]);
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
}, 300_000);

test('local with a failed execution exits 1 with a one-line reason', () => {
  const r = cli(['local', '--fault', 'athena-fail', '--workdir', join(work, 'fail')], work);
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^medlaunch-elt: [1-9] of 9 execution\(s\) failed; first: .*QueryFailedError/);
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
