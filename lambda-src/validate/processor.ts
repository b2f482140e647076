/**
 * The streaming Stage 2 processor (docs/contract.md §1–§3), shared by the Lambda handler and the CLI.
 *
 * One pass over the lines of one input: blank lines are counted; every other line is parsed and
 * validated; valid records are written unchanged (their original bytes) to the validated output,
 * and, when some accreditation falls in [as-of, as-of + N months], to the expiring output; bad lines
 * go to the quarantine output with their reasons and raw text. A (snapshot_date, facility_id) seen
 * earlier in the run is counted as a duplicate and written nowhere.
 */
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LineSplitter, DEFAULT_MAX_LINE_BYTES, Line } from './lines';
import { OutputWriter, Sink } from './sinks';
import { addMonths, isCalendarDate } from '../lib/dates';
import { classifyAwsError } from '../lib/errors';
import { partitionKey } from '../lib/keys';
import { FacilityRecord, Reason, validateRecord } from '../schema';

/** A gzip stream that cannot be decompressed (corrupt or truncated): permanent, the run fails. */
export class CorruptInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CorruptInputError';
  }
}

export interface Stage2Prefixes {
  readonly validated: string;
  readonly expiring: string;
  readonly quarantine: string;
}

export interface Counts {
  read: number;
  valid: number;
  matched: number;
  quarantined: number;
  duplicates: number;
  blank: number;
}

export interface Stage2Outputs {
  validated: string[];
  expiring: string[];
  quarantine: string[];
}

/** What one input produced (the handler adds bucket and etag to make the design's ProcessSummary). */
export interface ObjectResult extends Counts {
  /** The input's key (S3 key or local path). */
  key: string;
  /** The key's snapshot folder; else the only record snapshot seen; else the first one; else 'unknown'. */
  snapshotDate: string;
  /** The explicit as-of date, or the snapshot date (each record's own snapshot_date is used when not overridden). */
  asOf: string;
  outputs: Stage2Outputs;
  /** Quarantined lines per reason code (each line under its first reason, so the values sum to `quarantined`). */
  reasons: Record<string, number>;
  /** Counts per snapshot_date partition (quarantined lines under their quarantine partition). */
  partitions: Record<string, Counts>;
}

export interface ProcessOptions {
  /** The input's key or path: names it in quarantine records and in the result. */
  readonly sourceKey: string;
  /** The `<snapshot_date>` folder of the key, when it has one (records must match it). */
  readonly folderSnapshotDate?: string;
  /** The output file stem (lambda-src/lib/keys.parseRawKey). */
  readonly stem: string;
  /** Gunzip the input (default: the key ends in `.gz`). */
  readonly gzip?: boolean;
  /** Fixed as-of date; default: each record's snapshot_date. */
  readonly asOf?: string;
  /** Months of the expiry window (default 6). */
  readonly months?: number;
  readonly sink: Sink;
  readonly prefixes: Stage2Prefixes;
  /** (snapshot_date, facility_id) pairs already emitted in this run; shared across the inputs of a run. */
  readonly seen?: SeenFacilities;
  readonly maxLineBytes?: number;
}

/* eslint-disable no-bitwise */ // hashing and power-of-two table masks

/** Digits of a facility id that still encode exactly in a double: FAC + 1–14 digits. */
const MAX_ENCODED_DIGITS = 14;
const DIGITS_SCALE = 1e14;

