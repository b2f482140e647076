/**
 * Writes a generated data set to `<outdir>/<snapshot>/facilities_0001.jsonl[.gz]`, … with `chunk`
 * records per file, streaming with backpressure (constant memory whatever `n` is).
 *
 * The snapshot folder gets a manifest ({@link GENERATE_MANIFEST}) naming every file generate wrote
 * there, kept up to date as each file is opened. A later run into the same folder replaces exactly
 * those files (old files the new run does not rewrite are deleted), so old and new files never mix;
 * a folder holding anything else (the shipped sample data, the user's own files) is refused and left
 * untouched.
 */
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip, ZlibOptions } from 'node:zlib';
import { GenerateOptions, generateItems } from './generator';
import { UsageError } from '../errors';

/**
 * The manifest generate keeps in each snapshot folder it writes: JSON
 * `{"writer": "medlaunch-elt generate", "files": [names]}`. Its name has no data extension, so
 * neither the pipeline's event rule nor `expiring`/`local` ever read it as data.
 */
export const GENERATE_MANIFEST = '.medlaunch-elt-generate.manifest';

interface GenerateManifest { writer: 'medlaunch-elt generate'; files: string[] }

function readManifest(dir: string): GenerateManifest | undefined {
  const p = join(dir, GENERATE_MANIFEST);
  if (!existsSync(p)) return undefined;
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as GenerateManifest;
    if (m.writer === 'medlaunch-elt generate' && Array.isArray(m.files) && m.files.every((f) => typeof f === 'string' && !f.includes('/') && !f.includes('\\'))) return m;
  } catch {
    // unreadable: treated as absent, so nothing in the folder is taken for generate's own
  }
  return undefined;
}

function writeManifest(dir: string, files: string[]): void {
  const p = join(dir, GENERATE_MANIFEST);
  writeFileSync(`${p}.tmp`, `${JSON.stringify({ writer: 'medlaunch-elt generate', files } satisfies GenerateManifest)}\n`);
  renameSync(`${p}.tmp`, p);
}

/**
 * Checks the snapshot folder before anything is written: it may be absent, empty, or hold only files
 * an earlier generate wrote (its manifest). Returns those earlier files; throws a UsageError naming
 * the first foreign entries otherwise.
 */
