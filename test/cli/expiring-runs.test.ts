/**
 * `expiring` run after run, through the built CLI: its outputs are never read back as input, each
 * run's result replaces the previous one (and only what expiring wrote), unreadable inputs are
 * reported while the others are processed, and the line counts add up.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cli, cliAsync, fingerprint, SHIPPED, tempDir } from './cli-helpers';
import { EXPIRING_MANIFEST } from '../../cli/commands/expiring';
import { LocalS3 } from '../../local/s3';
import { record } from '../support/facility-record';

let work: string;
beforeAll(() => {
  work = tempDir('expiring-runs');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);
const line = (id: string, d: string, until: string) => JSON.stringify(record(id, d, [until]));

function folder(name: string, files: Record<string, string | Buffer>): string {
  const root = join(work, name);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

test('the shipped data: the line counts add up (records + blank lines = lines read)', () => {
  const r = cli(['expiring', '--input', SHIPPED, '--output', join(work, 'shipped-out')], { cwd: work });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^read 77 lines from 9 files: 76 records \+ 1 blank line \(skipped\)$/m);
  expect(r.stdout).toMatch(/^ {2}73 valid \(1 duplicate among them, written once\), 3 quarantined → /m);
  expect(r.stdout).toMatch(/^ {2}26 facilities expiring within 6 months of each record's snapshot date → /m);
});

test('--input X --output X: the second run does not read the first run\'s outputs', () => {
  const x = folder('same', {
    '2025-08-10/a.jsonl': `${line('FAC1', '2025-08-10', '2025-09-01')}\n${line('FAC2', '2025-08-10', '2030-01-01')}\n`,
  });
  const first = cli(['expiring', '--input', x, '--output', x, '--json'], { cwd: work });
  const second = cli(['expiring', '--input', x, '--output', x, '--json'], { cwd: work });
  expect(first.status).toBe(0);
  expect(second.status).toBe(0);
  expect(lastJson(first.stdout)).toEqual({ read: 2, valid: 2, matched: 1, quarantined: 0, duplicates: 0, blank: 0 });
  expect(lastJson(second.stdout)).toEqual(lastJson(first.stdout));
  const text = cli(['expiring', '--input', x, '--output', x], { cwd: work });
  expect(text.stdout).toMatch(/3 files under .* not read: expiring's own outputs/);
});

test('each run\'s result is the output\'s whole content: a run that finds nothing leaves no earlier facilities behind', () => {
  const out = join(work, 'replace-out');
  const a = folder('replace-a', {
    '2025-08-10/a.jsonl': `${line('FAC1', '2025-08-10', '2025-09-01')}\n`,
    '2025-08-10/b.jsonl': `${line('FAC2', '2025-08-10', '2025-10-01')}\n`,
  });
  expect(cli(['expiring', '--input', a, '--output', out], { cwd: work }).status).toBe(0);
  expect(readdirSync(join(out, 'snapshot_date=2025-08-10')).sort()).toEqual(['a.jsonl', 'b.jsonl']);
  const b = folder('replace-b', { '2025-08-11/c.jsonl': `${line('FAC3', '2025-08-11', '2030-01-01')}\n` });
  const r = cli(['expiring', '--input', b, '--output', out], { cwd: work });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/0 facilities expiring/);
  expect(r.stdout).toMatch(/removed 6 files of the previous run that this run did not rewrite/);
  expect(existsSync(join(out, 'snapshot_date=2025-08-10'))).toBe(false);
  expect(existsSync(join(out, '_validated', 'snapshot_date=2025-08-10'))).toBe(false);
  expect(readFileSync(join(out, 'snapshot_date=2025-08-11', 'c.jsonl'), 'utf8')).toBe('');
  expect(JSON.parse(readFileSync(join(out, EXPIRING_MANIFEST), 'utf8')).keys).toEqual([
    '_quarantine/snapshot_date=2025-08-11/c.jsonl', '_validated/snapshot_date=2025-08-11/c.jsonl', 'snapshot_date=2025-08-11/c.jsonl',
  ]);
});

test('files under the output areas that expiring did not write: refused, nothing touched', () => {
  const input = folder('foreign-in', { '2025-08-10/a.jsonl': `${line('FAC1', '2025-08-10', '2025-09-01')}\n` });
  const out = folder('foreign-out', { 'snapshot_date=2025-08-10/report.jsonl': 'mine\n', 'README.md': 'mine' });
  const before = fingerprint(out);
  const r = cli(['expiring', '--input', input, '--output', out], { cwd: work });
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/already holds 1 file expiring did not write \(snapshot_date=2025-08-10\/report\.jsonl\); it will not overwrite or delete them/);
  expect(fingerprint(out)).toEqual(before);
});

test('a corrupt .gz is reported and skipped; the files after it are processed; exit 1 after the summary', () => {
  const input = folder('corrupt', {
    '2025-08-10/a.jsonl': `${line('FAC1', '2025-08-10', '2025-09-01')}\n`,
    '2025-08-10/b.jsonl.gz': gzipSync(`${line('FAC2', '2025-08-10', '2025-09-01')}\n`).subarray(0, 20),
    '2025-08-10/c.jsonl': `${line('FAC3', '2025-08-10', '2025-09-02')}\n\n`,
  });
  const out = join(work, 'corrupt-out');
  const r = cli(['expiring', '--input', input, '--output', out], { cwd: work });
  expect(r.status).toBe(1);
  const err = r.stderr.trim().split('\n');
  expect(err[0]).toMatch(/^medlaunch-elt: expiring: skipped unreadable input: .*b\.jsonl\.gz: gzip stream is corrupt or truncated/);
  expect(err[err.length - 1]).toBe('medlaunch-elt: expiring: 1 input of 3 could not be read; the others were processed');
  expect(r.stdout).toMatch(/^read 3 lines from 2 files: 2 records \+ 1 blank line/m);
  expect(readFileSync(join(out, 'snapshot_date=2025-08-10', 'c.jsonl'), 'utf8')).toMatch(/FAC3/);
  expect(existsSync(join(out, 'snapshot_date=2025-08-10', 'b.jsonl'))).toBe(false);
  const json = cli(['expiring', '--input', input, '--output', out, '--json'], { cwd: work });
  expect(json.status).toBe(1);
  expect(lastJson(json.stdout)).toMatchObject({ read: 2, matched: 2, blank: 1, unreadable: [{ input: expect.stringMatching(/b\.jsonl\.gz$/) }] });
});

test('a folder with no data files is an error (exit 2), not an empty success', () => {
  const input = folder('nodata', { '2025-08-10/notes.txt': 'not data' });
  const r = cli(['expiring', '--input', input, '--output', join(work, 'nodata-out')], { cwd: work });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/--input .*nodata holds no data files \(\.jsonl, \.ndjson, \.json, optionally \.gz\)/);
  expect(existsSync(join(work, 'nodata-out'))).toBe(false);
});

describe('S3 inputs and outputs (a local S3): errors name the operation and the s3:// URI', () => {
  let s3: LocalS3;
  let env: Record<string, string>;
  beforeAll(async () => {
    s3 = await LocalS3.start({ rootDir: join(work, 's3') });
    await s3.createBucket('in-bucket');
    env = {
      AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local',
    };
  });
  afterAll(async () => {
    await s3.close();
  });

  test('listing a bucket that does not exist', async () => {
    const r = await cliAsync(['expiring', '--input', 's3://no-such-bucket/data/', '--output', join(work, 's3-out')], { cwd: work, env });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^medlaunch-elt: ListObjectsV2 s3:\/\/no-such-bucket\/data\/ failed: NoSuchBucket \(HTTP 404\): /);
  });

  test('S3 in and out: the second run replaces the first run\'s objects and never reads them back', async () => {
    const put = async (key: string, body: string) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
      const c = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, forcePathStyle: true });
      await c.send(new PutObjectCommand({ Bucket: 'in-bucket', Key: key, Body: body }));
      c.destroy();
    };
    await put('batch/2025-08-10/a.jsonl', `${line('FAC1', '2025-08-10', '2025-09-01')}\n`);
    const first = await cliAsync(['expiring', '--input', 's3://in-bucket/batch/', '--output', 's3://in-bucket/batch/', '--json'], { cwd: work, env });
    expect(first.stderr).toBe('');
    expect(lastJson(first.stdout)).toMatchObject({ read: 1, matched: 1, duplicates: 0 });
    const keysAfterFirst = readdirSync(join(work, 's3', 'in-bucket', 'batch', 'snapshot_date=2025-08-10'));
    expect(keysAfterFirst).toContain('a.jsonl');
    // A second run over the same prefix reads only the input, not the outputs of the first run.
    const second = await cliAsync(['expiring', '--input', 's3://in-bucket/batch/', '--output', 's3://in-bucket/batch/', '--json'], { cwd: work, env });
    expect(lastJson(second.stdout)).toEqual(lastJson(first.stdout));
    // Output to another prefix from a different input: the first run's objects there are replaced.
    await put('other/2025-08-11/b.jsonl', `${line('FAC2', '2025-08-11', '2030-01-01')}\n`);
    expect((await cliAsync(['expiring', '--input', 's3://in-bucket/batch/', '--output', 's3://in-bucket/res/'], { cwd: work, env })).status).toBe(0);
    expect((await cliAsync(['expiring', '--input', 's3://in-bucket/other/', '--output', 's3://in-bucket/res/'], { cwd: work, env })).status).toBe(0);
    expect(existsSync(join(work, 's3', 'in-bucket', 'res', 'snapshot_date=2025-08-10'))).toBe(false);
    expect(existsSync(join(work, 's3', 'in-bucket', 'res', 'snapshot_date=2025-08-11', 'b.jsonl'))).toBe(true);
  });

  test('an empty prefix: no data objects, exit 2', async () => {
    const r = await cliAsync(['expiring', '--input', 's3://in-bucket/data/', '--output', join(work, 's3-out')], { cwd: work, env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--input s3:\/\/in-bucket\/data\/ holds no data files/);
  });
});
