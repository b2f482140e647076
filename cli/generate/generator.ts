/**
 * Synthetic facility records (docs/contract.md §1): a deterministic, streaming NDJSON generator.
 *
 * Every record is derived from (seed, facility index) alone through a seeded PRNG, so a record's
 * content does not depend on `n`, the chunk size or the other records: the same seed always gives
 * the same bytes. Nothing is buffered: the generators yield one line at a time.
 */
import {
  ACCREDITATION_BODIES, BodyCode, CITIES, FACILITY_TYPES, FacilityType, LAB_CERTIFICATIONS, NAME_PREFIXES, SAINTS,
  STREET_NAMES, STREET_SUFFIXES,
} from './reference-data';
import { addMonths, isCalendarDate } from '../../lambda-src/lib/dates';
import { mulberry32, Rng } from '../../local/prng';

/** The seed used when none is given. */
export const DEFAULT_SEED = 42;
/** Months of the expiry window the valid_until dates are spread around (docs/contract.md §2 default). */
export const WINDOW_MONTHS = 6;

/** The kinds of invalid record `--bad K` cycles through, in this order. */
export const BAD_KINDS = [
  'malformed-json',
  'missing-required-field',
  'unknown-state',
  'impossible-date',
  'negative-employee-count',
  'fractional-employee-count',
  'string-employee-count',
  'services-not-array',
  'bad-facility-id',
  'blank-name',
  'bad-zip',
  'snapshot-date-mismatch',
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export interface GenerateOptions {
  /** Number of valid facility records. */
  readonly n: number;
  /** Snapshot date `YYYY-MM-DD` (every record's `snapshot_date`). */
  readonly snapshot: string;
  /** Index of the first facility (ids are `FAC%05d`); default 1. */
  readonly startIndex?: number;
  /** PRNG seed (unsigned 32-bit); default {@link DEFAULT_SEED}. */
  readonly seed?: number;
  /** Invalid records added, interleaved among the valid ones, cycling through {@link BAD_KINDS}. */
  readonly bad?: number;
  /** The kinds `bad` cycles through, in order (default: all of {@link BAD_KINDS}). */
  readonly badKinds?: readonly BadKind[];
  /** Re-sent copies (same facility_id, changed employee_count) placed right after a valid record. */
  readonly duplicates?: number;
  /** Blank lines interleaved (skipped and counted by the pipeline, never quarantined). */
  readonly blank?: number;
}

export type LineKind = 'valid' | 'invalid' | 'duplicate' | 'blank';

export interface GeneratedLine {
  readonly kind: LineKind;
  /** The NDJSON line, without its newline ('' for a blank line). */
  readonly line: string;
  /** For invalid lines: which rule the line breaks. */
  readonly badKind?: BadKind;
  /** The facility id the line was built for (blank lines have none). */
  readonly facilityId?: string;
}

/** A generated (valid) record, in the field order of the original data set. */
export interface SyntheticRecord {
  facility_id: string;
  facility_name: string;
  location: { address: string; city: string; state: string; zip: string };
  employee_count: number;
  services: string[];
  labs: Array<{ lab_name: string; certifications: string[] }>;
  accreditations: Array<{ accreditation_body: string; accreditation_id: string; valid_until: string }>;
  snapshot_date: string;
}

// ---------------------------------------------------------------------------------------------
// PRNG: mulberry32, seeded per record by mixing (seed, stream, index).

export { mulberry32 };
export type { Rng };

/* eslint-disable no-bitwise -- a PRNG and a hash are 32-bit integer arithmetic */


/** A well-mixed 32-bit seed from several integers (murmur3 finalizer over a running hash). */
function mix(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x01000193);
    h ^= Math.floor(v / 4294967296) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/* eslint-enable no-bitwise */

const STREAM_RECORD = 1;
const STREAM_BAD = 2;
const STREAM_DUP = 3;

function int(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

/** k distinct items in random order (partial Fisher–Yates on a copy of a short list). */
function sample<T>(rng: Rng, items: readonly T[], k: number): T[] {
  const copy = items.slice();
  const n = Math.min(k, copy.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}

const TYPE_WEIGHT_TOTAL = FACILITY_TYPES.reduce((s, t) => s + t.weight, 0);

function pickType(rng: Rng): FacilityType {
  let r = rng() * TYPE_WEIGHT_TOTAL;
  for (const t of FACILITY_TYPES) {
    r -= t.weight;
    if (r < 0) return t;
  }
  return FACILITY_TYPES[FACILITY_TYPES.length - 1];
}

// ---------------------------------------------------------------------------------------------
// Dates

const DAY_MS = 86_400_000;

function toDay(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY_MS;
}

function fromDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** Date strings by day number: a generator run only ever formats a few thousand distinct days. */
const DAY_CACHE = new Map<number, string>();
const DAY_CACHE_MAX = 100_000;

function cachedDay(day: number): string {
  let s = DAY_CACHE.get(day);
  if (s === undefined) {
    s = fromDay(day);
    if (DAY_CACHE.size >= DAY_CACHE_MAX) DAY_CACHE.clear();
    DAY_CACHE.set(day, s);
  }
  return s;
}

/** Snapshot-dependent constants, computed once per generator run. */
interface DateFrame {
  readonly snapshot: string;
  readonly snapshotDay: number;
  /** Days from the snapshot to the last day of the expiry window (as-of + 6 months). */
  readonly windowDays: number;
}

function dateFrame(snapshot: string): DateFrame {
  if (!isCalendarDate(snapshot)) throw new RangeError(`snapshot must be a YYYY-MM-DD calendar date (got ${snapshot})`);
  const snapshotDay = toDay(snapshot);
  return { snapshot, snapshotDay, windowDays: toDay(addMonths(snapshot, WINDOW_MONTHS)) - snapshotDay };
}

/**
 * A valid_until spread around the snapshot: already expired, inside the 6-month window (including
 * both boundary days), or later — so every branch of the expiry and accreditation rules sees data.
 */
function validUntil(rng: Rng, frame: DateFrame): string {
  const r = rng();
  let offset: number;
  if (r < 0.03) offset = 0; // expires on the as-of date: inside the window
  else if (r < 0.06) offset = frame.windowDays; // last day of the window: inside
  else if (r < 0.08) offset = -1; // expired the day before
  else if (r < 0.10) offset = frame.windowDays + 1; // first day after the window
  else if (r < 0.25) offset = -int(rng, 2, 540); // expired
  else if (r < 0.45) offset = int(rng, 1, frame.windowDays - 1); // inside the window
  else offset = int(rng, frame.windowDays + 2, frame.windowDays + 3 * 365); // later
  return cachedDay(frame.snapshotDay + offset);
}

// ---------------------------------------------------------------------------------------------
// Records

export function facilityId(index: number): string {
  return `FAC${String(index).padStart(5, '0')}`;
}

function makeName(rng: Rng, type: FacilityType, city: string): string {
  return pick(rng, type.names)
    .replace('{city}', city)
    .replace('{saint}', pick(rng, SAINTS))
    .replace('{prefix}', pick(rng, NAME_PREFIXES));
}

function makeRecordWith(rng: Rng, index: number, frame: DateFrame): SyntheticRecord {
  const type = pickType(rng);
  const [city, state, zip] = pick(rng, CITIES);
  const name = makeName(rng, type, city);
  const address = `${int(rng, 100, 9899)} ${pick(rng, STREET_NAMES)} ${pick(rng, STREET_SUFFIXES)}`;
  const employees = int(rng, type.employees[0], type.employees[1]);
  const services = sample(rng, type.services, int(rng, 1, 6));
  const labs: SyntheticRecord['labs'] = [];
  if (rng() < type.labChance) {
    for (const labName of sample(rng, type.labNames, int(rng, 1, 2))) {
      const certs = rng() < 0.85 ? ['CLIA'] : [];
      for (const c of LAB_CERTIFICATIONS.slice(1)) if (rng() < 0.4) certs.push(c);
      if (certs.length === 0) certs.push(pick(rng, LAB_CERTIFICATIONS));
      labs.push({ lab_name: labName, certifications: certs });
    }
  }
  const bodies: BodyCode[] = sample(rng, type.bodies, int(rng, 1, 3));
  const accreditations = bodies.map((code) => ({
    accreditation_body: ACCREDITATION_BODIES[code],
    accreditation_id: `${code}-${int(rng, 100000, 999999)}`,
    valid_until: validUntil(rng, frame),
  }));
  return {
    facility_id: facilityId(index),
    facility_name: name,
    location: { address, city, state, zip },
    employee_count: employees,
    services,
    labs,
    accreditations,
    snapshot_date: frame.snapshot,
  };
}

/** The valid record of facility `index` for a snapshot and seed (pure: same inputs, same record). */
export function makeRecord(index: number, snapshot: string, seed = DEFAULT_SEED): SyntheticRecord {
  return makeRecordWith(mulberry32(mix(seed, STREAM_RECORD, index)), index, dateFrame(snapshot));
}

/**
 * An invalid line of the given kind, built from a valid record so that it breaks exactly that
 * rule (malformed JSON aside). Returned as the raw line.
 */
function makeBadLine(kind: BadKind, rng: Rng, index: number, frame: DateFrame): string {
  const rec = makeRecordWith(rng, index, frame) as unknown as Record<string, any>;
  switch (kind) {
    case 'malformed-json': {
      const full = JSON.stringify(rec);
      // Cut inside the object: never parseable (the closing brace is always gone).
      return full.slice(0, Math.floor(full.length * (0.3 + rng() * 0.5)));
    }
    case 'missing-required-field':
      delete rec[pick(rng, ['accreditations', 'services', 'employee_count', 'location', 'snapshot_date', 'facility_name'])];
      break;
    case 'unknown-state':
      rec.location.state = pick(rng, ['ON', 'XX', 'ZZ', 'Calif.', 'BC']);
      break;
    case 'impossible-date':
      rec.accreditations[int(rng, 0, rec.accreditations.length - 1)].valid_until =
        pick(rng, ['2025-02-30', '2025-04-31', '2023-02-29', '2025-13-01', '2025-06-00']);
      break;
    case 'negative-employee-count':
      rec.employee_count = -int(rng, 1, 500);
      break;
    case 'fractional-employee-count':
      rec.employee_count = int(rng, 10, 900) + 0.5;
      break;
    case 'string-employee-count':
      rec.employee_count = String(rec.employee_count);
      break;
    case 'services-not-array':
      rec.services = (rec.services as string[]).join(', ');
      break;
    case 'bad-facility-id': {
      const digits = String(index).padStart(5, '0');
      rec.facility_id = pick(rng, [`FAC-${digits}`, `fac${digits}`, digits, `FAC${digits}A`, `FACILITY${index}`]);
      break;
    }
    case 'blank-name':
      rec.facility_name = pick(rng, ['', '   ', '\t']);
      break;
    case 'bad-zip': {
      const zip: string = rec.location.zip;
      rec.location.zip = pick(rng, [zip.slice(0, 4), `${zip}-12`, `${zip}0`, 'ABCDE']);
      break;
    }
    case 'snapshot-date-mismatch':
      rec.snapshot_date = fromDay(frame.snapshotDay - int(rng, 1, 30));
      break;
  }
  return JSON.stringify(rec);
}

// ---------------------------------------------------------------------------------------------
// The line stream

function nonNegativeInt(value: number | undefined, what: string, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative integer (got ${value})`);
  return v;
}

/**
 * Yields the lines of a generated data set: `n` valid records (ids `FAC%05d` from `startIndex`)
 * with `bad` invalid records, `duplicates` re-sent records and `blank` blank lines interleaved at
 * evenly spread, deterministic positions. Invalid records get ids after the valid ones
 * (`startIndex + n + j`). Constant memory.
 */
export function* generateItems(opts: GenerateOptions): Generator<GeneratedLine> {
  const n = nonNegativeInt(opts.n, 'n', 0);
  const start = nonNegativeInt(opts.startIndex, 'startIndex', 1);
  const bad = nonNegativeInt(opts.bad, 'bad', 0);
  const dups = nonNegativeInt(opts.duplicates, 'duplicates', 0);
  const blank = nonNegativeInt(opts.blank, 'blank', 0);
  const seed = (opts.seed ?? DEFAULT_SEED) >>> 0; // eslint-disable-line no-bitwise
  if (dups > 0 && n === 0) throw new RangeError('duplicates need at least one valid record');
  const kinds = opts.badKinds ?? BAD_KINDS;
  if (kinds.length === 0) throw new RangeError('badKinds must not be empty');
  for (const k of kinds) if (!BAD_KINDS.includes(k)) throw new RangeError(`unknown bad kind: ${k}`);
  const frame = dateFrame(opts.snapshot);
  // The j-th extra line of a class goes after floor((j + 1) * n / (count + 1)) valid records.
  const due = (j: number, count: number) => Math.floor(((j + 1) * n) / (count + 1));

  let good = 0;
  let bi = 0;
  let di = 0;
  let li = 0;
  let last: SyntheticRecord | undefined;

  function* extras(): Generator<GeneratedLine> {
    while (di < dups && last && due(di, dups) <= good) {
      const rng = mulberry32(mix(seed, STREAM_DUP, di));
      const copy: SyntheticRecord = { ...last, employee_count: last.employee_count + int(rng, 1, 25) };
      di++;
      yield { kind: 'duplicate', line: JSON.stringify(copy), facilityId: copy.facility_id };
    }
    while (bi < bad && due(bi, bad) <= good) {
      const kind = kinds[bi % kinds.length];
      const index = start + n + bi;
      const line = makeBadLine(kind, mulberry32(mix(seed, STREAM_BAD, index)), index, frame);
      bi++;
      yield { kind: 'invalid', line, badKind: kind, facilityId: facilityId(index) };
    }
    while (li < blank && due(li, blank) <= good) {
      li++;
      yield { kind: 'blank', line: '' };
    }
  }

  for (let i = 0; i < n; i++) {
    yield* extras();
    const index = start + i;
    last = makeRecordWith(mulberry32(mix(seed, STREAM_RECORD, index)), index, frame);
    good++;
    yield { kind: 'valid', line: JSON.stringify(last), facilityId: last.facility_id };
  }
  yield* extras();
}

/** One NDJSON line per item (no newline; '' for a blank line). */
export function* generateLines(opts: GenerateOptions): Iterable<string> {
  for (const item of generateItems(opts)) yield item.line;
}
