/**
 * `medlaunch-elt local --assembly` / `--stack` / `--no-enforce-iam` through the real bin script: a
 * denied grant fails the run (exit 1, one line naming the AccessDenied); the diagnostic switch turns
 * enforcement off; a bad assembly choice is a one-line usage error (exit 2).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { assemblyWithout, synthesizeApp, tinyData } from './iam-helpers';
import { AccreditationPipeline } from '../../src';

jest.setTimeout(300_000);

const BIN = join(__dirname, '..', '..', 'bin', 'medlaunch-elt.js');

let work: string;
let data: string;
let denied: string;

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, 'local', '--data', data, ...args], { cwd: work, encoding: 'utf8', timeout: 280_000 });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-iam-cli-'));
  data = tinyData(join(work, 'data'));
  const file = synthesizeApp(join(work, 'app'));
  denied = assemblyWithout(dirname(file), join(work, 'no-start'), basename(file), { user: /ObjectCreatedRule/, action: 'states:StartExecution' });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('a denied grant fails the run with the AccessDenied; --no-enforce-iam (diagnostic) runs it', () => {
  const r = cli(['--assembly', denied, '--workdir', join(work, 'w1')]);
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/1 event\(s\) could not be delivered; first: data\/batch\/2025-08-10\/facilities_0001\.jsonl: NO_PERMISSIONS: .*is not authorized to perform: states:StartExecution/);
  const off = cli(['--assembly', denied, '--no-enforce-iam', '--workdir', join(work, 'w2')]);
  expect(off.stderr).toBe('');
  expect(off.status).toBe(0);
});

test('several pipeline stacks without --stack, or --stack without --assembly: one-line usage error, exit 2', () => {
  const dir = join(work, 'two');
  const app = new App({ outdir: dir, analyticsReporting: false });
  new AccreditationPipeline(new Stack(app, 'Dev'), 'P');
  new AccreditationPipeline(new Stack(app, 'Prod'), 'P');
  app.synth();
  const r = cli(['--assembly', dir]);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^medlaunch-elt: --assembly .*several stacks hold an AccreditationPipeline \(Dev, Prod\); choose one with --stack\n$/);
  const s = cli(['--stack', 'Dev']);
  expect(s.status).toBe(2);
  expect(s.stderr).toBe('medlaunch-elt: --stack needs --assembly\n');
  const m = cli(['--assembly', dir, '--stack', 'Dev', '--months', '3']);
  expect(m.status).toBe(2);
  expect(m.stderr).toMatch(/--months cannot change a synthesized app/);
});
