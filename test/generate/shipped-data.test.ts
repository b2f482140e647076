/**
 * The shipped data set (data/batch/) is exactly what `medlaunch-elt generate` writes with the
 * commands documented in docs/data.md, and test/fixtures/shipped-expected.json is exactly what an
 * independent reference implementation of docs/contract.md §2 computes on it.
 *
 * To refresh the fixture after changing the shipped data on purpose:
 *   WRITE_SHIPPED_EXPECTED=1 npx jest test/generate/shipped-data.test.ts
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refExpectations, refViolation } from './reference';
import { run } from '../../cli/commands/generate';
import { GENERATE_MANIFEST } from '../../cli/generate/writer';

const ROOT = join(__dirname, '..', '..');
const SHIPPED = join(ROOT, 'data', 'batch');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'shipped-expected.json');

/** The exact arguments of `npx medlaunch-elt generate` that produced data/batch (see docs/data.md). */
export const SHIPPED_COMMANDS: string[][] = [
  ['--n', '20', '--chunk', '8', '--snapshot', '2025-08-10'],
  ['--n', '50', '--chunk', '20', '--snapshot', '2025-08-11', '--start-index', '21'],
  ['--n', '2', '--bad', '3', '--bad-kinds', 'malformed-json,impossible-date,snapshot-date-mismatch',
    '--duplicates', '1', '--blank', '1', '--chunk', '2', '--snapshot', '2025-08-13', '--start-index', '71'],
];

function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== GENERATE_MANIFEST)
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('shipped data set', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'medlaunch-shipped-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('regenerating with the documented commands gives the shipped files byte for byte', async () => {
    for (const args of SHIPPED_COMMANDS) {
      expect(await run([...args, '--outdir', tmp, '--quiet'])).toBe(0);
    }
    const shipped = listTree(SHIPPED);
    expect(listTree(tmp)).toEqual(shipped);
    expect(shipped).toEqual([
      '2025-08-10/facilities_0001.jsonl', '2025-08-10/facilities_0002.jsonl', '2025-08-10/facilities_0003.jsonl',
      '2025-08-11/facilities_0001.jsonl', '2025-08-11/facilities_0002.jsonl', '2025-08-11/facilities_0003.jsonl',
      '2025-08-13/facilities_0001.jsonl', '2025-08-13/facilities_0002.jsonl', '2025-08-13/facilities_0003.jsonl',
    ]);
    for (const f of shipped) {
      expect({ file: f, bytes: readFileSync(join(tmp, f)).equals(readFileSync(join(SHIPPED, f))) }).toEqual({ file: f, bytes: true });
    }
  });

  test('the fixture equals the reference computation on the shipped files', () => {
    const expected = refExpectations(SHIPPED, 6);
    if (process.env.WRITE_SHIPPED_EXPECTED) writeFileSync(FIXTURE, `${JSON.stringify(expected, null, 2)}\n`);
    const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    expect(fixture).toEqual(expected);
  });

  test('the shipped set has the original shape: 76 records, 20 + 50 + 6, with bad data only on 2025-08-13', () => {
    const exp = refExpectations(SHIPPED, 6);
    expect(Object.keys(exp)).toEqual(['2025-08-10', '2025-08-11', '2025-08-13']);
    expect(exp['2025-08-10']).toMatchObject({ records: 20, valid: 20, quarantined: 0, duplicates: 0, blank: 0, extract_rows: 20 });
    expect(exp['2025-08-11']).toMatchObject({ records: 50, valid: 50, quarantined: 0, duplicates: 0, blank: 0, extract_rows: 50 });
    expect(exp['2025-08-13']).toMatchObject({ records: 6, valid: 3, quarantined: 3, duplicates: 1, blank: 1, extract_rows: 2 });
    // Every branch sees data in the clean snapshots: expiring and not, accredited and not.
    for (const d of ['2025-08-10', '2025-08-11']) {
      expect(exp[d].expiring.length).toBeGreaterThan(0);
      expect(exp[d].expiring.length).toBeLessThan(exp[d].extract_rows);
      const accredited = Object.values(exp[d].state_counts).reduce((a, b) => a + b, 0);
      expect(accredited).toBeGreaterThan(0);
      expect(accredited).toBeLessThanOrEqual(exp[d].extract_rows);
    }
  });

  test('the invalid lines of 2025-08-13 each break a different rule', () => {
    const dir = join(SHIPPED, '2025-08-13');
    const reasons = readdirSync(dir).sort()
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l.trim() !== ''))
      .map((l) => refViolation(l, '2025-08-13'))
      .filter((r) => r !== null);
    expect(reasons.sort()).toEqual(['json', 'snapshot_date', 'valid_until']);
  });
});
