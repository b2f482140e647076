/**
 * Many small files through the local engine: N files of R records in one snapshot, and a backfill of
 * S snapshots × F files. Reports wall time, CPU time, peak RSS and the AWS requests per file
 * (`runLocalPipeline`'s `requests`), the cost model of a burst of small drops.
 *
 *   npx tsx bench/local-scale.ts [--files 10,100,1000] [--records 10] [--backfill 30x20] [--repeat N]
 *
 * Each case runs in its own child process (its peak RSS is that process's maxRSS). With `--repeat N` each case runs
 * N times, one after the other, and a last line gives the median wall and CPU time with their range: on a shared VM
 * the same work takes noticeably more or less CPU time from run to run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLines } from '../cli/generate/generator';
import type { RequestReport } from '../local/orchestrator/index';

export interface ScaleCase {
  readonly name: string;
  readonly snapshots: number;
  readonly filesPerSnapshot: number;
  readonly records: number;
  readonly concurrency?: { account?: number; function?: number };
}

export interface ScaleRow {
  name: string;
  files: number;
  executions: number;
  succeeded: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** CPU time of the main thread alone (the embedded AWS endpoints, the state machine interpreter, the CLI): the part that cannot spread over cores. */
  mainCpuSeconds: number;
  peakRssMb: number;
  /** Peak V8 heap of the main thread (sampled every 250 ms), MB. */
  peakMainHeapMb: number;
  /** service → operation → count, over the whole run. */
  requests: RequestReport;
}

/** Writes `snapshots` snapshot folders of `files` files × `records` records. */
export function writeData(dir: string, c: ScaleCase): void {
  for (let s = 0; s < c.snapshots; s++) {
    const snapshot = new Date(Date.UTC(2025, 8, 1 + s)).toISOString().slice(0, 10);
    mkdirSync(join(dir, snapshot), { recursive: true });
    for (let f = 0; f < c.filesPerSnapshot; f++) {
      const lines = [...generateLines({ n: c.records, snapshot, startIndex: f * c.records + 1, seed: 7 })];
      writeFileSync(join(dir, snapshot, `facilities_${String(f + 1).padStart(4, '0')}.jsonl`), `${lines.join('\n')}\n`);
    }
  }
}

