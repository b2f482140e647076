/**
 * `local --workdir`: a run clears only a folder an earlier run created (it holds the marker file);
 * everything else keeps the user's files and is refused with exit 2 and a one-line reason.
 * (That a marked folder is cleared and re-marked by a real run is in test/e2e/cli-local.test.ts.)
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, copyOfShipped, fingerprint, tempDir } from './cli-helpers';
import { checkWorkDir, prepareWorkDir, WORKDIR_MARKER } from '../../local/orchestrator/index';

let work: string;
let data: string;
beforeAll(() => {
  work = tempDir('workdir');
  data = copyOfShipped(work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function refused(args: string[], cwd: string, env?: Record<string, string>) {
  const r = cli(['local', '--data', data, ...args], { cwd, env });
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr.trim();
}

test('a non-empty folder local did not create is refused and keeps every file (npx medlaunch-elt local --workdir src)', () => {
  const project = join(work, 'project');
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'src', 'index.ts'), 'export const answer = 42;\n');
  writeFileSync(join(project, 'src', 'util.ts'), 'export {};\n');
  const before = fingerprint(join(project, 'src'));
  const message = refused(['--workdir', 'src'], project);
  expect(message).toMatch(/^medlaunch-elt: --workdir src: it is not empty and was not created by medlaunch-elt local \(no \.medlaunch-elt-workdir inside\)/);
  expect(fingerprint(join(project, 'src'))).toEqual(before);
  expect(existsSync(join(project, 'src', WORKDIR_MARKER))).toBe(false);
});

test('the current folder, its parents, the home folder and / are never cleared, marked or not', () => {
  const cwd = join(work, 'here', 'deep');
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(cwd, WORKDIR_MARKER), '');
  writeFileSync(join(cwd, 'notes.txt'), 'mine');
  expect(refused(['--workdir', '.'], cwd)).toMatch(/--workdir \.: it is or contains the current folder/);
  expect(refused(['--workdir', '..'], cwd)).toMatch(/it is or contains the current folder/);
  expect(refused(['--workdir', '/'], cwd)).toMatch(/it is or contains \//);
  const home = join(work, 'home');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, WORKDIR_MARKER), '');
  expect(refused(['--workdir', home], work, { HOME: home })).toMatch(/it is or contains the home folder/);
  expect(readFileSync(join(cwd, 'notes.txt'), 'utf8')).toBe('mine');
  expect(existsSync(home)).toBe(true);
});

test('the repository root is never cleared, even when marked', () => {
  const repo = join(work, 'repo');
  mkdirSync(join(repo, '.git'), { recursive: true });
  mkdirSync(join(repo, 'sub'), { recursive: true });
  writeFileSync(join(repo, WORKDIR_MARKER), '');
  expect(refused(['--workdir', repo], join(repo, 'sub'))).toMatch(/it is or contains the repository root/);
  expect(existsSync(join(repo, '.git'))).toBe(true);
});

test('a folder holding --data, inside it or equal to it is never cleared', () => {
  const before = fingerprint(data);
  expect(refused(['--workdir', data], work)).toMatch(/it holds, lies inside or is the --data folder/);
  expect(refused(['--workdir', join(data, '2025-08-10')], work)).toMatch(/--data folder/);
  expect(refused(['--workdir', join(data, 'out')], work)).toMatch(/--data folder/);
  const elsewhere = tempDir('workdir-cwd');
  writeFileSync(join(work, WORKDIR_MARKER), '');
  try {
    expect(refused(['--workdir', work], elsewhere)).toMatch(/--data folder/);
  } finally {
    rmSync(join(work, WORKDIR_MARKER));
    rmSync(elsewhere, { recursive: true, force: true });
  }
  expect(fingerprint(data)).toEqual(before);
});

test('a file given as --workdir is refused', () => {
  const f = join(work, 'afile');
  writeFileSync(f, 'x');
  expect(refused(['--workdir', f], work)).toMatch(/it is a file, not a folder/);
  expect(readFileSync(f, 'utf8')).toBe('x');
});

describe('checkWorkDir / prepareWorkDir (what the runner itself enforces)', () => {
  test('a new or empty folder is accepted and marked; a marked one is cleared except for the marker', () => {
    const w = join(work, 'fresh');
    expect(checkWorkDir(w, data)).toBeUndefined();
    prepareWorkDir(w, data);
    expect(existsSync(join(w, WORKDIR_MARKER))).toBe(true);
    mkdirSync(join(w, 's3', 'bucket'), { recursive: true });
    writeFileSync(join(w, 's3', 'bucket', 'stale.jsonl'), 'old');
    prepareWorkDir(w, data);
    expect(existsSync(join(w, 's3'))).toBe(false);
    expect(existsSync(join(w, WORKDIR_MARKER))).toBe(true);
  });

  test('a folder an earlier version of local wrote (only its own entries, with cdk.out/manifest.json) is recognised', () => {
    const w = join(work, 'legacy');
    mkdirSync(join(w, 'cdk.out'), { recursive: true });
    mkdirSync(join(w, 's3'), { recursive: true });
    writeFileSync(join(w, 'cdk.out', 'manifest.json'), '{}');
    expect(checkWorkDir(w, data)).toBeUndefined();
    writeFileSync(join(w, 'thesis.tex'), 'mine');
    expect(checkWorkDir(w, data)).toMatch(/was not created by medlaunch-elt local/);
  });

  test('the runner refuses an unmarked non-empty folder even when called directly', () => {
    const w = join(work, 'users');
    mkdirSync(w, { recursive: true });
    writeFileSync(join(w, 'keep.txt'), 'keep');
    expect(() => prepareWorkDir(w, data)).toThrow(/was not created by medlaunch-elt local/);
    expect(readFileSync(join(w, 'keep.txt'), 'utf8')).toBe('keep');
  });
});
