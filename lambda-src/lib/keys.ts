import { createHash } from 'node:crypto';
import { isCalendarDate } from './dates';
import { InvalidEventError } from './errors';
import { isDataFileKey, snapshotOutOfRange } from '../../src/contract';
import { FILE_SUMMARIES_FOLDER } from '../../src/contract/observability';

/** What a raw object's key says: the snapshot folder and the output stem. */
export interface RawKeyInfo {
  /** The `<snapshot_date>` folder, when the key has one. */
  readonly snapshotDate?: string;
  /** The output name (without `.jsonl`) of the path below the snapshot folder: injective (outputStem). */
  readonly stem: string;
  readonly gzip: boolean;
}

/** True when the key names a data file (`.jsonl`, `.ndjson`, `.json`, optionally `.gz`). */
export function isDataKey(key: string): boolean {
  return isDataFileKey(key);
}

/** Hex digits of the hash suffix of a stem that is not plain (outputStem). */
export const STEM_HASH_HEX = 12;

/**
 * The output stem of a raw object: its path below the snapshot folder (`rel`), readable and
 * injective, so two raw objects never share (and overwrite) each other's outputs:
 *
 * - the file name loses a trailing `.jsonl` (exactly that, when what is left has no data extension of
 *   its own); every other extension stays: `a.jsonl` → `a`, `a.ndjson` → `a.ndjson`,
 *   `a.jsonl.gz` → `a.jsonl.gz`, `A.JSON.gz` → `A.JSON.gz`;
 * - folders are joined with `__`: `x/y.jsonl` → `x__y`;
 * - that *plain* form is used when it can be read back unambiguously: no path segment is empty,
 *   starts or ends with `_`, contains `__` or `~`, and the stem does not start with `.` (a hidden
 *   name, which Athena would skip). Otherwise the stem is the plain form (leading `.`/`_` removed)
 *   followed by `~` and the first STEM_HASH_HEX hex digits of the sha256 of `rel`: `x__y.jsonl` →
 *   `x__y~<hash>`, keeping it apart from `x/y.jsonl` → `x__y`.
 *
 * Plain stems contain no `~` and can be split back into `rel`; hashed stems end in `~` + 12 hex
 * digits of the full relative key (48 bits: distinct keys collide with negligible probability).
 */
export function outputStem(rel: string): string {
  const segments = rel.split('/');
  const name = segments[segments.length - 1];
  const rest = name.endsWith('.jsonl') ? name.slice(0, -'.jsonl'.length) : '';
  const fileStem = rest !== '' && !isDataFileKey(rest) ? rest : name;
  const parts = [...segments.slice(0, -1), fileStem];
  const plain = parts.join('__');
  const unambiguous = parts.every((p) => p !== '' && !p.startsWith('_') && !p.endsWith('_') && !p.includes('__') && !p.includes('~'))
    && !plain.startsWith('.');
  if (unambiguous) return plain;
  const readable = plain.replace(/^[._]+/, '') || 'part';
  return `${readable}~${createHash('sha256').update(rel).digest('hex').slice(0, STEM_HASH_HEX)}`;
}

/**
 * Parses `<rawPrefix><YYYY-MM-DD>/<path>` (or any path, for local files, where the snapshot is the
 * nearest parent folder that is a calendar date). Returns the snapshot folder and the output stem
 * of the path below it (outputStem; the file name alone when there is no date folder).
 */
export function parseRawKey(key: string, rawPrefix = ''): RawKeyInfo {
  const rel = rawPrefix && key.startsWith(rawPrefix) ? key.slice(rawPrefix.length) : key;
  const parts = rel.split('/');
  const idx = nearestDateFolder(parts);
  const below = idx >= 0 ? parts.slice(idx + 1) : parts.slice(-1);
  const gzip = /\.gz$/i.test(key);
  const snapshotDate = idx >= 0 ? parts[idx].replace(/^snapshot_date=/, '') : undefined;
  return { snapshotDate, stem: outputStem(below.join('/')), gzip };
}

/** Index of the nearest (deepest) folder of `parts` (a key split at `/`, file name last) that is a date. */
function nearestDateFolder(parts: readonly string[]): number {
  for (let i = parts.length - 2; i >= 0; i--) {
    const folder = parts[i].startsWith('snapshot_date=') ? parts[i].slice('snapshot_date='.length) : parts[i];
    if (isCalendarDate(folder)) return i;
  }
  return -1;
}

