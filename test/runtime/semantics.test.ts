import { runChunks } from './validate-helpers';
import { SeenFacilities } from '../../lambda-src/validate';
import { record } from '../support/facility-record';

/** The ids the processor writes to the expiring output for one record set. */
async function expiringIds(records: Array<Record<string, unknown>>, opts: { asOf?: string; months?: number; folder?: string } = {}) {
  const folder = 'folder' in opts ? opts.folder : (records[0]?.snapshot_date as string);
  const { sink, result } = await runChunks([records.map((r) => JSON.stringify(r)).join('\n')], {
    folderSnapshotDate: folder,
    asOf: opts.asOf,
    months: opts.months,
  });
  const ids = [...sink.objects.entries()].filter(([k]) => k.startsWith('expiring/')).flatMap(([, v]) => v.split('\n').filter(Boolean))
    .map((l) => JSON.parse(l).facility_id as string);
  expect(result.matched).toBe(ids.length);
  return ids;
}

describe('expiring within N calendar months (docs/contract.md §2)', () => {
  test.each([
    // [snapshot (= as-of), valid_until, expiring?]
    ['2025-08-31', '2026-02-28', true], // month-end clamping: upper bound is Feb 28
    ['2025-08-31', '2026-03-01', false],
    ['2023-08-31', '2024-02-29', true], // leap year clamping
    ['2023-08-31', '2024-03-01', false],
    ['2025-08-10', '2025-08-10', true], // lower bound inclusive
    ['2025-08-10', '2026-02-10', true], // upper bound inclusive
    ['2025-08-10', '2026-02-11', false],
    ['2025-08-10', '2025-08-09', false], // already expired
    ['2025-01-31', '2025-07-31', true],
    ['2025-12-15', '2026-06-15', true], // year rollover
  ])('as-of %s, valid_until %s → %s', async (snapshot, validUntil, expected) => {
    expect(await expiringIds([record('FAC1', snapshot, [validUntil])])).toEqual(expected ? ['FAC1'] : []);
  });

  test('empty accreditations never expire', async () => {
    expect(await expiringIds([record('FAC1', '2025-08-10', [])])).toEqual([]);
  });

  test('any accreditation counts, not only the first or the earliest', async () => {
    const recs = [
      record('FAC1', '2025-08-10', ['2030-01-01', '2025-09-01']), // second one expiring
      record('FAC2', '2025-08-10', ['2024-01-01', '2030-01-01']), // earliest expired, other far away
      record('FAC3', '2025-08-10', ['2024-01-01', '2025-12-31']), // earliest expired, second in window
    ];
    expect(await expiringIds(recs)).toEqual(['FAC1', 'FAC3']);
  });

  test('--as-of overrides the snapshot date', async () => {
    const r = record('FAC1', '2025-08-10', ['2026-05-01']);
    expect(await expiringIds([r])).toEqual([]);
    expect(await expiringIds([r], { asOf: '2026-01-01' })).toEqual(['FAC1']);
    expect(await expiringIds([r], { asOf: '2026-05-02' })).toEqual([]);
  });

  test('--months changes the window', async () => {
    const r = record('FAC1', '2025-08-10', ['2025-11-10']);
    expect(await expiringIds([r], { months: 3 })).toEqual(['FAC1']);
    expect(await expiringIds([r], { months: 2 })).toEqual([]);
    expect(await expiringIds([record('FAC2', '2025-08-10', ['2025-08-10'])], { months: 0 })).toEqual(['FAC2']);
  });

  test('without a folder, each record uses its own snapshot date as as-of', async () => {
    const recs = [record('FAC1', '2025-01-01', ['2025-06-01']), record('FAC2', '2025-08-01', ['2025-06-01'])];
    expect(await expiringIds(recs, { folder: undefined })).toEqual(['FAC1']);
  });
});