/** A 32-bit mix of the key (keys are integers below 2^53, never 0). */
function hashKey(key: number): number {
  let h = Math.imul((key >>> 0) ^ Math.imul((key / 4294967296) | 0, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * One snapshot's facility ids: `FAC` + up to 14 digits (the schema allows `^FAC[0-9]+$`; the generator
 * makes 5–7 digits) are encoded as one number, `digits × 10^14 + value` (the digit count keeps `FAC007` and
 * `FAC7` apart), in an open-addressing Float64Array table; anything else goes to a Set of strings.
 * 8 bytes per id and no retained strings: the heap stays small however many facilities a run sees.
 */
class FacilityIdSet {
  private keys = new Float64Array(1024);
  private used = 0;
  private other: Set<string> | undefined;

  /** Adds the id; false when it was already there. */
  add(id: string): boolean {
    const n = id.length;
    const fac = id.charCodeAt(0) === 70 && id.charCodeAt(1) === 65 && id.charCodeAt(2) === 67; // 'FAC'
    if (n < 4 || n > 3 + MAX_ENCODED_DIGITS || !fac) return this.addOther(id);
    let v = 0;
    for (let i = 3; i < n; i++) {
      const d = id.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return this.addOther(id);
      v = v * 10 + d;
    }
    const key = (n - 3) * DIGITS_SCALE + v;
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = hashKey(key) & mask;
    for (let k = keys[i]; k !== 0; k = keys[i]) {
      if (k === key) return false;
      i = (i + 1) & mask;
    }
    keys[i] = key;
    if (++this.used * 2 > keys.length) this.grow();
    return true;
  }

  get size(): number {
    return this.used + (this.other?.size ?? 0);
  }

  private addOther(id: string): boolean {
    this.other ??= new Set<string>();
    if (this.other.has(id)) return false;
    this.other.add(id);
    return true;
  }

  private grow(): void {
    const old = this.keys;
    const keys = new Float64Array(old.length * 2);
    const mask = keys.length - 1;
    for (const key of old) {
      if (key === 0) continue;
      let i = hashKey(key) & mask;
      while (keys[i] !== 0) i = (i + 1) & mask;
      keys[i] = key;
    }
    this.keys = keys;
  }
}

/* eslint-enable no-bitwise */

/** The (snapshot_date, facility_id) pairs emitted so far in a run (shared by its inputs). */
export class SeenFacilities {
  private readonly bySnapshot = new Map<string, FacilityIdSet>();

  /** Records the pair; false when it was already there (a duplicate). */
  add(snapshotDate: string, facilityId: string): boolean {
    let ids = this.bySnapshot.get(snapshotDate);
    if (ids === undefined) {
      ids = new FacilityIdSet();
      this.bySnapshot.set(snapshotDate, ids);
    }
    return ids.add(facilityId);
  }

  get size(): number {
    let n = 0;
    for (const ids of this.bySnapshot.values()) n += ids.size;
    return n;
  }
}

export function emptyCounts(): Counts {
  return { read: 0, valid: 0, matched: 0, quarantined: 0, duplicates: 0, blank: 0 };
}

interface Partition {
  counts: Counts;
  validated?: OutputWriter;
  expiring?: OutputWriter;
  quarantine?: OutputWriter;
}

function isBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0b && c !== 0x0c) return false;
  }
  return true;
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Processes one input stream (raw bytes, gzip or not) and writes every output object of every
 * partition it touched, empty ones included, so the outputs are a pure function of the input.
 * On any failure every output being written is discarded and the error is rethrown.
 */
