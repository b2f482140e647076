/**
 * Writes a generated data set to `<outdir>/<snapshot>/facilities_0001.jsonl[.gz]`, … with `chunk`
 * records per file, streaming with backpressure (constant memory whatever `n` is).
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip, ZlibOptions } from 'node:zlib';
import { GenerateOptions, generateItems } from './generator';

export interface WriteDatasetOptions extends GenerateOptions {
  /** Records (non-blank lines) per file; a re-sent duplicate always stays in its original's file. */
  readonly chunk: number;
  /** Root folder; files go to `<outdir>/<snapshot>/`. */
  readonly outdir: string;
  /** Write `.jsonl.gz` instead of `.jsonl`. */
  readonly gzip?: boolean;
  /** Called now and then with the number of lines written so far. */
  readonly onProgress?: (linesWritten: number) => void;
}

export interface WriteDatasetResult {
  /** The folder written to (`<outdir>/<snapshot>`). */
  readonly dir: string;
  /** Paths of the files written, in order. */
  readonly files: string[];
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
  mkdirSync(dir, { recursive: true });

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
        const path = join(dir, chunkFileName(files.length + 1, gzip));
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
    records: counts.valid + counts.invalid + counts.duplicate,
    valid: counts.valid,
    invalid: counts.invalid,
    duplicates: counts.duplicate,
    blank: counts.blank,
    bytes,
  };
}
