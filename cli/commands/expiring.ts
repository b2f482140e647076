/**
 * `medlaunch-elt expiring`: Stage 2 on local files or S3 prefixes (docs/contract.md §4).
 *
 * Reads every input (file, folder read recursively in sorted order, or s3:// prefix listed in key
 * order), validates each line, and writes under --output:
 *   snapshot_date=<d>/<stem>.jsonl               expiring records (original lines)
 *   _validated/snapshot_date=<d>/<stem>.jsonl    every valid record, first occurrence only
 *   _quarantine/snapshot_date=<d>/<stem>.jsonl   bad lines with reasons
 * Duplicates of (snapshot_date, facility_id) are detected across all inputs of the run.
 *
 * Each run's result is the output folder's whole content: a manifest ({@link EXPIRING_MANIFEST})
 * names every file expiring wrote there, and the next run deletes the ones it does not rewrite.
 * Files under those three areas that no manifest names are the user's: the run refuses to start.
 * The output areas are never read as input (so `--input X --output X` works run after run).
 * An unreadable input (corrupt gzip, S3 error) is reported and skipped; the run goes on with the
 * others and exits 1 at the end.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { isCalendarDate } from '../../lambda-src/lib/dates';
import { parseRawKey } from '../../lambda-src/lib/keys';
import { listObjects } from '../../lambda-src/lib/s3-list';
import {
  Counts, FileSink, listLocalDataFiles, listS3DataKeys, openLocalFile, openS3Object, parseS3Uri, processStream,
  SeenFacilities, S3Sink, Sink,
  Stage2Prefixes,
} from '../../lambda-src/validate';
import { MONTHS_MAX, MONTHS_MIN, parseCommandArgs, parseMonths, plural, shortPath } from '../args';
import { UsageError } from '../errors';

export const HELP = `usage: medlaunch-elt expiring --input PATH_OR_S3_URI [--input …] --output PATH_OR_S3_URI
                             [--as-of YYYY-MM-DD] [--months M] [--json]

Stage 2: validates NDJSON facility records (.jsonl/.ndjson/.json, optionally .gz), quarantines bad
lines and writes the facilities with an accreditation expiring within M months (default 6).

  --input    a file, a folder (read recursively, sorted) or an s3://bucket/prefix; repeatable.
             Other files are skipped; expiring's own output areas are never read as input.
  --output   a folder or an s3://bucket/prefix; expiring records go to snapshot_date=<d>/,
             the validated copy to _validated/, quarantined lines to _quarantine/. Each run
             replaces what the previous run wrote there (listed in ${'.medlaunch-elt-expiring.manifest'});
             files there that expiring did not write make it refuse to run.
  --as-of    fixed as-of date (default: each record's snapshot_date)
  --months   months of the expiry window, an integer from ${MONTHS_MIN} to ${MONTHS_MAX} (default 6)
  --json     print the summary as one JSON object on the last line of stdout

An input that cannot be read (corrupt gzip, S3 error) is reported on stderr and skipped; the other
inputs are processed and the command exits 1 after the summary.`;

/** The manifest of the files one run wrote under --output (JSON `{"writer", "keys": [relative keys]}`). */
export const EXPIRING_MANIFEST = '.medlaunch-elt-expiring.manifest';

interface InputItem {
  readonly kind: 'file' | 's3';
  readonly key: string;
  readonly bucket?: string;
}

let s3Client: S3Client | undefined;
function s3(): S3Client {
  s3Client ??= new S3Client(process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION ? {} : { region: 'us-east-1' });
  return s3Client;
}