/** Runs one case in this process (the child side). */
async function child(c: ScaleCase): Promise<ScaleRow> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runLocalPipeline } = require('../local/orchestrator/index') as typeof import('../local/orchestrator/index');
  const dir = mkdtempSync(join(tmpdir(), 'medlaunch-bench-scale-'));
  try {
    writeData(join(dir, 'data'), c);
    const cpu0 = process.cpuUsage();
    const main0 = process.threadCpuUsage();
    const t0 = process.hrtime.bigint();
    let peakHeap = 0;
    const sampler = setInterval(() => { peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed); }, 250);
    const r = await runLocalPipeline({ dataDir: join(dir, 'data'), workDir: join(dir, 'aws'), lambdaConcurrency: c.concurrency })
      .finally(() => clearInterval(sampler));
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const main = process.threadCpuUsage(main0);
    return {
      name: c.name,
      files: c.snapshots * c.filesPerSnapshot,
      executions: r.executions.length,
      succeeded: r.executions.filter((e) => e.status === 'SUCCEEDED').length,
      wallSeconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      mainCpuSeconds: (main.user + main.system) / 1e6,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      peakMainHeapMb: Math.round(peakHeap / 1024 / 1024),
      requests: r.requests,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function runCase(c: ScaleCase): ScaleRow {
  const out = execFileSync(process.execPath, [...process.execArgv, __filename, '--child', JSON.stringify(c)], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').pop()!) as ScaleRow;
}

/** `<name> median` and `<name> range` of some measurements, to one decimal. */
export function spread(name: string, values: number[]): Record<string, string | number> {
  const v = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  const median = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return { [`${name} median`]: r(median), [`${name} range`]: `${r(v[0])}–${r(v[v.length - 1])}` };
}

const sum = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((n, v) => n + v, 0);

/** One table row: time, memory, and the pipeline's requests per file (the CLI's uploads and read-back excluded). */
export function summarize(r: ScaleRow): Record<string, string | number> {
  const q = r.requests;
  const per = (n: number) => Math.round((n / r.files) * 100) / 100;
  const pipelineS3 = (op?: string) => (op ? (q.s3[op] ?? 0) - (q.client.s3[op] ?? 0) : sum(q.s3) - sum(q.client.s3));
  return {
    'case': r.name,
    'files': r.files,
    'succeeded': r.succeeded,
    'wall s': Math.round(r.wallSeconds * 10) / 10,
    'CPU s': Math.round(r.cpuSeconds * 10) / 10,
    'main-thread CPU s': Math.round(r.mainCpuSeconds * 10) / 10,
    'peak RSS MB': r.peakRssMb,
    'S3 req/file': per(pipelineS3()),
    'PUT+COPY+LIST/file': per(pipelineS3('PutObject') + pipelineS3('CopyObject') + pipelineS3('ListObjectsV2')),
    'GET+HEAD/file': per(pipelineS3('GetObject') + pipelineS3('HeadObject')),
    'Lambda inv/file': per(sum(q.lambda)),
    'Lambda GB-s/file': per(sum(q.lambda_gb_seconds)),
    'Athena queries': (q.athena.StartQueryExecution ?? 0) - (q.client.athena.StartQueryExecution ?? 0),
    'transitions/file': per(q.stepfunctions.StateTransitions),
    'SNS': sum(q.sns),
  };
}

/** `npm run bench -- scale`: the four cases, each in its own process. */
export async function benchScale(opts: { records?: number } = {}): Promise<Array<Record<string, string | number>>> {
  const records = opts.records ?? 10;
  const cases: ScaleCase[] = [10, 100, 1000].map((n) => ({ name: `${n} files`, snapshots: 1, filesPerSnapshot: n, records }));
  cases.push({ name: 'backfill 30 × 20', snapshots: 30, filesPerSnapshot: 20, records });
  return cases.map((c) => summarize(runCase(c)));
}

if (require.main === module) {
  const i = process.argv.indexOf('--child');
  if (i > 0) {
    child(JSON.parse(process.argv[i + 1]) as ScaleCase).then((row) => {
      process.stdout.write(`${JSON.stringify(row)}\n`);
      process.exit(0);
    }, (e) => { console.error(e); process.exit(1); });
  } else {
    const arg = (name: string) => { const j = process.argv.indexOf(name); return j > 0 ? process.argv[j + 1] : undefined; };
    const records = Number(arg('--records') ?? 10);
    const cc = arg('--concurrency')?.split('/').map(Number);
    const concurrency = cc ? { account: cc[0], function: cc[1] } : undefined;
    const cases: ScaleCase[] = (arg('--files') ?? '10,100,1000').split(',')
      .map((n) => ({ name: `${n} files`, snapshots: 1, filesPerSnapshot: Number(n), records, concurrency }));
    const bf = arg('--backfill') ?? '30x20';
    if (bf !== 'none') {
      const [s, f] = bf.split('x').map(Number);
      cases.push({ name: `backfill ${s}×${f}`, snapshots: s, filesPerSnapshot: f, records, concurrency });
    }
    const repeat = Number(arg('--repeat') ?? 1);
    if (!Number.isInteger(repeat) || repeat < 1) {
      console.error(`--repeat must be a whole number of runs, 1 or more (got ${arg('--repeat')})`);
      process.exit(2);
    }
    for (const c of cases) {
      const rows: ScaleRow[] = [];
      for (let run = 0; run < repeat; run++) {
        const row = runCase(c);
        rows.push(row);
        console.log(JSON.stringify(row));
        console.log(JSON.stringify(summarize(row)));
      }
      if (repeat > 1) console.log(JSON.stringify({ case: c.name, runs: repeat, ...spread('wall s', rows.map((r) => r.wallSeconds)), ...spread('CPU s', rows.map((r) => r.cpuSeconds)), ...spread('main-thread CPU s', rows.map((r) => r.mainCpuSeconds)) }));
    }
  }
}
