/**
 * End to end: the synthesized AccreditationPipeline (state machine, Lambda assets, event rule, Glue tables,
 * SQL) executed on the embedded local AWS over the shipped data set, checked against the independently
 * computed expectations in test/fixtures/shipped-expected.json.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocalPipeline, LocalRunResult } from '../../local/orchestrator/index';

const DATA = join(__dirname, '..', '..', 'data', 'batch');
const expected: Record<string, any> = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'shipped-expected.json'), 'utf8'),
);

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

function lines(dir: string): string[] {
  return listFiles(dir).flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.trim() !== ''));
}

describe('local pipeline on the shipped data', () => {
  let work: string;
  let result: LocalRunResult;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'medlaunch-e2e-'));
    result = await runLocalPipeline({ dataDir: DATA, workDir: join(work, 'aws') });
  }, 300_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test('every execution succeeds and no alert is sent', () => {
    expect(result.executions.length).toBeGreaterThan(0);
    expect(result.executions.filter((e) => e.status !== 'SUCCEEDED')).toEqual([]);
    expect(result.alerts).toEqual([]);
  });

  test('one execution per uploaded object', () => {
    const files = listFiles(DATA).filter((f) => /\.jsonl(\.gz)?$/.test(f));
    expect(result.executions).toHaveLength(files.length);
  });

  test.each(Object.keys(expected))('snapshot %s matches the expected result of every stage', (d) => {
    const want = expected[d];
    const got = result.snapshots[d];
    expect(got).toBeDefined();
    expect(got.records).toBe(want.records);
    expect(got.valid).toBe(want.valid);
    expect(got.quarantined).toBe(want.quarantined);
    expect(got.records).toBe(got.valid + got.quarantined);
    expect(got.extract_rows).toBe(want.extract_rows);
    expect(got.expiring).toEqual(want.expiring);
    expect(got.state_counts).toEqual(want.state_counts);
  });

  test('outputs on disk: validated, expiring, quarantine, curated Parquet, results and production', () => {
    for (const d of Object.keys(expected)) {
      const want = expected[d];
      const part = `snapshot_date=${d}`;
      const validated = lines(join(result.bucketDir, 'validated', part)).map((l) => JSON.parse(l));
      expect(new Set(validated.map((r) => r.facility_id)).size).toBe(want.valid - want.duplicates);
      const quarantined = lines(join(result.bucketDir, 'quarantine', part)).map((l) => JSON.parse(l));
      expect(quarantined).toHaveLength(want.quarantined);
      for (const q of quarantined) {
        expect(q).toEqual(
          expect.objectContaining({ source_key: expect.any(String), line: expect.any(Number), reason: expect.any(String), raw: expect.any(String) }),
        );
      }
      if (want.quarantine_reasons) {
        const reasons: Record<string, number> = {};
        for (const q of quarantined) reasons[q.reason] = (reasons[q.reason] ?? 0) + 1;
        expect(reasons).toEqual(want.quarantine_reasons);
      }
      const expiring = lines(join(result.bucketDir, 'expiring', part)).map((l) => JSON.parse(l).facility_id).sort();
      expect(expiring).toEqual(want.expiring);
      // Athena names UNLOAD output files without an extension: recognise Parquet by its magic bytes.
      const parquet = listFiles(join(result.bucketDir, 'curated', 'facility_metrics', part))
        .filter((f) => readFileSync(f).subarray(0, 4).toString('latin1') === 'PAR1');
      expect(parquet.length > 0).toBe(want.extract_rows > 0);
      const prod = join(result.bucketDir, 'production', 'state_counts', part);
      const csv = readFileSync(join(prod, 'state_counts.csv'), 'utf8').trim().split('\n');
      expect(csv[0]).toBe('state,accredited_facilities');
      const fromCsv = Object.fromEntries(csv.slice(1).map((l) => l.split(',')).map(([s, n]) => [s, Number(n)]));
      expect(fromCsv).toEqual(want.state_counts);
      const results = JSON.parse(readFileSync(join(result.bucketDir, 'results', 'state_counts', part, 'state_counts.json'), 'utf8'));
      expect(results.snapshot_date).toBe(d);
    }
  });

  test('the bad-data snapshot quarantines its invalid records and changes nothing else', () => {
    const bad = Object.keys(expected).find((d) => expected[d].quarantined > 0)!;
    expect(bad).toBeDefined();
    for (const d of Object.keys(expected).filter((x) => x !== bad)) {
      expect(result.snapshots[d].quarantined).toBe(0);
      expect(listFiles(join(result.bucketDir, 'quarantine', `snapshot_date=${d}`)).flatMap((f) => readFileSync(f, 'utf8').trim() ? [f] : [])).toEqual([]);
    }
  });
});
