/**
 * Stage 2 benchmark: the full streaming processor (validation, dedupe, three outputs) against a
 * naive single-core line filter (readline + JSON.parse + expiring check, matches written). Both
 * variants live in bench/stage2-child.ts, bundled here with the Lambda bundler's settings (esbuild,
 * minified, node24), so what is measured is the code that ships; each run is its own child process
 * so peak RSS is per variant. The variants alternate for ROUNDS rounds and the median is reported,
 * which keeps a noisy shared machine from deciding the ratio. Not a test: it reports, never asserts.
 *
 *   npx tsx bench/stage2.ts --records 400000 [--rounds 3]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type BuildOptions } from 'esbuild';
import type { ChildResult } from './stage2-child';
import { generateLines } from '../cli/generate/generator';

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

const SNAPSHOT = '2025-08-10';
const DEFAULT_ROUNDS = 5;

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

/** Bundles the child with the options scripts/bundle.mjs uses for every Lambda handler. */
async function bundleChild(dir: string): Promise<string> {
  const outfile = join(dir, 'stage2-child.js');
  const lambdaOptions = JSON.parse(readFileSync(join(__dirname, '..', 'scripts', 'lambda-esbuild.json'), 'utf8')) as BuildOptions;
  await build({ ...lambdaOptions, absWorkingDir: join(__dirname, '..'), entryPoints: [join(__dirname, 'stage2-child.ts')], outfile });
  return outfile;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function runChild(script: string, variant: string, input: string, output: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, variant, input, output, SNAPSHOT], {
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

export async function benchStage2(opts: { records?: number; rounds?: number } = {}): Promise<BenchRow[]> {
  const records = opts.records ?? 400_000;
  const rounds = opts.rounds ?? DEFAULT_ROUNDS;
  const dir = mkdtempSync(join(tmpdir(), 'bench-stage2-'));
  try {
    const script = await bundleChild(dir);
    const inputDir = join(dir, 'in', SNAPSHOT);
    mkdirSync(inputDir, { recursive: true });
    const input = join(inputDir, 'part-0001.jsonl');
    await writeInput(input, records);
    const mb = statSync(input).size / 1e6;
    const variants = ['naive', 'full'] as const;
    const runs: Record<(typeof variants)[number], ChildResult[]> = { naive: [], full: [] };
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const output = join(dir, `out-${variant}`);
        rmSync(output, { recursive: true, force: true });
        mkdirSync(output, { recursive: true });
        runs[variant].push(await runChild(script, variant, input, output));
      }
    }
    const naiveSeconds = median(runs.naive.map((r) => r.ms)) / 1000;
    return variants.map((variant) => {
      const rs = runs[variant];
      const seconds = median(rs.map((r) => r.ms)) / 1000;
      return {
        variant: variant === 'naive' ? 'naive readline + JSON.parse filter' : 'Stage 2 processor (validate + 3 outputs)',
        records: rs[0].lines,
        mb: Math.round(mb * 10) / 10,
        seconds,
        mb_per_s: mb / seconds,
        records_per_s: Math.round(rs[0].lines / seconds),
        peak_rss_mb: Math.max(...rs.map((r) => r.maxRssKb)) / 1024,
        matched: rs[0].matched,
        vs_naive: naiveSeconds / seconds,
      };
    });
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
    options: { records: { type: 'string' }, rounds: { type: 'string' } },
  });
  const main = async () => {
    const records = values.records !== undefined ? Number(values.records) : undefined;
    if (records !== undefined && (!Number.isInteger(records) || records <= 0)) throw new Error(`--records must be a positive integer (got ${values.records})`);
    const rounds = values.rounds !== undefined ? Number(values.rounds) : undefined;
    if (rounds !== undefined && (!Number.isInteger(rounds) || rounds <= 0)) throw new Error(`--rounds must be a positive integer (got ${values.rounds})`);
    console.log(markdown(await benchStage2({ records, rounds })));
  };
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
