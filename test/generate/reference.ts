/**
 * An independent, deliberately plain reference implementation of docs/contract.md §1–§2, used only by tests to
 * check the generator's data and to compute test/fixtures/shipped-expected.json.
 *
 * It imports nothing from lambda-src/ or src/ (no shared schema, no shared date helpers), so a bug
 * in the production validator or in the pipeline cannot make the fixture agree with it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';

const STATES = new Set(
  ('AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK '
    + 'OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP').split(' '),
);

/** A real calendar date written YYYY-MM-DD. */
export function refIsDate(v: unknown): v is string {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return false;
  const [y, m, d] = v.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** d + n calendar months, clamped to the end of the month (Trino date_add('month', n, d)). */
export function refAddMonths(d: string, n: number): string {
  const [y, m, day] = d.split('-').map(Number);
  const first = new Date(Date.UTC(y, m - 1 + n, 1));
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  first.setUTCDate(Math.min(day, last));
  return first.toISOString().slice(0, 10);
}

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/**
 * The rule a line breaks (a short name of the field or problem), or null when the record is valid.
 * `folder` is the snapshot folder of the file, when it has one.
 */
export function refViolation(line: string, folder?: string): string | null {
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch {
    return 'json';
  }
  if (!isObj(r)) return 'not_object';
  if (!isStr(r.facility_id) || !/^FAC[0-9]+$/.test(r.facility_id)) return 'facility_id';
  if (!isStr(r.facility_name) || r.facility_name.trim() === '') return 'facility_name';
  const loc = r.location;
  if (!isObj(loc)) return 'location';
  if (!isStr(loc.address) || !isStr(loc.city)) return 'location';
  if (!isStr(loc.state) || !STATES.has(loc.state)) return 'state';
  if (!isStr(loc.zip) || !/^[0-9]{5}(-[0-9]{4})?$/.test(loc.zip)) return 'zip';
  if (typeof r.employee_count !== 'number' || !Number.isInteger(r.employee_count) || r.employee_count < 0) {
    return 'employee_count';
  }
  if (!Array.isArray(r.services) || !r.services.every(isStr)) return 'services';
  if (r.labs !== undefined) {
    if (!Array.isArray(r.labs)) return 'labs';
    for (const lab of r.labs) {
      if (!isObj(lab) || !isStr(lab.lab_name) || !Array.isArray(lab.certifications) || !lab.certifications.every(isStr)) {
        return 'labs';
      }
    }
  }
  if (!Array.isArray(r.accreditations)) return 'accreditations';
  for (const a of r.accreditations) {
    if (!isObj(a) || !isStr(a.accreditation_body) || a.accreditation_body.trim() === '' || !isStr(a.accreditation_id)) {
      return 'accreditations';
    }
    if (!refIsDate(a.valid_until)) return 'valid_until';
  }
  if (!refIsDate(r.snapshot_date)) return 'snapshot_date';
  if (folder !== undefined && r.snapshot_date !== folder) return 'snapshot_date';
  return null;
}

export interface SnapshotExpectation {
  records: number;
  valid: number;
  quarantined: number;
  blank: number;
  duplicates: number;
  extract_rows: number;
  expiring: string[];
  state_counts: Record<string, number>;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else if (/\.(jsonl|ndjson|json)(\.gz)?$/.test(name)) out.push(p);
  }
  return out;
}

/**
 * What every stage must produce for each snapshot folder under `root` (as-of = the snapshot date,
 * `months` months). Files are read in key order (byte order of the path below `root`), lines in order.
 */
export function refExpectations(root: string, months = 6): Record<string, SnapshotExpectation> {
  const result: Record<string, SnapshotExpectation> = {};
  const snapshots = readdirSync(root).filter((d) => refIsDate(d) && statSync(join(root, d)).isDirectory()).sort();
  for (const snap of snapshots) {
    const keys = filesUnder(join(root, snap))
      .map((p) => relative(root, p).split(sep).join('/'))
      .sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : 1));
    const e: SnapshotExpectation = {
      records: 0, valid: 0, quarantined: 0, blank: 0, duplicates: 0, extract_rows: 0, expiring: [], state_counts: {},
    };
    const first = new Map<string, Record<string, any>>();
    for (const key of keys) {
      const raw = readFileSync(join(root, key));
      const text = (key.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      for (const line of lines) {
        if (line.trim() === '') {
          e.blank++;
          continue;
        }
        e.records++;
        if (refViolation(line, snap) !== null) {
          e.quarantined++;
          continue;
        }
        e.valid++;
        const rec = JSON.parse(line);
        if (first.has(rec.facility_id)) e.duplicates++;
        else first.set(rec.facility_id, rec);
      }
    }
    const windowEnd = refAddMonths(snap, months);
    for (const rec of first.values()) {
      const dates: string[] = rec.accreditations.map((a: any) => a.valid_until);
      if (dates.some((d) => d >= snap && d <= windowEnd)) e.expiring.push(rec.facility_id);
      if (dates.some((d) => d >= snap)) e.state_counts[rec.location.state] = (e.state_counts[rec.location.state] ?? 0) + 1;
    }
    e.extract_rows = first.size;
    e.expiring.sort();
    e.state_counts = Object.fromEntries(Object.entries(e.state_counts).sort(([a], [b]) => (a < b ? -1 : 1)));
    result[snap] = e;
  }
  return result;
}
