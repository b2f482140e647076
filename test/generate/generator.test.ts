import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { refAddMonths, refIsDate, refViolation } from './reference';
import { parseGenerateArgs, run } from '../../cli/commands/generate';
import { UsageError } from '../../cli/errors';
import { BAD_KINDS, BadKind, DEFAULT_SEED, generateItems, generateLines, makeRecord } from '../../cli/generate/generator';
import { ACCREDITATION_BODIES, CITIES, FACILITY_TYPES, LAB_CERTIFICATIONS } from '../../cli/generate/reference-data';
import { chunkFileName, GENERATE_MANIFEST, writeDataset } from '../../cli/generate/writer';
import { main } from '../../cli/index';

const SNAP = '2025-08-10';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'medlaunch-gen-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let dirCount = 0;
const freshDir = () => join(tmp, `out${++dirCount}`);

/** The data files of a folder (generate's manifest is left out). */
const dataFiles = (dir: string) => readdirSync(dir).filter((f) => f !== GENERATE_MANIFEST).sort();

function readAll(dir: string): Buffer {
  return Buffer.concat(dataFiles(dir).map((f) => readFileSync(join(dir, f))));
}

describe('generateLines / generateItems', () => {
  test('same seed gives the same lines; a different seed gives different lines', () => {
    const a = [...generateLines({ n: 200, snapshot: SNAP, seed: 7, bad: 12, duplicates: 2, blank: 2 })];
    const b = [...generateLines({ n: 200, snapshot: SNAP, seed: 7, bad: 12, duplicates: 2, blank: 2 })];
    const c = [...generateLines({ n: 200, snapshot: SNAP, seed: 8, bad: 12, duplicates: 2, blank: 2 })];
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(a.length).toBe(216);
    const def = [...generateLines({ n: 5, snapshot: SNAP })];
    expect([...generateLines({ n: 5, snapshot: SNAP, seed: DEFAULT_SEED })]).toEqual(def);
  });

  test('a record depends only on (seed, index): n and the start index do not change it', () => {
    const long = [...generateLines({ n: 30, snapshot: SNAP, seed: 3 })];
    const tail = [...generateLines({ n: 10, snapshot: SNAP, seed: 3, startIndex: 21 })];
    expect(tail).toEqual(long.slice(20));
    expect(JSON.parse(long[4])).toEqual(makeRecord(5, SNAP, 3));
  });

  test('ids are FAC%05d, sequential from the start index; default start index is 1', () => {
    const ids = [...generateItems({ n: 12, snapshot: SNAP, startIndex: 99995 })].map((i) => JSON.parse(i.line).facility_id);
    expect(ids[0]).toBe('FAC99995');
    expect(ids[11]).toBe('FAC100006');
    expect(JSON.parse([...generateLines({ n: 1, snapshot: SNAP })][0]).facility_id).toBe('FAC00001');
    expect(JSON.parse([...generateLines({ n: 1, snapshot: SNAP, startIndex: 0 })][0]).facility_id).toBe('FAC00000');
  });

  test("every valid record has the contract's shape (docs/contract.md §1) and passes the reference validator", () => {
    for (const line of generateLines({ n: 500, snapshot: SNAP, seed: 11 })) {
      expect(refViolation(line, SNAP)).toBeNull();
      const r = JSON.parse(line);
      expect(Object.keys(r)).toEqual([
        'facility_id', 'facility_name', 'location', 'employee_count', 'services', 'labs', 'accreditations', 'snapshot_date',
      ]);
      expect(Object.keys(r.location)).toEqual(['address', 'city', 'state', 'zip']);
      expect(r.snapshot_date).toBe(SNAP);
    }
  });

  test('realism: city/state/zip from the table, sane counts, real bodies and certifications', () => {
    const table = new Set(CITIES.map(([c, s, z]) => `${c}|${s}|${z}`));
    const bodies = new Set(Object.values(ACCREDITATION_BODIES));
    const allServices = new Set(FACILITY_TYPES.flatMap((t) => t.services));
    const states = new Set<string>();
    for (const line of generateLines({ n: 2000, snapshot: SNAP, seed: 5 })) {
      const r = JSON.parse(line);
      expect(table.has(`${r.location.city}|${r.location.state}|${r.location.zip}`)).toBe(true);
      states.add(r.location.state);
      expect(r.location.address).toMatch(/^\d{3,4} [A-Z][A-Za-z ]+ [A-Z][a-z]+$/);
      expect(r.facility_name.trim().length).toBeGreaterThan(3);
      expect(r.facility_name).not.toMatch(/[{}]/);
      expect(Number.isInteger(r.employee_count) && r.employee_count > 0).toBe(true);
      expect(r.services.length).toBeGreaterThanOrEqual(1);
      expect(r.services.length).toBeLessThanOrEqual(6);
      expect(new Set(r.services).size).toBe(r.services.length);
      for (const s of r.services) expect(allServices.has(s)).toBe(true);
      expect(r.labs.length).toBeLessThanOrEqual(2);
      for (const lab of r.labs) {
        expect(lab.certifications.length).toBeGreaterThan(0);
        for (const c of lab.certifications) expect(LAB_CERTIFICATIONS).toContain(c);
      }
      expect(r.accreditations.length).toBeGreaterThanOrEqual(1);
      expect(r.accreditations.length).toBeLessThanOrEqual(3);
      const used = r.accreditations.map((a: any) => a.accreditation_body);
      expect(new Set(used).size).toBe(used.length);
      for (const a of r.accreditations) {
        expect(bodies.has(a.accreditation_body)).toBe(true);
        expect(a.accreditation_id).toMatch(/^(TJC|DNV|NCQA|AAAHC|CARF|ACHC|CIHQ)-\d{6}$/);
        expect(ACCREDITATION_BODIES[a.accreditation_id.split('-')[0] as keyof typeof ACCREDITATION_BODIES]).toBe(a.accreditation_body);
      }
    }
    expect(states.size).toBeGreaterThan(45);
  });

  test('the reference table covers the 50 states and DC with real-looking, consistent rows', () => {
    const states = new Set(CITIES.map(([, s]) => s));
    expect(states.size).toBe(51);
    expect(states.has('DC')).toBe(true);
    for (const [city, state, zip] of CITIES) {
      expect(city.trim()).toBe(city);
      expect(state).toMatch(/^[A-Z]{2}$/);
      expect(zip).toMatch(/^\d{5}$/);
    }
    expect(new Set(CITIES.map(([c, s]) => `${c}|${s}`)).size).toBe(CITIES.length);
    const per = (s: string) => CITIES.filter(([, st]) => st === s).length;
    for (const big of ['CA', 'TX', 'FL', 'NY', 'PA', 'IL', 'OH']) expect(per(big)).toBeGreaterThanOrEqual(4);
    // A few spot checks of real ZIP codes.
    expect(CITIES).toContainEqual(['Detroit', 'MI', '48226']);
    expect(CITIES).toContainEqual(['Washington', 'DC', '20001']);
    expect(CITIES).toContainEqual(['Boston', 'MA', '02108']);
  });

  test('valid_until is spread around the snapshot: expired, inside the window (both ends), later; first is not always earliest', () => {
    for (const snap of ['2025-08-10', '2025-08-31', '2024-02-29']) {
      const end = refAddMonths(snap, 6);
      const dayBefore = new Date(Date.parse(`${snap}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
      let expired = 0;
      let inside = 0;
      let later = 0;
      let onStart = 0;
      let onEnd = 0;
      let onDayBefore = 0;
      let firstNotEarliest = 0;
      let expiringFacilities = 0;
      let accreditedFacilities = 0;
      const n = 2000;
      for (const line of generateLines({ n, snapshot: snap, seed: 9 })) {
        const dates: string[] = JSON.parse(line).accreditations.map((a: any) => a.valid_until);
        for (const d of dates) {
          expect(refIsDate(d)).toBe(true);
          if (d < snap) expired++;
          else if (d <= end) inside++;
          else later++;
          if (d === snap) onStart++;
          if (d === end) onEnd++;
          if (d === dayBefore) onDayBefore++;
        }
        if (dates[0] !== [...dates].sort()[0]) firstNotEarliest++;
        if (dates.some((d) => d >= snap && d <= end)) expiringFacilities++;
        if (dates.some((d) => d >= snap)) accreditedFacilities++;
      }
      const total = expired + inside + later;
      expect(expired / total).toBeGreaterThan(0.1);
      expect(inside / total).toBeGreaterThan(0.15);
      expect(later / total).toBeGreaterThan(0.3);
      expect(Math.min(onStart, onEnd, onDayBefore)).toBeGreaterThan(0);
      expect(firstNotEarliest).toBeGreaterThan(n / 10);
      expect(expiringFacilities).toBeGreaterThan(n / 10);
      expect(expiringFacilities).toBeLessThan(n);
      expect(accreditedFacilities).toBeLessThan(n);
    }
  });

  const EXPECTED_RULE: Record<BadKind, string[]> = {
    'malformed-json': ['json'],
    'missing-required-field': ['accreditations', 'services', 'employee_count', 'location', 'snapshot_date', 'facility_name'],
    'unknown-state': ['state'],
    'impossible-date': ['valid_until'],
    'negative-employee-count': ['employee_count'],
    'fractional-employee-count': ['employee_count'],
    'string-employee-count': ['employee_count'],
    'services-not-array': ['services'],
    'bad-facility-id': ['facility_id'],
    'blank-name': ['facility_name'],
    'bad-zip': ['zip'],
    'snapshot-date-mismatch': ['snapshot_date'],
  };

  test('--bad: every kind is present, cycles in order, and each line breaks the intended rule of docs/contract.md §1', () => {
    const items = [...generateItems({ n: 300, snapshot: SNAP, seed: 4, bad: 120 })];
    const bad = items.filter((i) => i.kind === 'invalid');
    expect(bad).toHaveLength(120);
    expect(bad.map((b) => b.badKind)).toEqual(Array.from({ length: 120 }, (_, j) => BAD_KINDS[j % BAD_KINDS.length]));
    for (const b of bad) {
      const rule = refViolation(b.line, SNAP);
      expect({ kind: b.badKind, rule }).toEqual({ kind: b.badKind, rule: expect.any(String) });
      expect(EXPECTED_RULE[b.badKind!]).toContain(rule);
    }
    // The specific shapes the issue names.
    const parsed = (kind: BadKind) => bad.filter((b) => b.badKind === kind).map((b) => JSON.parse(b.line));
    for (const r of parsed('fractional-employee-count')) expect(Number.isInteger(r.employee_count)).toBe(false);
    for (const r of parsed('string-employee-count')) expect(typeof r.employee_count).toBe('string');
    for (const r of parsed('negative-employee-count')) expect(r.employee_count).toBeLessThan(0);
    for (const r of parsed('services-not-array')) expect(typeof r.services).toBe('string');
    for (const r of parsed('snapshot-date-mismatch')) expect(refIsDate(r.snapshot_date) && r.snapshot_date !== SNAP).toBe(true);
    // Invalid records never reuse a valid record's id.
    const goodIds = new Set(items.filter((i) => i.kind === 'valid').map((i) => i.facilityId));
    for (const b of bad) expect(goodIds.has(b.facilityId)).toBe(false);
  });

  test('bad lines, duplicates and blank lines are interleaved, not appended', () => {
    const kinds = [...generateItems({ n: 100, snapshot: SNAP, bad: 4, duplicates: 2, blank: 2 })].map((i) => i.kind);
    expect(kinds).toHaveLength(108);
    const positions = (k: string) => kinds.flatMap((x, i) => (x === k ? [i] : []));
    expect(positions('invalid')[0]).toBeLessThan(30);
    expect(positions('invalid')[3]).toBeLessThan(95);
    expect(positions('blank')[0]).toBeLessThan(60);
    // A duplicate comes right after the valid record it repeats, with the same id and other content.
    const items = [...generateItems({ n: 100, snapshot: SNAP, duplicates: 2 })];
    items.forEach((item, i) => {
      if (item.kind !== 'duplicate') return;
      expect(items[i - 1].kind).toBe('valid');
      expect(item.facilityId).toBe(items[i - 1].facilityId);
      expect(refViolation(item.line, SNAP)).toBeNull();
      expect(item.line).not.toBe(items[i - 1].line);
    });
    expect(items.filter((i) => i.kind === 'duplicate')).toHaveLength(2);
  });

  test('--bad-kinds restricts and orders the cycle', () => {
    const bad = [...generateItems({ n: 3, snapshot: SNAP, bad: 4, badKinds: ['bad-zip', 'blank-name'] })]
      .filter((i) => i.kind === 'invalid').map((i) => i.badKind);
    expect(bad).toEqual(['bad-zip', 'blank-name', 'bad-zip', 'blank-name']);
  });
});

describe('writeDataset / generate command', () => {
  test('chunking and file naming: facilities_0001.jsonl … with chunk records each', async () => {
    const out = freshDir();
    const res = await writeDataset({ n: 25, chunk: 10, snapshot: SNAP, outdir: out });
    expect(dataFiles(join(out, SNAP))).toEqual(['facilities_0001.jsonl', 'facilities_0002.jsonl', 'facilities_0003.jsonl']);
    const counts = dataFiles(join(out, SNAP)).map((f) => readFileSync(join(out, SNAP, f), 'utf8'));
    expect(counts.map((t) => t.split('\n').length - 1)).toEqual([10, 10, 5]);
    for (const t of counts) expect(t.endsWith('\n')).toBe(true);
    expect(res).toMatchObject({ records: 25, valid: 25, invalid: 0, duplicates: 0, blank: 0 });
    expect(res.files.map((f) => f.slice(out.length + 1))).toEqual([
      `${SNAP}/facilities_0001.jsonl`, `${SNAP}/facilities_0002.jsonl`, `${SNAP}/facilities_0003.jsonl`,
    ]);
    expect(chunkFileName(12345, true)).toBe('facilities_12345.jsonl.gz');
    // The files together are exactly the line stream.
    expect(readAll(join(out, SNAP)).toString()).toBe([...generateLines({ n: 25, snapshot: SNAP })].map((l) => `${l}\n`).join(''));
  });

  test('a duplicate stays in the file of the record it repeats, even at a chunk boundary', async () => {
    const out = freshDir();
    await writeDataset({ n: 10, chunk: 5, snapshot: SNAP, outdir: out, duplicates: 1 });
    const files = dataFiles(join(out, SNAP)).map((f) => readFileSync(join(out, SNAP, f), 'utf8').trim().split('\n'));
    expect(files.map((f) => f.length)).toEqual([6, 5]);
    expect(JSON.parse(files[0][5]).facility_id).toBe(JSON.parse(files[0][4]).facility_id);
  });

  test('same seed → same bytes; different seed → different bytes (plain and gzip)', async () => {
    const write = async (seed: number, gzip: boolean) => {
      const out = freshDir();
      await writeDataset({ n: 300, chunk: 120, snapshot: SNAP, outdir: out, seed, gzip, bad: 13 });
      return readAll(join(out, SNAP));
    };
    expect((await write(1, false)).equals(await write(1, false))).toBe(true);
    expect((await write(1, false)).equals(await write(2, false))).toBe(false);
    expect((await write(1, true)).equals(await write(1, true))).toBe(true);
    expect((await write(1, true)).equals(await write(2, true))).toBe(false);
  });

  test('--gzip writes .jsonl.gz files that decompress to the plain output', async () => {
    const plain = freshDir();
    const gz = freshDir();
    await run(['--n', '40', '--chunk', '15', '--snapshot', SNAP, '--outdir', plain, '--bad', '5', '--quiet']);
    await run(['--n', '40', '--chunk', '15', '--snapshot', SNAP, '--outdir', gz, '--bad', '5', '--gzip', '--quiet']);
    const gzFiles = dataFiles(join(gz, SNAP));
    expect(gzFiles).toEqual(['facilities_0001.jsonl.gz', 'facilities_0002.jsonl.gz', 'facilities_0003.jsonl.gz']);
    for (const f of gzFiles) {
      const raw = readFileSync(join(gz, SNAP, f));
      expect(raw.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(true);
      expect(gunzipSync(raw).equals(readFileSync(join(plain, SNAP, f.replace(/\.gz$/, ''))))).toBe(true);
    }
  });

  test('prints a one-line summary', async () => {
    const out = freshDir();
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await run(['--n', '7', '--chunk', '3', '--snapshot', SNAP, '--outdir', out, '--bad', '2', '--blank', '1'])).toBe(0);
      const text = spy.mock.calls.map((c) => String(c[0])).join('');
      expect(text).toBe(`generated 9 records (7 valid, 2 invalid, 0 duplicates, 1 blank line) in 3 files under ${join(out, SNAP)}\n`);
    } finally {
      spy.mockRestore();
    }
  });

  test('defaults: --chunk 10000, --start-index 1, --seed 42, --outdir data/batch', () => {
    expect(parseGenerateArgs(['--n', '5', '--snapshot', SNAP])).toMatchObject({
      n: 5, chunk: 10000, startIndex: 1, seed: 42, outdir: 'data/batch', bad: 0, duplicates: 0, blank: 0, gzip: false,
    });
  });

  test.each([
    [['--snapshot', SNAP], /--n is required/],
    [['--n', '0', '--snapshot', SNAP], /--n must be a positive integer/],
    [['--n=-3', '--snapshot', SNAP], /--n must be a positive integer/],
    [['--n', '-3', '--snapshot', SNAP], /^generate: --n must be a positive integer \(got '-3'\)$/],
    [['--n', '2.5', '--snapshot', SNAP], /--n must be a positive integer/],
    [['--n', 'ten', '--snapshot', SNAP], /--n must be a positive integer/],
    [['--n', '5'], /--snapshot is required/],
    [['--n', '5', '--snapshot', '2025-02-30'], /--snapshot must be a YYYY-MM-DD calendar date/],
    [['--n', '5', '--snapshot', '10/08/2025'], /--snapshot must be a YYYY-MM-DD calendar date/],
    [['--n', '5', '--snapshot', SNAP, '--chunk', '0'], /--chunk must be a positive integer/],
    [['--n', '5', '--snapshot', SNAP, '--bad=-1'], /--bad must be a non-negative integer/],
    [['--n', '5', '--snapshot', SNAP, '--start-index', 'x'], /--start-index must be a non-negative integer/],
    [['--n', '5', '--snapshot', SNAP, '--seed', '4294967296'], /--seed must be at most/],
    [['--n', '5', '--snapshot', SNAP, '--bad-kinds', 'typo'], /unknown --bad-kinds entry 'typo'/],
    [['--n', '5', '--snapshot', SNAP, '--verbose'], /^generate: Unknown option '--verbose'/],
    [['--n', '5', '--snapshot', SNAP, 'extra'], /^generate: Unexpected argument 'extra'/],
  ])('argument error %j', (argv, message) => {
    expect(() => parseGenerateArgs(argv)).toThrow(UsageError);
    expect(() => parseGenerateArgs(argv)).toThrow(message);
  });

  test('through the CLI: bad arguments exit 2 with one line on stderr and write nothing', async () => {
    const out = freshDir();
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['generate', '--n', '5', '--snapshot', '2025-13-01', '--outdir', out])).toBe(2);
      expect(await main(['generate', '--n', '5', '--snapshot', SNAP, '--outdir', out, '--bogus'])).toBe(2);
      const lines = err.mock.calls.map((c) => String(c[0]));
      expect(lines).toHaveLength(2);
      for (const l of lines) expect(l).toMatch(/^medlaunch-elt: [^\n]+\n$/);
      expect(() => readdirSync(out)).toThrow();
    } finally {
      err.mockRestore();
    }
  });
});
