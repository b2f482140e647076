/**
 * `generate` never mixes old and new files: a run into a snapshot folder replaces exactly the files an
 * earlier generate wrote there (its manifest), and refuses a folder holding anything else.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, fingerprint, ROOT, SHIPPED, tempDir } from './cli-helpers';
import { GENERATE_MANIFEST } from '../../cli/generate/writer';

let work: string;
beforeAll(() => {
  work = tempDir('generate');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const gen = (args: string[], cwd = work) => cli(['generate', '--snapshot', '2025-09-01', ...args], { cwd });
const listing = (dir: string) => readdirSync(dir).sort();
const lineCount = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.jsonl'))
  .reduce((n, f) => n + readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).length, 0);

test('a second run into the same snapshot replaces the first run\'s files: --n 30 --chunk 10, then --n 10', () => {
  const out = join(work, 'again');
  const dir = join(out, '2025-09-01');
  expect(gen(['--n', '30', '--chunk', '10', '--outdir', out]).status).toBe(0);
  expect(listing(dir)).toEqual([GENERATE_MANIFEST, 'facilities_0001.jsonl', 'facilities_0002.jsonl', 'facilities_0003.jsonl']);
  const r = gen(['--n', '10', '--outdir', out]);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/generated 10 records .* in 1 file under .* \(replacing the 3 files an earlier generate wrote there\)/);
  expect(listing(dir)).toEqual([GENERATE_MANIFEST, 'facilities_0001.jsonl']);
  expect(lineCount(dir)).toBe(10);
  expect(JSON.parse(readFileSync(join(dir, GENERATE_MANIFEST), 'utf8'))).toEqual({ writer: 'medlaunch-elt generate', files: ['facilities_0001.jsonl'] });
});

test('switching to --gzip replaces the plain files too', () => {
  const out = join(work, 'gz');
  expect(gen(['--n', '20', '--chunk', '10', '--outdir', out]).status).toBe(0);
  expect(gen(['--n', '20', '--chunk', '10', '--outdir', out, '--gzip']).status).toBe(0);
  expect(listing(join(out, '2025-09-01'))).toEqual([GENERATE_MANIFEST, 'facilities_0001.jsonl.gz', 'facilities_0002.jsonl.gz']);
});

test('a snapshot folder holding files generate did not write is refused and left untouched', () => {
  const out = join(work, 'users');
  const dir = join(out, '2025-09-01');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'facilities_0001.jsonl'), '{"facility_id":"MINE"}\n');
  writeFileSync(join(dir, 'notes.txt'), 'keep me');
  const before = fingerprint(dir);
  const r = gen(['--n', '5', '--outdir', out]);
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/holds files generate did not write \(facilities_0001\.jsonl, notes\.txt\); it never overwrites or mixes with them — pass another --outdir or --snapshot/);
  expect(fingerprint(dir)).toEqual(before);
});

test('a folder generate wrote, to which the user added a file, is refused as a whole (nothing deleted)', () => {
  const out = join(work, 'mixed');
  const dir = join(out, '2025-09-01');
  expect(gen(['--n', '5', '--outdir', out]).status).toBe(0);
  writeFileSync(join(dir, 'extra.jsonl'), '{}\n');
  const before = fingerprint(dir);
  const r = gen(['--n', '5', '--outdir', out]);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/extra\.jsonl/);
  expect(fingerprint(dir)).toEqual(before);
});

test('the shipped sample snapshots are protected: the default --outdir data/batch refuses to touch them', () => {
  const before = fingerprint(SHIPPED);
  const r = cli(['generate', '--n', '5', '--snapshot', '2025-08-10'], { cwd: ROOT });
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^medlaunch-elt: generate: data\/batch\/2025-08-10 holds files generate did not write .* \(they are the shipped sample data set\) — pass another --outdir/);
  expect(fingerprint(SHIPPED)).toEqual(before);
  expect(existsSync(join(SHIPPED, '2025-08-10', GENERATE_MANIFEST))).toBe(false);
});
