/**
 * Benchmark of `medlaunch-elt generate`: line generation alone, then writing plain and gzip files
 * through the same code the command uses. Reports; never asserts.
 *
 *   npx tsx bench/generate.ts [--records N]      (default 1,000,000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateLines } from '../cli/generate/generator';
import { writeDataset } from '../cli/generate/writer';

export interface GenerateBenchRow {
  name: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  peakRssMb: number;
}

const MB = 1024 * 1024;
const SNAPSHOT = '2025-08-10';

/** Runs `fn`, sampling the resident set size every 20 ms; returns its result, the time and the peak RSS. */
async function measure<T>(fn: () => Promise<T> | T): Promise<{ result: T; seconds: number; peakRssMb: number }> {
  global.gc?.();
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const start = process.hrtime.bigint();
  try {
    const result = await fn();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, seconds, peakRssMb: peak / MB };
  } finally {
    clearInterval(timer);
  }
}

function row(name: string, records: number, bytes: number, m: { seconds: number; peakRssMb: number }): GenerateBenchRow {
  return {
    name,
    records,
    seconds: m.seconds,
    recordsPerSec: Math.round(records / m.seconds),
    mbPerSec: bytes / MB / m.seconds,
    peakRssMb: m.peakRssMb,
  };
}

export async function benchGenerate(opts: { records?: number } = {}): Promise<GenerateBenchRow[]> {
  const records = opts.records ?? 1_000_000;
  const rows: GenerateBenchRow[] = [];

  const gen = await measure(() => {
    let bytes = 0;
    for (const line of generateLines({ n: records, snapshot: SNAPSHOT })) bytes += line.length + 1;
    return bytes;
  });
  rows.push(row('generateLines (no I/O)', records, gen.result, gen));

  const dir = mkdtempSync(join(tmpdir(), 'medlaunch-bench-gen-'));
  try {
    const chunk = Math.max(1, Math.ceil(records / 4));
    for (const gzip of [false, true]) {
      const m = await measure(() => writeDataset({ n: records, chunk, snapshot: SNAPSHOT, outdir: join(dir, gzip ? 'gz' : 'plain'), gzip }));
      rows.push(row(gzip ? 'write .jsonl.gz (4 files)' : 'write .jsonl (4 files)', records, m.result.bytes, m));
      rmSync(join(dir, gzip ? 'gz' : 'plain'), { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) {
  const { values } = parseArgs({ options: { records: { type: 'string' } } });
  const records = values.records !== undefined ? Number(values.records) : undefined;
  if (records !== undefined && (!Number.isInteger(records) || records <= 0)) {
    process.stderr.write(`--records must be a positive integer (got ${values.records})\n`);
    process.exit(2);
  }
  benchGenerate({ records }).then(
    (rows) => {
      const cols = Object.keys(rows[0]) as Array<keyof GenerateBenchRow>;
      const fmt = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v));
      console.log(`| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |`);
      for (const r of rows) console.log(`| ${cols.map((c) => fmt(r[c])).join(' | ')} |`);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
