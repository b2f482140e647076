/** The command line's conventions, through the built bin script: usage, help, version, one-line errors. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ROOT, SHIPPED, tempDir } from './cli-helpers';

let work: string;
beforeAll(() => {
  work = tempDir('cmdline');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const oneLine = (s: string) => s.trim().split('\n').length === 1;

describe('usage, help and version', () => {
  test('the bare command prints the usage on stderr and exits 2', () => {
    const r = cli([], { cwd: work });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^usage: medlaunch-elt <command>/);
  });

  test.each([['--help'], ['-h'], ['help']])('%s prints the usage on stdout and exits 0', (flag) => {
    const r = cli([flag], { cwd: work });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^usage: medlaunch-elt <command>/);
  });

  test.each(['local', 'expiring', 'generate'])('help %s prints that command\'s help, as --help does', (command) => {
    const viaHelp = cli(['help', command], { cwd: work });
    const viaFlag = cli([command, '--help'], { cwd: work });
    expect(viaHelp.status).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaHelp.stdout).toMatch(new RegExp(`^usage: medlaunch-elt ${command}`));
  });

  test('--version prints the package version', () => {
    const r = cli(['--version'], { cwd: work });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });
});

describe('bad arguments: one line on stderr, exit 2, nothing run', () => {
  test.each([
    [['generate', '--n', '-1', '--snapshot', '2025-08-10', '--outdir', 'x'], /^medlaunch-elt: generate: --n must be a positive integer \(got '-1'\)$/],
    [['local', '--duplicate-events', '-1'], /^medlaunch-elt: --duplicate-events must be an integer ≥ 0 \(got '-1'\)$/],
    [['local', '--months', '0'], /^medlaunch-elt: local: --months must be an integer from 1 to 120 \(got '0'\)$/],
    [['local', '--months', '121'], /--months must be an integer from 1 to 120/],
    [['expiring', '--input', '.', '--output', 'o', '--months', '0'], /^medlaunch-elt: expiring: --months must be an integer from 1 to 120 \(got '0'\)$/],
    [['expiring', '--input', '.', '--output', 'o', '--months', '121'], /expiring: --months must be an integer from 1 to 120/],
    [['expiring', '--input', '.', '--output', 'o', '--months', '-3'], /expiring: --months must be an integer from 1 to 120 \(got '-3'\)/],
    [['expiring', '--input', '.', '--bogus'], /^medlaunch-elt: expiring: Unknown option '--bogus'/],
  ])('%j', (args, message) => {
    const r = cli(args as string[], { cwd: work });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe(true);
    expect(r.stderr.trim()).toMatch(message as RegExp);
    expect(r.stderr).not.toMatch(/ambiguous/);
  });

  test('a snapshot folder that is not a calendar date is refused before anything is uploaded', () => {
    const data = join(work, 'baddate');
    mkdirSync(join(data, '2025-02-30'), { recursive: true });
    writeFileSync(join(data, '2025-02-30', 'a.jsonl'), '{}\n');
    const r = cli(['local', '--data', data, '--workdir', join(work, 'w-baddate')], { cwd: work });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe(true);
    expect(r.stderr).toMatch(/snapshot folder 2025-02-30 is not a calendar date/);
    expect(r.stdout).toBe('');
  });

  test('--data pointing at a snapshot folder says to pass its parent', () => {
    const r = cli(['local', '--data', join(SHIPPED, '2025-08-10')], { cwd: ROOT });
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe(true);
    expect(r.stderr).toMatch(/2025-08-10 is itself a snapshot folder: pass its parent, --data data\/batch$/m);
  });

  test('--data whose snapshot folders are all empty is refused', () => {
    const data = join(work, 'empty');
    mkdirSync(join(data, '2025-08-10'), { recursive: true });
    const r = cli(['local', '--data', data], { cwd: work });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/the snapshot folders hold no data files/);
  });
});
