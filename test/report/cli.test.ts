/** `medlaunch-elt report` as a user runs it: the built CLI (bin/medlaunch-elt.js → lib-cli, `node scripts/bundle.mjs`). */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildReportFixture, REPO, type ReportFixture } from './support/fixture';
import { LocalS3 } from '../../local/s3';

interface Result { status: number | null; stdout: string; stderr: string }

/** Runs the CLI without blocking the event loop (the AWS case talks to an embedded S3 served by this process). */
function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'medlaunch-elt.js'), 'report', ...args], { cwd: REPO, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += String(d); });
    child.stderr.on('data', (d) => { stderr += String(d); });
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

describe('medlaunch-elt report', () => {
  let f: ReportFixture;
  beforeAll(async () => {
    f = await buildReportFixture();
  });
  afterAll(() => f?.cleanup());

  it('writes <workdir>/report.html by default, prints its path, and replaces it on the next run', async () => {
    const first = await cli(['--workdir', f.workDir]);
    expect(first).toMatchObject({ status: 0, stderr: '' });
    const out = join(f.workDir, 'report.html');
    expect(first.stdout).toBe(`report: 3 snapshots, 9 execution traces → ${out}\n`);
    const page = readFileSync(out, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/);
    expect(page).toContain('<meta name="generator" content="medlaunch-elt report">');
    // Its own page is replaced (the generation time changes).
    const second = await cli(['--workdir', f.workDir, '--snapshots', '1']);
    expect(second).toMatchObject({ status: 0, stdout: `report: 1 snapshot of 3, 9 execution traces → ${out}\n` });
    expect(readFileSync(out, 'utf8')).not.toBe(page);
  });

  it('never replaces a file it did not write', async () => {
    const mine = join(f.workDir, 'notes.html');
    writeFileSync(mine, '<html>my notes</html>');
    const r = await cli(['--workdir', f.workDir, '--out', mine]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^medlaunch-elt: report: --out .*notes.html: the file exists and was not written by medlaunch-elt report; it is never replaced — pass a new file name\n$/);
    expect(readFileSync(mine, 'utf8')).toBe('<html>my notes</html>');
  });

  it.each([
    [['--snapshots', '0'], "report: --snapshots must be an integer from 1 to 1000 (got '0')"],
    [['--snapshots', '-2'], "report: --snapshots must be an integer from 1 to 1000 (got '-2')"],
    [['--region', 'eu-west-1'], 'report: --region needs --bucket (a local work folder knows its own)'],
    [['--bucket', 'b-1', '--workdir', 'x'], 'report: --workdir and --bucket exclude each other (a local run or a bucket in AWS)'],
    [['--bucket', 'Bad_Name'], 'report: --bucket Bad_Name: not a bucket name'],
    [['--bucket', 'b-1', '--reports-prefix', 'reports'], 'report: --reports-prefix reports: a prefix ends with / and does not start with one'],
    [['--bucket', 'b-1', '--state-machine', 'arn:aws:states:us-east-1:1:execution:x:y'], 'report: --state-machine arn:aws:states:us-east-1:1:execution:x:y: expected arn:aws:states:<region>:<account>:stateMachine:<name>'],
    [['--out', '/nonexistent-folder/r.html'], 'report: --out /nonexistent-folder/r.html: the folder /nonexistent-folder does not exist'],
    [['--colour'], "report: Unknown option '--colour'"],
  ])('refuses %j in one line (exit 2)', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r).toMatchObject({ status: 2, stdout: '' });
    expect(r.stderr).toMatch(new RegExp(`^medlaunch-elt: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('fails in one line (exit 1) on a folder that holds no local run', async () => {
    const r = await cli(['--workdir', join(f.workDir, 'cdk.out'), '--out', join(f.workDir, 'x.html')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`medlaunch-elt: report: ${join(f.workDir, 'cdk.out')}: not the work folder of a local run (no s3/ inside)\n`);
    expect(existsSync(join(f.workDir, 'x.html'))).toBe(false);
  });

  it('reads a bucket through the SDK\'s endpoint settings (--bucket), noting what Step Functions could not answer', async () => {
    const server = await LocalS3.start({ rootDir: join(f.workDir, 's3') });
    try {
      const out = join(f.workDir, 'aws.html');
      const r = await cli(['--bucket', f.bucket, '--region', 'us-east-1', '--out', out, '--snapshots', '1'], {
        AWS_ENDPOINT_URL_S3: server.endpoint,
        // Nothing listens there: every Step Functions read fails, and the page is made without the diagram.
        AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:9',
        AWS_ACCESS_KEY_ID: 'report-test',
        AWS_SECRET_ACCESS_KEY: 'report-test',
        AWS_MAX_ATTEMPTS: '1',
      });
      expect(r.stdout).toBe(`report: 1 snapshot of 3, 0 execution traces → ${out}\n`);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/^medlaunch-elt: note: DescribeStateMachine arn:aws:states:us-east-1:000000000000:stateMachine:/);
      expect(readFileSync(out, 'utf8')).toContain('>Snapshot 2025-08-13</h2>');
    } finally {
      await server.close();
    }
  });
});
