import { isCalendarDate } from './dates';
import { InvalidEventError } from './errors';
import { snapshotOutOfRange } from '../../src/schema/snapshot-range';

/** What a raw object's key says: the snapshot folder and the output stem. */
export interface RawKeyInfo {
  /** The `<snapshot_date>` folder, when the key has one. */
  readonly snapshotDate?: string;
  /** The path below the snapshot folder, `/` → `__`, data extension removed. */
  readonly stem: string;
  readonly gzip: boolean;
}

const DATA_EXT = /\.(jsonl|ndjson|json)(\.gz)?$/i;

/** True when the key names a data file (`.jsonl`, `.ndjson`, `.json`, optionally `.gz`). */
export function isDataKey(key: string): boolean {
  return DATA_EXT.test(key);
}

/**
 * Parses `<rawPrefix><YYYY-MM-DD>/<path>` (or any path, for local files, where the snapshot is the
 * nearest parent folder that is a calendar date). Returns the snapshot folder and the stem.
 */
export function parseRawKey(key: string, rawPrefix = ''): RawKeyInfo {
  const rel = rawPrefix && key.startsWith(rawPrefix) ? key.slice(rawPrefix.length) : key;
  const parts = rel.split('/').filter((p) => p !== '');
  let idx = -1;
  for (let i = parts.length - 2; i >= 0; i--) {
    const folder = parts[i].startsWith('snapshot_date=') ? parts[i].slice('snapshot_date='.length) : parts[i];
    if (isCalendarDate(folder)) {
      idx = i;
      break;
    }
  }
  const below = idx >= 0 ? parts.slice(idx + 1) : parts.slice(-1);
  const gzip = /\.gz$/i.test(key);
  const stem = below.join('__').replace(DATA_EXT, '') || 'part';
  const snapshotDate = idx >= 0 ? parts[idx].replace(/^snapshot_date=/, '') : undefined;
  return { snapshotDate, stem, gzip };
}

/**
 * Where Stage 2 records that a raw object failed for good: `<QUARANTINE_PREFIX>_failed/snapshot_date=<d>/<stem>.json`.
 * The query runner's pending check lists these (docs/runtime.md, "Waiting for the rest of a
 * snapshot"): a raw object whose marker is not older than the object counts as settled.
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