export function previousGeneratedFiles(dir: string, hint = ''): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) throw new UsageError(`generate: ${dir} is a file, not a folder`);
  const manifest = readManifest(dir);
  const own = new Set(manifest?.files ?? []);
  const foreign = readdirSync(dir).filter((f) => f !== GENERATE_MANIFEST && f !== `${GENERATE_MANIFEST}.tmp` && !own.has(f)).sort();
  if (foreign.length > 0) {
    const list = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, … (${foreign.length} in all)` : '');
    throw new UsageError(
      `generate: ${dir} holds files generate did not write (${list}); it never overwrites or mixes with them${hint}`
      + ' — pass another --outdir or --snapshot',
    );
  }
  return [...own].filter((f) => existsSync(join(dir, f)));
}

export interface WriteDatasetOptions extends GenerateOptions {
  /** Records (non-blank lines) per file; a re-sent duplicate always stays in its original's file. */
  readonly chunk: number;
  /** Root folder; files go to `<outdir>/<snapshot>/`. */
  readonly outdir: string;
  /** Write `.jsonl.gz` instead of `.jsonl`. */
  readonly gzip?: boolean;
  /** Appended to the refusal message when the snapshot folder holds files generate did not write. */
  readonly foreignHint?: string;
  /** Called now and then with the number of lines written so far. */
  readonly onProgress?: (linesWritten: number) => void;
}

export interface WriteDatasetResult {
  /** The folder written to (`<outdir>/<snapshot>`). */
  readonly dir: string;
  /** Paths of the files written, in order. */
  readonly files: string[];
  /** Files of an earlier generate run in the same folder that were replaced. */
  readonly replaced: number;
  /** Non-blank lines written (valid + invalid + duplicates). */
  readonly records: number;
  readonly valid: number;
  readonly invalid: number;
  readonly duplicates: number;
  readonly blank: number;
  /** Uncompressed bytes written. */
  readonly bytes: number;
}

/** `facilities_0001.jsonl` for the first file. */
export function chunkFileName(fileNumber: number, gzip = false): string {
  return `facilities_${String(fileNumber).padStart(4, '0')}.jsonl${gzip ? '.gz' : ''}`;
}

const BATCH_BYTES = 64 * 1024;
/** Buffered bytes per stream before write() asks us to wait: lets disk I/O overlap generation. */
const HIGH_WATER_MARK = 4 * 1024 * 1024;
/** zlib level 1: text NDJSON still shrinks ~7x and compression keeps up with generation. */
export const GZIP_LEVEL = 1;

interface Sink {
  readonly stream: Writable;
  readonly done: Promise<void>;
}

function openSink(path: string, gzip: boolean): Sink {
  const file = createWriteStream(path, { highWaterMark: HIGH_WATER_MARK });
  let done: Promise<void>;
  let stream: Writable;
  if (gzip) {
    // zlib streams pass their options on to Transform, which takes highWaterMark (not in ZlibOptions' type).
    const z = createGzip({ level: GZIP_LEVEL, chunkSize: 256 * 1024, highWaterMark: HIGH_WATER_MARK } as ZlibOptions);
    done = pipeline(z, file);
    stream = z;
  } else {
    done = finished(file);
    stream = file;
  }
  done.catch(() => undefined); // observed when awaited below; avoid an unhandled rejection meanwhile
  return { stream, done };
}

async function write(sink: Sink, text: string): Promise<void> {
  if (!sink.stream.write(text)) await once(sink.stream, 'drain');
}

async function close(sink: Sink): Promise<void> {
  sink.stream.end();
  await sink.done;
}

export async function writeDataset(opts: WriteDatasetOptions): Promise<WriteDatasetResult> {
  if (!Number.isSafeInteger(opts.chunk) || opts.chunk < 1) throw new RangeError(`chunk must be a positive integer (got ${opts.chunk})`);
  const gzip = opts.gzip ?? false;
  const dir = join(opts.outdir, opts.snapshot);
  const items = generateItems(opts); // validates the options before anything is created
  const first = items.next();
  const previous = previousGeneratedFiles(dir, opts.foreignHint);
  mkdirSync(dir, { recursive: true });
  // The earlier run's files go first; the manifest lists every file before it is created, so a run
  // that stops half way still leaves a folder the next run recognises as its own.
  for (const f of previous) rmSync(join(dir, f), { force: true });
  const names: string[] = [];
  writeManifest(dir, names);

  const files: string[] = [];
  const counts = { valid: 0, invalid: 0, duplicate: 0, blank: 0 };
  let bytes = 0;
  let inFile = 0;
  let lines = 0;
  let sink: Sink | undefined;
  let batch = '';

  const flush = async () => {
    if (sink && batch) {
      const text = batch;
      batch = '';
      bytes += Buffer.byteLength(text);
      await write(sink, text);
    }
  };
  try {
    for (let r = first; !r.done; r = items.next()) {
      const item = r.value;
      const opensFile = !sink || (inFile >= opts.chunk && (item.kind === 'valid' || item.kind === 'invalid'));
      if (opensFile) {
        await flush();
        if (sink) await close(sink);
        const name = chunkFileName(files.length + 1, gzip);
        const path = join(dir, name);
        names.push(name);
        writeManifest(dir, names);
        files.push(path);
        sink = openSink(path, gzip);
        inFile = 0;
      }
      batch += `${item.line}\n`;
      counts[item.kind]++;
      if (item.kind !== 'blank') inFile++;
      if (batch.length >= BATCH_BYTES) await flush();
      if (++lines % 50_000 === 0) opts.onProgress?.(lines);
    }
    await flush();
    if (sink) await close(sink);
  } catch (err) {
    sink?.stream.destroy();
    throw err;
  }
  opts.onProgress?.(lines);
  return {
    dir,
    files,
    replaced: previous.length,
    records: counts.valid + counts.invalid + counts.duplicate,
    valid: counts.valid,
    invalid: counts.invalid,
    duplicates: counts.duplicate,
    blank: counts.blank,
    bytes,
  };
}
