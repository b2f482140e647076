import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { EXPIRING_MANIFEST, run } from '../../cli/commands/expiring';
import { record } from '../support/facility-record';

let dir: string;
let out: string[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'expiring-cli-'));
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((s: any) => {
    out.push(String(s));
    return true;
  });
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const lastJson = () => JSON.parse(out.join('').trim().split('\n').pop()!);
const lines = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean);
const ids = (p: string) => lines(p).map((l) => JSON.parse(l).facility_id);

function writeInput(rel: string, content: string | Buffer): string {
  const p = join(dir, 'in', rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  return p;
}

describe('medlaunch-elt expiring', () => {
  test('folder input: expiring, _validated and _quarantine outputs and the --json line', async () => {
    const a = record('FAC1', '2025-08-10', ['2025-09-01']);
    const b = record('FAC2', '2025-08-10', ['2030-01-01']);
    writeInput('2025-08-10/part-1.jsonl', `${JSON.stringify(a)}\n\n${JSON.stringify(b)}\n{oops\n`);
    writeInput('2025-08-10/part-2.jsonl.gz', gzipSync(`${JSON.stringify({ ...a, employee_count: 99 })}\n`));
    writeInput('2025-08-10/notes.txt', 'ignored');
    const code = await run(['--input', join(dir, 'in'), '--output', join(dir, 'out'), '--json']);
    expect(code).toBe(0);
    expect(lastJson()).toEqual({ read: 4, valid: 3, matched: 1, quarantined: 1, duplicates: 1, blank: 1 });
    expect(ids(join(dir, 'out/snapshot_date=2025-08-10/part-1.jsonl'))).toEqual(['FAC1']);
    expect(ids(join(dir, 'out/_validated/snapshot_date=2025-08-10/part-1.jsonl'))).toEqual(['FAC1', 'FAC2']);
    expect(lines(join(dir, 'out/_validated/snapshot_date=2025-08-10/part-2.jsonl.gz.jsonl'))).toEqual([]); // injective stems: part-2.jsonl.gz keeps its extension
    const q = lines(join(dir, 'out/_quarantine/snapshot_date=2025-08-10/part-1.jsonl')).map((l) => JSON.parse(l));
    expect(q).toEqual([expect.objectContaining({ line: 4, reason: 'invalid_json', raw: '{oops', snapshot_date: '2025-08-10' })]);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual([EXPIRING_MANIFEST, '_quarantine', '_validated', 'snapshot_date=2025-08-10']);
  });

  test('duplicates are detected across several --input values, first one wins', async () => {
    const a = writeInput('x/2025-08-10/a.jsonl', JSON.stringify(record('FAC1', '2025-08-10', ['2025-09-01'], { employee_count: 1 })));
    const b = writeInput('y/2025-08-10/a.jsonl', JSON.stringify(record('FAC1', '2025-08-10', ['2025-09-01'], { employee_count: 2 })));
    expect(await run(['--input', a, '--input', b, '--output', join(dir, 'out'), '--json'])).toBe(0);
    expect(lastJson()).toMatchObject({ read: 2, valid: 2, duplicates: 1, matched: 1 });
    const exp = lines(join(dir, 'out/snapshot_date=2025-08-10/a.jsonl'));
    expect(exp.map((l) => JSON.parse(l).employee_count)).toEqual([1]);
    // the second input's outputs get their own name instead of overwriting the first one's
    expect(lines(join(dir, 'out/snapshot_date=2025-08-10/a~2.jsonl'))).toEqual([]);
  });

  test('--as-of and --months', async () => {
    const p = writeInput('2025-08-10/a.jsonl', JSON.stringify(record('FAC1', '2025-08-10', ['2026-05-01'])));
    await run(['--input', p, '--output', join(dir, 'o1'), '--json']);
    expect(lastJson().matched).toBe(0);
    await run(['--input', p, '--output', join(dir, 'o2'), '--as-of', '2026-01-01', '--json']);
    expect(lastJson().matched).toBe(1);
    await run(['--input', p, '--output', join(dir, 'o3'), '--months', '9', '--json']);
    expect(lastJson().matched).toBe(1);
  });

  test('a re-run overwrites the same files with the same bytes', async () => {
    writeInput('2025-08-10/a.jsonl', `${JSON.stringify(record('FAC1', '2025-08-10', ['2025-09-01']))}\nbad\n`);
    await run(['--input', join(dir, 'in'), '--output', join(dir, 'out')]);
    const first = readFileSync(join(dir, 'out/_quarantine/snapshot_date=2025-08-10/a.jsonl'), 'utf8');
    await run(['--input', join(dir, 'in'), '--output', join(dir, 'out')]);
    expect(readFileSync(join(dir, 'out/_quarantine/snapshot_date=2025-08-10/a.jsonl'), 'utf8')).toBe(first);
    expect(out.join('')).toMatch(/1 facility expiring within 6 months/);
  });

  test.each([
    [[], /--input is required/],
    [['--input', 'x'], /--output is required/],
    [['--input', '/definitely/not/here', '--output', '/tmp/x'], /input not found/],
    [['--input', '.', '--output', '/tmp/x', '--as-of', '2025-02-30'], /--as-of/],
    [['--input', '.', '--output', '/tmp/x', '--months', '1.5'], /--months/],
    [['--input', '.', '--output', '/tmp/x', '--months=-1'], /--months/],
    [['--input', '.', '--output', '/tmp/x', '--months', '0'], /--months must be an integer from 1 to 120/],
    [['--input', '.', '--output', '/tmp/x', '--months', '121'], /--months must be an integer from 1 to 120/],
  ])('bad arguments %j → UsageError', async (argv, message) => {
    await expect(run(argv as string[])).rejects.toMatchObject({ name: 'UsageError', message: expect.stringMatching(message) });
  });

  test('unknown options are rejected by the strict parser', async () => {
    await expect(run(['--input', '.', '--output', '/tmp/x', '--bogus'])).rejects.toMatchObject({
      name: 'UsageError', message: expect.stringMatching(/^expiring: Unknown option '--bogus'/),
    });
  });

  test('--help', async () => {
    expect(await run(['--help'])).toBe(0);
    expect(out.join('')).toMatch(/usage: medlaunch-elt expiring/);
  });
});