describe('duplicates (docs/contract.md §1)', () => {
  test('first occurrence wins; later ones are counted, valid, not quarantined, not written', async () => {
    const first = record('FAC1', '2025-08-10', ['2025-09-01'], { employee_count: 1 });
    const second = record('FAC1', '2025-08-10', ['2025-09-01'], { employee_count: 2 });
    const { sink, result } = await runChunks([`${JSON.stringify(first)}\n${JSON.stringify(second)}\n`]);
    expect(result).toMatchObject({ read: 2, valid: 2, quarantined: 0, duplicates: 1, matched: 1 });
    expect(sink.lines('validated/snapshot_date=2025-08-10/part.jsonl')).toEqual([JSON.stringify(first)]);
    expect(sink.lines('expiring/snapshot_date=2025-08-10/part.jsonl')).toEqual([JSON.stringify(first)]);
    expect(sink.lines('quarantine/snapshot_date=2025-08-10/part.jsonl')).toEqual([]);
  });

  test('a shared seen-set detects duplicates across the inputs of one run', async () => {
    const seen = new SeenFacilities();
    const line = JSON.stringify(record('FAC1', '2025-08-10', []));
    const a = await runChunks([line], { seen, stem: 'a' });
    const b = await runChunks([line], { seen, stem: 'b' });
    expect(a.result.duplicates).toBe(0);
    expect(b.result).toMatchObject({ valid: 1, duplicates: 1 });
  });

  test('the duplicate index: leading zeros, long ids, many ids, two snapshots', () => {
    const seen = new SeenFacilities();
    // FAC7, FAC07 and FAC007 are three facilities (ids are strings, not numbers).
    expect(['FAC7', 'FAC07', 'FAC007', 'FAC0'].map((id) => seen.add('2025-08-10', id))).toEqual([true, true, true, true]);
    expect(['FAC7', 'FAC07', 'FAC007', 'FAC0'].map((id) => seen.add('2025-08-10', id))).toEqual([false, false, false, false]);
    // 14 digits are encoded as numbers; 15 and more (and anything unexpected) fall back to strings.
    const long = ['FAC99999999999999', 'FAC99999999999998', 'FAC999999999999999', 'FAC123456789012345678901234567890', 'X1'];
    expect(long.map((id) => seen.add('2025-08-10', id))).toEqual([true, true, true, true, true]);
    expect(long.map((id) => seen.add('2025-08-10', id))).toEqual([false, false, false, false, false]);
    // Growth far past the initial table keeps every id (and finds every duplicate).
    for (let i = 1; i <= 50_000; i++) expect(seen.add('2025-08-11', `FAC${i}`)).toBe(true);
    let dupes = 0;
    for (let i = 1; i <= 50_000; i++) if (!seen.add('2025-08-11', `FAC${i}`)) dupes++;
    expect(dupes).toBe(50_000);
    expect(seen.add('2025-08-11', 'FAC7')).toBe(false);
    expect(seen.add('2025-08-12', 'FAC7')).toBe(true);
    expect(seen.size).toBe(4 + long.length + 50_000 + 1);
  });

  test('the same facility in two snapshots is two records', async () => {
    const { result } = await runChunks([
      `${JSON.stringify(record('FAC1', '2025-08-10', []))}\n${JSON.stringify(record('FAC1', '2025-08-11', []))}`,
    ], { folderSnapshotDate: undefined });
    expect(result).toMatchObject({ valid: 2, duplicates: 0 });
    expect(Object.keys(result.partitions)).toEqual(['2025-08-10', '2025-08-11']);
  });
});

describe('quarantine records and counts', () => {
  test('read = valid + quarantined; blank lines are counted, not quarantined', async () => {
    const good = JSON.stringify(record('FAC1', '2025-08-10', []));
    const bad = JSON.stringify(record('FAC2', '2025-08-10', [], { employee_count: -5 }));
    const { sink, result } = await runChunks([`${good}\n\n   \n${bad}\n{oops\n[1]\n`]);
    expect(result).toMatchObject({ read: 4, valid: 1, quarantined: 3, blank: 2, duplicates: 0 });
    expect(result.read).toBe(result.valid + result.quarantined);
    const q = sink.lines('quarantine/snapshot_date=2025-08-10/part.jsonl').map((l) => JSON.parse(l));
    expect(q.map((e) => [e.line, e.reason])).toEqual([[4, 'negative_value'], [5, 'invalid_json'], [6, 'not_an_object']]);
    expect(q[0]).toEqual({
      source_key: 'data/batch/2025-08-10/part.jsonl',
      line: 4,
      reason: 'negative_value',
      reasons: [expect.objectContaining({ code: 'negative_value', field: 'employee_count' })],
      snapshot_date: '2025-08-10',
      raw: bad,
    });
  });

  test('without a folder, a quarantined line goes to its record snapshot, else "unknown"', async () => {
    const bad = JSON.stringify(record('FAC2', '2025-08-12', [], { employee_count: 'x' }));
    const { sink, result } = await runChunks([`${bad}\nnot json\n`], { folderSnapshotDate: undefined });
    expect(result.quarantined).toBe(2);
    expect(sink.lines('quarantine/snapshot_date=2025-08-12/part.jsonl')).toHaveLength(1);
    expect(sink.lines('quarantine/snapshot_date=unknown/part.jsonl')).toHaveLength(1);
    expect(sink.objects.has('validated/snapshot_date=unknown/part.jsonl')).toBe(false);
  });

  test('valid records are written byte-for-byte, extra fields and key order kept', async () => {
    const line = '{"snapshot_date":"2025-08-10","zzz":[1,2.50],"facility_id":"FAC9","facility_name":"X","location":{"state":"PR","zip":"00901","city":"San Juan","address":"1"},"employee_count":0,"services":[],"accreditations":[]}';
    const { sink } = await runChunks([line]);
    expect(sink.objects.get('validated/snapshot_date=2025-08-10/part.jsonl')).toBe(`${line}\n`);
  });

  test('an empty object still writes every output of its partition (outputs are a pure function of the input)', async () => {
    const { sink, result } = await runChunks([]);
    expect(result).toMatchObject({ read: 0, valid: 0, quarantined: 0, blank: 0 });
    expect([...sink.objects.keys()].sort()).toEqual([
      'expiring/snapshot_date=2025-08-10/part.jsonl',
      'quarantine/snapshot_date=2025-08-10/part.jsonl',
      'validated/snapshot_date=2025-08-10/part.jsonl',
    ]);
    expect([...sink.objects.values()].every((v) => v === '')).toBe(true);
  });
});
