/**
 * The two Stage 2 benchmark variants, run in a child process (bench/stage2.ts bundles this file with
 * the Lambda bundler's settings, so the measured code is what ships, not tsx-transpiled source):
 *
 *   node stage2-child.js <naive|full> <input file> <output folder> <snapshot date>
 *
 * Prints one JSON line: wall ms, lines read, records matched, peak RSS.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { addMonths } from '../lambda-src/lib/dates';
import { processStream } from '../lambda-src/validate/processor';
import { FileSink } from '../lambda-src/validate/sinks';
import { openLocalFile } from '../lambda-src/validate/sources';

export interface ChildResult {
  ms: number;
  lines: number;
  matched: number;
  maxRssKb: number;
}

/** readline + JSON.parse + the expiring test; writes the matching lines, nothing else. */
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

/** The Stage 2 processor: every line validated, deduplicated, three outputs written. */
async function full(input: string, output: string, snapshot: string): Promise<{ lines: number; matched: number }> {
  const r = await processStream(openLocalFile(input).stream, {
    sourceKey: input,
    folderSnapshotDate: snapshot,
    stem: 'part-0001',
    sink: new FileSink(output),
    prefixes: { expiring: '', validated: '_validated/', quarantine: '_quarantine/' },
    months: 6,
  });
  return { lines: r.read, matched: r.matched };
}

async function main(): Promise<void> {
  const [variant, input, output, snapshot] = process.argv.slice(2);
  if (!['naive', 'full'].includes(variant) || !input || !output || !snapshot) {
    throw new Error('usage: stage2-child <naive|full> <input> <output> <snapshot_date>');
  }
  const t0 = process.hrtime.bigint();
  const r = variant === 'naive' ? await naive(input, output) : await full(input, output, snapshot);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const res: ChildResult = { ms, lines: r.lines, matched: r.matched, maxRssKb: process.resourceUsage().maxRSS };
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