export async function processStream(input: Readable, opts: ProcessOptions): Promise<ObjectResult> {
  const months = opts.months ?? 6;
  if (!Number.isInteger(months) || months < 0) throw new RangeError(`months must be a non-negative integer (got ${months})`);
  if (opts.asOf !== undefined && !isCalendarDate(opts.asOf)) throw new RangeError(`as-of must be a YYYY-MM-DD calendar date (got ${opts.asOf})`);
  const gzip = opts.gzip ?? /\.gz$/i.test(opts.sourceKey);
  const seen = opts.seen ?? new SeenFacilities();
  const splitter = new LineSplitter(opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const stem = opts.stem;
  const file = `${stem}.jsonl`;
  const partitions = new Map<string, Partition>();
  const total = emptyCounts();
  const reasonCounts = new Map<string, number>();
  const horizons = new Map<string, string>();
  const fixedHorizon = opts.asOf !== undefined ? addMonths(opts.asOf, months) : undefined;

  const partition = (d: string, full: boolean): Partition => {
    let p = partitions.get(d);
    if (!p) {
      p = { counts: emptyCounts() };
      partitions.set(d, p);
    }
    if (!p.quarantine) p.quarantine = opts.sink.open(partitionKey(opts.prefixes.quarantine, d, file));
    if (full && !p.validated) {
      p.validated = opts.sink.open(partitionKey(opts.prefixes.validated, d, file));
      p.expiring = opts.sink.open(partitionKey(opts.prefixes.expiring, d, file));
    }
    return p;
  };
  // The key's partition exists even when the object is empty or every line is bad.
  if (opts.folderSnapshotDate !== undefined) partition(opts.folderSnapshotDate, true);

  const expiring = (rec: FacilityRecord): boolean => {
    const asOf = opts.asOf ?? rec.snapshot_date;
    let horizon = fixedHorizon;
    if (horizon === undefined) {
      horizon = horizons.get(asOf);
      if (horizon === undefined) {
        horizon = addMonths(asOf, months);
        horizons.set(asOf, horizon);
      }
    }
    for (const a of rec.accreditations) {
      if (a.valid_until >= asOf && a.valid_until <= horizon) return true;
    }
    return false;
  };

  const quarantine = (line: Line, reasons: Reason[], parsed: unknown, extra: Record<string, unknown> = {}): Promise<void> | undefined => {
    const recSnapshot = parsed !== null && typeof parsed === 'object' ? (parsed as { snapshot_date?: unknown }).snapshot_date : undefined;
    const d = opts.folderSnapshotDate ?? (isCalendarDate(recSnapshot) ? recSnapshot : 'unknown');
    const p = partition(d, false);
    p.counts.read++;
    p.counts.quarantined++;
    total.read++;
    total.quarantined++;
    reasonCounts.set(reasons[0].code, (reasonCounts.get(reasons[0].code) ?? 0) + 1);
    const entry = {
      source_key: opts.sourceKey,
      line: line.lineNo,
      reason: reasons[0].code,
      reasons,
      snapshot_date: d,
      raw: line.bytes.toString('utf8'),
      ...extra,
    };
    return p.quarantine!.write(`${JSON.stringify(entry)}\n`);
  };

  const handle = (line: Line): Promise<void> | undefined => {
    if (line.tooLong) {
      return quarantine(line, [{ code: 'line_too_long', field: '', message: `line is ${line.length} bytes, over the ${opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES}-byte cap` }],
        undefined, { raw_truncated: true, raw_bytes: line.length });
    }
    if (isBlank(line.bytes)) {
      total.blank++;
      if (opts.folderSnapshotDate !== undefined) partition(opts.folderSnapshotDate, true).counts.blank++;
      return undefined;
    }
    if (!isUtf8(line.bytes)) {
      return quarantine(line, [{ code: 'invalid_utf8', field: '', message: 'line is not valid UTF-8' }], undefined,
        { raw_base64: line.bytes.toString('base64') });
    }
    let parsed: unknown;
    const text = line.bytes.toString('utf8');
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return quarantine(line, [{ code: 'invalid_json', field: '', message: `not JSON: ${(e as Error).message}` }], undefined);
    }
    const v = validateRecord(parsed, { folderSnapshotDate: opts.folderSnapshotDate, raw: text });
    if (!v.ok) return quarantine(line, v.reasons, parsed);
    const rec = v.record;
    const p = partition(rec.snapshot_date, true);
    p.counts.read++;
    p.counts.valid++;
    total.read++;
    total.valid++;
    if (!seen.add(rec.snapshot_date, rec.facility_id)) {
      p.counts.duplicates++;
      total.duplicates++;
      return undefined;
    }
    const w1 = p.validated!.writeLine(line.bytes);
    let w2: Promise<void> | undefined;
    if (expiring(rec)) {
      p.counts.matched++;
      total.matched++;
      w2 = p.expiring!.writeLine(line.bytes);
    }
    if (w1 && w2) return Promise.all([w1, w2]).then(() => undefined);
    return w1 ?? w2;
  };

  const source: Readable = gzip ? input.pipe(createGunzip()) : input;
  if (gzip) input.on('error', (e) => source.destroy(e));
  try {
    for await (const chunk of source) {
      for (const line of splitter.push(chunk as Buffer)) {
        const pending = handle(line);
        if (pending) await pending;
      }
    }
    for (const line of splitter.end()) {
      const pending = handle(line);
      if (pending) await pending;
    }
  } catch (err) {
    await abortAll(partitions);
    input.destroy();
    if (isZlibError(err)) {
      throw new CorruptInputError(`${opts.sourceKey}: gzip stream is corrupt or truncated (${(err as Error).message}); no output written`, { cause: err });
    }
    classifyAwsError(err, `reading ${opts.sourceKey}`);
  }

  const outputs: Stage2Outputs = { validated: [], expiring: [], quarantine: [] };
  const dates = [...partitions.keys()].sort();
  try {
    // Commit order: quarantine, expiring, then validated last. The validated output is what the
    // queries read, so a run that dies mid-commit never looks complete; its retry rewrites all three
    // (docs/runtime.md).
    for (const kind of ['quarantine', 'expiring', 'validated'] as const) {
      for (const d of dates) {
        const p = partitions.get(d)!;
        const w = p[kind];
        if (w) {
          await w.end();
          outputs[kind].push(w.key);
        }
      }
    }
  } catch (err) {
    await abortAll(partitions);
    throw err;
  }
  const recordDates = dates.filter((d) => d !== 'unknown');
  const snapshotDate = opts.folderSnapshotDate ?? recordDates[0] ?? 'unknown';
  return {
    key: opts.sourceKey,
    snapshotDate,
    asOf: opts.asOf ?? snapshotDate,
    ...total,
    outputs,
    reasons: Object.fromEntries([...reasonCounts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    partitions: Object.fromEntries(dates.map((d) => [d, partitions.get(d)!.counts])),
  };
}

async function abortAll(partitions: Map<string, Partition>): Promise<void> {
  const all: OutputWriter[] = [];
  for (const p of partitions.values()) for (const w of [p.validated, p.expiring, p.quarantine]) if (w) all.push(w);
  await Promise.all(all.map((w) => w.abort().catch(() => undefined)));
}
