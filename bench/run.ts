/**
 * `npm run bench [-- <name> …] [--records N]`: runs the benchmarks and prints markdown tables.
 * Benchmarks report; they never fail the build (performance is not asserted by timed tests).
 */
import { parseArgs } from 'node:util';
import type * as Generate from './generate';
import type * as LocalE2e from './local-e2e';
import type * as LocalScale from './local-scale';
import type * as Stage2 from './stage2';

/* eslint-disable @typescript-eslint/no-require-imports */ // each benchmark is loaded only when selected

interface Bench {
  readonly name: string;
  readonly describe: string;
  run(records?: number): Promise<Array<Record<string, unknown>>>;
}

const BENCHES: Bench[] = [
  {
    name: 'generate',
    describe: 'npx medlaunch-elt generate throughput',
    run: async (records) => (require('./generate') as typeof Generate).benchGenerate({ records }) as any,
  },
  {
    name: 'stage2',
    describe: 'Stage 2 processor vs a naive JSON.parse line filter',
    run: async (records) => (require('./stage2') as typeof Stage2).benchStage2({ records }) as any,
  },
  {
    name: 'local',
    describe: 'local end-to-end wall time (all four stages on the embedded local AWS)',
    run: async (records) => (require('./local-e2e') as typeof LocalE2e).benchLocal({ records }) as any,
  },
  {
    name: 'scale',
    describe: 'many small files on the local engine: 10, 100, 1,000 files of 10 records, a 30 × 20 backfill; requests per file',
    run: async (records) => (require('./local-scale') as typeof LocalScale).benchScale({ records }) as any,
  },
];

function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(no rows)';
  const cols = Object.keys(rows[0]);
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v ?? ''));
  return [
    `| ${cols.join(' | ')} |`,
    `| ${cols.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: { records: { type: 'string' } },
    allowPositionals: true,
  });
  const records = values.records !== undefined ? Number(values.records) : undefined;
  if (records !== undefined && (!Number.isInteger(records) || records <= 0)) {
    throw new Error(`--records must be a positive integer (got ${values.records})`);
  }
  const unknown = positionals.filter((p) => !BENCHES.some((b) => b.name === p));
  if (unknown.length) throw new Error(`unknown benchmark(s): ${unknown.join(', ')} (known: ${BENCHES.map((b) => b.name).join(', ')})`);
  const selected = positionals.length ? BENCHES.filter((b) => positionals.includes(b.name)) : BENCHES;
  console.log(`# medlaunch-elt benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
  for (const b of selected) {
    console.log(`## ${b.name}: ${b.describe}\n`);
    console.log(`${table(await b.run(records))}\n`);
  }
}

main().catch((e) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