/**
 * The snapshot of a raw key `<rawPrefix><YYYY-MM-DD>/<path>` (the layout: the first folder is a
 * date): its **nearest** date folder (`YYYY-MM-DD` or `snapshot_date=YYYY-MM-DD`), the one rule everywhere — Stage 2's outputs (parseRawKey), the
 * handler's key check and the query runner's event parsing:
 * `<raw>2025-08-10/2025-08-11/z.jsonl` belongs to 2025-08-11. Undefined for a key outside the raw
 * prefix or without a date folder with a file below it.
 */
export function rawKeySnapshot(key: string, rawPrefix: string): string | undefined {
  if (!key.startsWith(rawPrefix)) return undefined;
  const parts = key.slice(rawPrefix.length).split('/');
  if (parts.length < 2 || parts[parts.length - 1] === '' || !isCalendarDate(parts[0])) return undefined;
  const idx = nearestDateFolder(parts);
  return idx >= 0 ? parts[idx].replace(/^snapshot_date=/, '') : undefined;
}

/**
 * The snapshot date of a raw key `<rawPrefix>…<YYYY-MM-DD>/<path>`: its nearest date folder
 * (rawKeySnapshot); InvalidEventError for any key outside that layout (another prefix, no date
 * folder, an impossible date, no file below it).
 */
export function snapshotOfRawKey(key: string, rawPrefix: string): string {
  if (!key.startsWith(rawPrefix)) throw new InvalidEventError(`key '${key}' is not under the raw prefix '${rawPrefix}'`);
  const d = rawKeySnapshot(key, rawPrefix);
  if (d === undefined) throw new InvalidEventError(`key '${key}' is not under '${rawPrefix}<YYYY-MM-DD>/'`);
  return d;
}

/**
 * The one check of a raw data file the pipeline is asked to process (Stage 2, and the snapshot ticket
 * of its execution): its snapshot (snapshotOfRawKey), that it is a data file, and that the snapshot
 * is in the tables' projection range. InvalidEventError (permanent: refused, not quarantined — the
 * records may be fine and the folder wrong or early; the raw object stays where it is) naming
 * `refused` for a date out of range.
 */
export function rawDataKeySnapshot(key: string, rawPrefix: string, refused: string): string {
  const snapshotDate = snapshotOfRawKey(key, rawPrefix);
  if (!isDataKey(key)) throw new InvalidEventError(`key '${key}' is not a data file (.jsonl, .ndjson, .json, optionally .gz)`);
  assertSnapshotInRange(snapshotDate, refused);
  return snapshotDate;
}

/**
 * Where Stage 2 records that a raw object failed for good: `<QUARANTINE_PREFIX>_failed/snapshot_date=<d>/<stem>.json`.
 * It records why the object is missing from its snapshot (docs/semantics.md, *Failures*).
 */
export function failureMarkerKey(quarantinePrefix: string, snapshotDate: string, stem: string): string {
  return `${quarantinePrefix}_failed/snapshot_date=${snapshotDate}/${stem}.json`;
}

/** `<prefix>snapshot_date=<d>/<stem>.<ext>` */
export function partitionKey(prefix: string, snapshotDate: string, file: string): string {
  return `${prefix}snapshot_date=${snapshotDate}/${file}`;
}

/** Strict check that a value is a `YYYY-MM-DD` calendar date (before it goes anywhere near SQL). */
export function assertSnapshotDate(value: unknown, what = 'snapshot date'): string {
  if (!isCalendarDate(value)) throw new RangeError(`${what} must be a YYYY-MM-DD calendar date (got ${JSON.stringify(value)})`);
  return value;
}

/**
 * InvalidEventError (permanent: the execution alerts) when a snapshot date is outside the range the
 * tables project (src/schema/snapshot-range.ts): its queries would succeed with no rows.
 */
export function assertSnapshotInRange(date: string, what: string, now: Date = new Date()): void {
  const reason = snapshotOutOfRange(date, now);
  if (reason !== undefined) throw new InvalidEventError(`${what}: ${reason}`);
}

/**
 * Where Stage 2 leaves the summary of one raw object: `<VALIDATED_PREFIX>_summaries/snapshot_date=<d>/<stem>.json`
 * (docs/operability.md). Outside every table partition, like the tickets under `_coordination/`.
 */
export function fileSummaryKey(validatedPrefix: string, snapshotDate: string, stem: string): string {
  return `${fileSummariesFolder(validatedPrefix, snapshotDate)}${stem}.json`;
}

/** The folder of one snapshot's file summaries (what the publisher lists for the run report). */
export function fileSummariesFolder(validatedPrefix: string, snapshotDate: string): string {
  return `${validatedPrefix}${FILE_SUMMARIES_FOLDER}snapshot_date=${snapshotDate}/`;
}