/** `<Operation> s3://bucket/key: <ErrorName>: <message>` for an SDK error. */
function s3Failure(op: string, uri: string, err: unknown): Error {
  const e = err as Error & { $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return new Error(`${op} ${uri} failed: ${e.name}${status ? ` (HTTP ${status})` : ''}: ${(e.message || '').split('\n')[0]}`);
}

const AREA_DIRS = ['_validated', '_quarantine'];
const isAreaDir = (name: string) => AREA_DIRS.includes(name) || name.startsWith('snapshot_date=');

/** Where the outputs go: local folder or S3 prefix, with the listing, manifest and delete operations the run needs. */
interface OutputTarget {
  readonly sink: Sink;
  readonly prefixes: Stage2Prefixes;
  /** For messages: the folder path or `s3://bucket/base`. */
  readonly where: string;
  /** True when a (local path or S3 key) input item lies in one of the output areas. */
  isOutput(item: InputItem): boolean;
  /** Relative keys of every file now under the output areas. */
  listAreas(): Promise<string[]>;
  readManifest(): Promise<string[] | undefined>;
  writeManifest(keys: string[]): Promise<void>;
  remove(keys: string[]): Promise<void>;
  /** Relative key of an output key written by the sink. */
  rel(sinkKey: string): string;
}

function localTarget(output: string): OutputTarget {
  const dir = resolve(output);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`expiring: --output is a file, not a folder: ${output}`);
  const manifestPath = join(dir, EXPIRING_MANIFEST);
  return {
    sink: new FileSink(dir),
    prefixes: { expiring: '', validated: '_validated/', quarantine: '_quarantine/' },
    where: dir,
    isOutput: (item) => {
      const rel = relative(dir, item.key);
      if (rel.startsWith('..') || resolve(dir, rel) !== resolve(item.key) || rel === '') return false;
      return isAreaDir(rel.split(sep)[0]);
    },
    listAreas: async () => {
      if (!existsSync(dir)) return [];
      const out: string[] = [];
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          const p = join(d, e.name);
          if (e.isDirectory()) walk(p);
          else out.push(relative(dir, p).split(sep).join('/'));
        }
      };
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory() && isAreaDir(e.name)) walk(join(dir, e.name));
      return out.sort();
    },
    readManifest: async () => (existsSync(manifestPath) ? parseManifest(readFileSync(manifestPath, 'utf8')) : undefined),
    writeManifest: async (keys) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${manifestPath}.tmp`, manifestText(keys));
      renameSync(`${manifestPath}.tmp`, manifestPath);
    },
    remove: async (keys) => {
      for (const k of keys) rmSync(join(dir, ...k.split('/')), { force: true });
      // Folders the removed files leave empty go too (only inside the output areas).
      const prune = (d: string): boolean => {
        let empty = true;
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory() && prune(join(d, e.name))) rmdirSync(join(d, e.name));
          else empty = false;
        }
        return empty;
      };
      if (existsSync(dir)) {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          if (e.isDirectory() && isAreaDir(e.name) && prune(join(dir, e.name))) rmdirSync(join(dir, e.name));
        }
      }
    },
    rel: (k) => k,
  };
}

function s3Target(uri: { bucket: string; prefix: string }): OutputTarget {
  const base = uri.prefix === '' || uri.prefix.endsWith('/') ? uri.prefix : `${uri.prefix}/`;
  const where = `s3://${uri.bucket}/${base}`;
  const manifestKey = `${base}${EXPIRING_MANIFEST}`;
  const inArea = (rel: string) => isAreaDir(rel.split('/')[0]) && rel.includes('/');
  return {
    sink: new S3Sink(s3(), uri.bucket),
    prefixes: { expiring: base, validated: `${base}_validated/`, quarantine: `${base}_quarantine/` },
    where,
    isOutput: (item) => item.bucket === uri.bucket && item.key.startsWith(base) && inArea(item.key.slice(base.length)),
    listAreas: async () => {
      const out: string[] = [];
      try {
        for await (const o of listObjects(s3(), uri.bucket, base)) {
          const rel = o.Key.slice(base.length);
          if (inArea(rel)) out.push(rel);
        }
      } catch (e) {
        throw s3Failure('ListObjectsV2', where, e);
      }
      return out.sort();
    },
    readManifest: async () => {
      try {
        const r = await s3().send(new GetObjectCommand({ Bucket: uri.bucket, Key: manifestKey }));
        return parseManifest(await r.Body!.transformToString('utf8'));
      } catch (e) {
        if ((e as Error).name === 'NoSuchKey') return undefined;
        throw s3Failure('GetObject', `s3://${uri.bucket}/${manifestKey}`, e);
      }
    },
    writeManifest: async (keys) => {
      try {
        await s3().send(new PutObjectCommand({ Bucket: uri.bucket, Key: manifestKey, Body: manifestText(keys), ContentType: 'application/json' }));
      } catch (e) {
        throw s3Failure('PutObject', `s3://${uri.bucket}/${manifestKey}`, e);
      }
    },
    remove: async (keys) => {
      for (const k of keys) {
        try {
          await s3().send(new DeleteObjectCommand({ Bucket: uri.bucket, Key: `${base}${k}` }));
        } catch (e) {
          throw s3Failure('DeleteObject', `s3://${uri.bucket}/${base}${k}`, e);
        }
      }
    },
    rel: (k) => (k.startsWith(base) ? k.slice(base.length) : k),
  };
}

