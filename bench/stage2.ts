/**
 * Stage 2 benchmark: the full streaming processor (validation, dedupe, three outputs) against a
 * naive single-core line filter (readline + JSON.parse + expiring check, matches written), each in its
 * own child process so peak RSS is per variant. Not a test: it reports, never asserts.
 *
 *   npx tsx bench/stage2.ts --records 400000
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { generateLines } from '../cli/generate/generator';
import { addMonths } from '../lambda-src/lib/dates';
import { FileSink, openLocalFile, processStream } from '../lambda-src/stage2';

export interface BenchRow {
  variant: string;
  records: number;
  mb: number;
  seconds: number;
  mb_per_s: number;
  records_per_s: number;
  peak_rss_mb: number;
  matched: number;
  vs_naive: number;
}

interface ChildResult {
  ms: number;
  lines: number;
  matched: number;
  maxRssKb: number;
}

const SNAPSHOT = '2025-08-10';

async function writeInput(path: string, records: number): Promise<void> {
  const out = createWriteStream(path, { highWaterMark: 1024 * 1024 });
  let buf = '';
  const gen = { n: records, snapshot: SNAPSHOT, seed: 7, bad: Math.floor(records / 1000), duplicates: Math.floor(records / 2000), blank: 10 };
  for (const line of generateLines(gen)) {
    buf += `${line}\n`;
    if (buf.length >= 256 * 1024) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

async function naive(input: string, output: string): Promise<{ lines: number; matched: number }> {
  const out = createWriteStream(join(output, 'expiring.jsonl'));
  const rl = createInterface({ input: createReadStream(input), crlfDelay: Infinity });
  let lines = 0;
  let matched = 0;
  const horizon = new Map<string, string>();
  for await (const line of rl) {
    if (!line.trim()) continue;
    lines++;
    let rec: any;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    const asOf = rec?.snapshot_date;
    if (typeof asOf !== 'string' || !Array.isArray(rec.accreditations)) continue;
    let h = horizon.get(asOf);
    if (h === undefined) {
      try {
        h = addMonths(asOf, 6);
      } catch {
        continue;
      }
      horizon.set(asOf, h);
    }
    if (rec.accreditations.some((a: any) => a?.valid_until >= asOf && a?.valid_until <= h!)) {
      matched++;
      if (!out.write(`${line}\n`)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
  return { lines, matched };
}

async function full(input: string, output: string): Promise<{ lines: number; matched: number }> {
  const r = await processStream(openLocalFile(input).stream, {
    sourceKey: input,
    folderSnapshotDate: SNAPSHOT,
    stem: 'part-0001',
    sink: new FileSink(output),
    prefixes: { expiring: '', validated: '_validated/', quarantine: '_quarantine/' },
    months: 6,
  });
  return { lines: r.read, matched: r.matched };
}

/** Child entry: runs one variant and prints its ChildResult as JSON. */
async function child(variant: string, input: string, output: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  const r = variant === 'naive' ? await naive(input, output) : await full(input, output);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const res: ChildResult = { ms, lines: r.lines, matched: r.matched, maxRssKb: process.resourceUsage().maxRSS };
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

function runChild(variant: string, input: string, output: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', __filename, '--child', variant, '--input', input, '--output', output], {
      cwd: join(__dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${variant} exited with ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

export async function benchStage2(opts: { records?: number } = {}): Promise<BenchRow[]> {
  const records = opts.records ?? 400_000;
  const dir = mkdtempSync(join(tmpdir(), 'bench-stage2-'));
  try {
    const inputDir = join(dir, 'in', SNAPSHOT);
    mkdirSync(inputDir, { recursive: true });
    const input = join(inputDir, 'part-0001.jsonl');
    await writeInput(input, records);
    const mb = statSync(input).size / 1e6;
    const rows: BenchRow[] = [];
    let naiveSeconds = 0;
    for (const variant of ['naive', 'full'] as const) {
      const output = join(dir, `out-${variant}`);
      mkdirSync(output, { recursive: true });
      const r = await runChild(variant, input, output);
      const seconds = r.ms / 1000;
      if (variant === 'naive') naiveSeconds = seconds;
      rows.push({
        variant: variant === 'naive' ? 'naive readline + JSON.parse filter' : 'Stage 2 processor (validate + 3 outputs)',
        records: r.lines,
        mb: Math.round(mb * 10) / 10,
        seconds,
        mb_per_s: mb / seconds,
        records_per_s: Math.round(r.lines / seconds),
        peak_rss_mb: r.maxRssKb / 1024,
        matched: r.matched,
        vs_naive: naiveSeconds / seconds,
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function markdown(rows: BenchRow[]): string {
  const cols = Object.keys(rows[0]) as Array<keyof BenchRow>;
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v));
  return [`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`)].join('\n');
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { records: { type: 'string' }, child: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' } },
  });
  const main = async () => {
    if (values.child) return child(values.child, values.input!, values.output!);
    const records = values.records !== undefined ? Number(values.records) : undefined;
    if (records !== undefined && (!Number.isInteger(records) || records <= 0)) throw new Error(`--records must be a positive integer (got ${values.records})`);
    console.log(markdown(await benchStage2({ records })));
  };
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
