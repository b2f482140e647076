/**
 * Local end-to-end wall time: the shipped 76-record data set, then generated snapshots of 100k and 1M
 * records (files of 50,000 records, like daily drops), each through all four stages on the embedded
 * local AWS (`runLocalPipeline`, exactly what `npx medlaunch-elt local` runs).
 *
 *   npx tsx bench/local-e2e.ts [--records N]
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLines } from '../cli/generate/generator';
import { runLocalPipeline } from '../local/orchestrator/index';

const RECORDS_PER_FILE = 50_000;

export interface LocalBenchRow {
  name: string;
  records: number;
  files: number;
  executions: number;
  succeeded: number;
  seconds: number;
  recordsPerSec: number;
  peakRssMb: number;
}

async function writeSnapshot(dir: string, snapshot: string, records: number): Promise<number> {
  const folder = join(dir, snapshot);
  mkdirSync(folder, { recursive: true });
  let files = 0;
  for (let start = 0; start < records; start += RECORDS_PER_FILE) {
    const n = Math.min(RECORDS_PER_FILE, records - start);
    files++;
    const out = createWriteStream(join(folder, `facilities_${String(files).padStart(4, '0')}.jsonl`));
    for (const line of generateLines({ n, snapshot, startIndex: start + 1, seed: 7 })) {
      if (!out.write(`${line}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  }
  return files;
}

async function measure(name: string, dataDir: string, records: number, files: number): Promise<LocalBenchRow> {
  const work = mkdtempSync(join(tmpdir(), 'medlaunch-bench-local-'));
  try {
    const t0 = process.hrtime.bigint();
    const r = await runLocalPipeline({ dataDir, workDir: join(work, 'aws') });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      name,
      records,
      files,
      executions: r.executions.length,
      succeeded: r.executions.filter((e) => e.status === 'SUCCEEDED').length,
      seconds,
      recordsPerSec: Math.round(records / seconds),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function benchLocal(opts: { records?: number } = {}): Promise<LocalBenchRow[]> {
  const rows: LocalBenchRow[] = [];
  if (opts.records === undefined) {
    rows.push(await measure('shipped data/batch', join(__dirname, '..', 'data', 'batch'), 76, 9));
  }
  for (const records of opts.records !== undefined ? [opts.records] : [100_000, 1_000_000]) {
    const dir = mkdtempSync(join(tmpdir(), 'medlaunch-bench-data-'));
    try {
      const files = await writeSnapshot(dir, '2025-09-01', records);
      rows.push(await measure(`generated ${records.toLocaleString('en-US')}`, dir, records, files));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

if (require.main === module) {
  const i = process.argv.indexOf('--records');
  const records = i > 0 ? Number(process.argv[i + 1]) : undefined;
  benchLocal({ records }).then((rows) => console.table(rows), (e) => {
    console.error(e);
    process.exit(1);
  });
}