function manifestText(keys: string[]): string {
  return `${JSON.stringify({ writer: 'medlaunch-elt expiring', keys: [...keys].sort() })}\n`;
}

function parseManifest(text: string): string[] | undefined {
  try {
    const m = JSON.parse(text) as { writer?: string; keys?: unknown };
    if (m.writer === 'medlaunch-elt expiring' && Array.isArray(m.keys) && m.keys.every((k) => typeof k === 'string' && !k.split('/').includes('..'))) {
      return m.keys as string[];
    }
  } catch {
    // not a manifest: nothing counts as expiring's own
  }
  return undefined;
}

function outputTarget(output: string): OutputTarget {
  const uri = parseS3Uri(output);
  if (uri) return s3Target(uri);
  if (output.startsWith('s3://')) throw new UsageError(`expiring: bad S3 URI: ${output}`);
  return localTarget(output);
}

const DATA_FILES = 'data files (.jsonl, .ndjson, .json, optionally .gz)';

async function expandInput(input: string): Promise<InputItem[]> {
  const uri = parseS3Uri(input);
  if (uri) {
    let keys: string[];
    try {
      keys = await listS3DataKeys(s3(), uri.bucket, uri.prefix);
    } catch (e) {
      throw s3Failure('ListObjectsV2', input, e);
    }
    return keys.map((key) => ({ kind: 's3', bucket: uri.bucket, key }));
  }
  if (input.startsWith('s3://')) throw new UsageError(`expiring: bad S3 URI: ${input}`);
  const path = resolve(input);
  if (!existsSync(path)) throw new UsageError(`expiring: input not found: ${input}`);
  if (statSync(path).isDirectory()) return (await listLocalDataFiles(path)).map((key) => ({ kind: 'file', key }));
  return [{ kind: 'file', key: path }];
}

/** Runs the command; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('expiring', argv, {
    'input': { type: 'string', multiple: true },
    'output': { type: 'string' },
    'as-of': { type: 'string' },
    'months': { type: 'string' },
    'json': { type: 'boolean', default: false },
    'help': { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const inputs = values.input ?? [];
  if (inputs.length === 0) throw new UsageError('expiring: --input is required');
  if (inputs.some((i) => i.trim() === '')) throw new UsageError('expiring: --input must not be empty');
  if (!values.output) throw new UsageError('expiring: --output is required');
  const asOf = values['as-of'];
  if (asOf !== undefined && !isCalendarDate(asOf)) throw new UsageError(`expiring: --as-of must be a YYYY-MM-DD calendar date (got '${asOf}')`);
  const months = parseMonths('expiring', values.months) ?? 6;
  const target = outputTarget(values.output);

  // Inputs, without expiring's own output areas.
  const items: InputItem[] = [];
  let excluded = 0;
  for (const input of inputs) {
    const all = await expandInput(input);
    const own = all.filter((i) => target.isOutput(i));
    excluded += own.length;
    const data = all.filter((i) => !target.isOutput(i));
    if (data.length === 0) {
      throw new UsageError(`expiring: --input ${input} holds no ${DATA_FILES}${own.length ? ` other than expiring's own outputs under ${target.where}` : ''}`);
    }
    items.push(...data);
  }

  // The output areas may hold only what an earlier run wrote (its manifest).
  const previous = (await target.readManifest()) ?? [];
  const known = new Set(previous);
  const foreign = (await target.listAreas()).filter((k) => !known.has(k));
  if (foreign.length > 0) {
    throw new UsageError(
      `expiring: --output ${values.output} already holds ${plural(foreign.length, 'file')} expiring did not write (${foreign.slice(0, 2).join(', ')}`
      + `${foreign.length > 2 ? ', …' : ''}); it will not overwrite or delete them — pass a new or empty --output`,
    );
  }

  const seen = new SeenFacilities();
  const stems = new Map<string, number>();
  const total: Counts = { read: 0, valid: 0, matched: 0, quarantined: 0, duplicates: 0, blank: 0 };
  const written = new Set<string>();
  const unreadable: Array<{ input: string; error: string }> = [];
  let processed = 0;
  for (const item of items) {
    const info = parseRawKey(item.key);
    // Two inputs with the same snapshot folder and stem must not overwrite each other. The suffix uses `~`, which
    // plain stems never contain (docs/design.md, output stems), so `a~2` cannot be the stem of another input.
    const slot = `${info.snapshotDate ?? '*'}|${info.stem}`;
    const n = (stems.get(slot) ?? 0) + 1;
    stems.set(slot, n);
    const stem = n === 1 ? info.stem : `${info.stem}~${n}`;
    const name = item.kind === 's3' ? `s3://${item.bucket}/${item.key}` : item.key;
    let source;
    try {
      source = item.kind === 's3' ? await openS3Object(s3(), item.bucket!, item.key) : openLocalFile(item.key);
    } catch (e) {
      const err = s3Failure('GetObject', name, e);
      unreadable.push({ input: name, error: err.message });
      process.stderr.write(`medlaunch-elt: expiring: skipped unreadable input: ${err.message}\n`);
      continue;
    }
    let r;
    try {
      r = await processStream(source.stream, {
        sourceKey: name,
        folderSnapshotDate: info.snapshotDate,
        stem,
        gzip: info.gzip,
        asOf,
        months,
        sink: target.sink,
        prefixes: target.prefixes,
        seen,
      });
    } catch (e) {
      const err = e as Error & { $metadata?: unknown; code?: string };
      // Reading the input failed (corrupt gzip, unreadable file, S3 read error): report it, go on.
      if (err.name === 'CorruptInputError' || (item.kind === 'file' && typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code))) {
        const message = `${name}: ${err.name === 'CorruptInputError' ? err.message.replace(`${name}: `, '') : `${err.code}: ${err.message}`}`;
        unreadable.push({ input: name, error: message });
        process.stderr.write(`medlaunch-elt: expiring: skipped unreadable input: ${message.split('\n')[0]}\n`);
        continue;
      }
      if (err.$metadata !== undefined || err.name === 'TransientError') throw s3Failure('writing the outputs of', `${name} to ${target.where}`, e);
      throw e;
    }
    processed++;
    for (const k of Object.keys(total) as Array<keyof Counts>) total[k] += r[k];
    for (const k of [...r.outputs.validated, ...r.outputs.expiring, ...r.outputs.quarantine]) written.add(target.rel(k));
    // Until the run ends the manifest names both runs' files, so an interrupted run leaves nothing unrecognised.
    await target.writeManifest([...new Set([...previous, ...written])]);
  }
  const stale = previous.filter((k) => !written.has(k));
  await target.remove(stale);
  await target.writeManifest([...written]);

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...total, ...(unreadable.length ? { unreadable } : {}) })}\n`);
  } else {
    const lines = total.read + total.blank;
    const where = (area: string) => (target.where.startsWith('s3://') ? `${target.where}${area}` : join(shortPath(target.where), area));
    process.stdout.write([
      `read ${plural(lines, 'line')} from ${plural(processed, 'file')}: ${plural(total.read, 'record')} + ${plural(total.blank, 'blank line')} (skipped)`,
      `  ${total.valid} valid (${plural(total.duplicates, 'duplicate')} among them, written once), ${total.quarantined} quarantined → ${where('_quarantine/')}`,
      `  ${plural(total.matched, 'facility', 'facilities')} expiring within ${plural(months, 'month')}`
        + `${asOf ? ` of ${asOf}` : ' of each record\'s snapshot date'} → ${where('snapshot_date=<d>/')}`,
      ...(excluded ? [`  ${plural(excluded, 'file')} under ${where('')} not read: expiring's own outputs`] : []),
      ...(stale.length ? [`  removed ${plural(stale.length, 'file')} of the previous run that this run did not rewrite`] : []),
      ...(unreadable.length ? [`  ${plural(unreadable.length, 'input')} could not be read (see above): exit 1`] : []),
      '',
    ].join('\n'));
  }
  if (unreadable.length > 0) {
    process.stderr.write(`medlaunch-elt: expiring: ${plural(unreadable.length, 'input')} of ${items.length} could not be read; the others were processed\n`);
    return 1;
  }
  return 0;
}
