/**
 * `medlaunch-elt expiring`: Stage 2 on local files or S3 prefixes (SPEC §4).
 *
 * Reads every input (file, folder read recursively in sorted order, or s3:// prefix listed in key
 * order), validates each line, and writes under --output:
 *   snapshot_date=<d>/<stem>.jsonl               expiring records (original lines)
 *   _validated/snapshot_date=<d>/<stem>.jsonl    every valid record, first occurrence only
 *   _quarantine/snapshot_date=<d>/<stem>.jsonl   bad lines with reasons
 * Duplicates of (snapshot_date, facility_id) are detected across all inputs of the run.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { isCalendarDate } from '../../lambda-src/lib/dates';
import { parseRawKey } from '../../lambda-src/lib/keys';
import {
  Counts, FileSink, listLocalDataFiles, listS3DataKeys, openLocalFile, openS3Object, parseS3Uri, processStream,
  SeenFacilities, S3Sink, Sink,
  Stage2Prefixes,
} from '../../lambda-src/stage2';
import { UsageError } from '../errors';

export const HELP = `usage: medlaunch-elt expiring --input PATH_OR_S3_URI [--input …] --output PATH_OR_S3_URI
                             [--as-of YYYY-MM-DD] [--months M] [--json]

Stage 2: validates NDJSON facility records (.jsonl/.ndjson/.json, optionally .gz), quarantines bad
lines and writes the facilities with an accreditation expiring within M months (default 6).

  --input    a file, a folder (read recursively, sorted) or an s3://bucket/prefix; repeatable
  --output   a folder or an s3://bucket/prefix; expiring records go to snapshot_date=<d>/,
             the validated copy to _validated/, quarantined lines to _quarantine/
  --as-of    fixed as-of date (default: each record's snapshot_date)
  --months   months of the expiry window, an integer >= 0 (default 6)
  --json     print the summary as one JSON object on the last line of stdout`;

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

async function expandInput(input: string): Promise<InputItem[]> {
  const uri = parseS3Uri(input);
  if (uri) {
    const keys = await listS3DataKeys(s3(), uri.bucket, uri.prefix);
    if (keys.length === 0) throw new UsageError(`input not found: no data objects under ${input}`);
    return keys.map((key) => ({ kind: 's3', bucket: uri.bucket, key }));
  }
  if (input.startsWith('s3://')) throw new UsageError(`bad S3 URI: ${input}`);
  const path = resolve(input);
  if (!existsSync(path)) throw new UsageError(`input not found: ${input}`);
  if (statSync(path).isDirectory()) return (await listLocalDataFiles(path)).map((key) => ({ kind: 'file', key }));
  return [{ kind: 'file', key: path }];
}

function outputTarget(output: string): { sink: Sink; prefixes: Stage2Prefixes; where: string } {
  const uri = parseS3Uri(output);
  if (uri) {
    const base = uri.prefix === '' || uri.prefix.endsWith('/') ? uri.prefix : `${uri.prefix}/`;
    return {
      sink: new S3Sink(s3(), uri.bucket),
      prefixes: { expiring: base, validated: `${base}_validated/`, quarantine: `${base}_quarantine/` },
      where: `s3://${uri.bucket}/${base}`,
    };
  }
  if (output.startsWith('s3://')) throw new UsageError(`bad S3 URI: ${output}`);
  const dir = resolve(output);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--output is a file, not a folder: ${output}`);
  return { sink: new FileSink(dir), prefixes: { expiring: '', validated: '_validated/', quarantine: '_quarantine/' }, where: dir };
}

/** Runs the command; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'input': { type: 'string', multiple: true },
      'output': { type: 'string' },
      'as-of': { type: 'string' },
      'months': { type: 'string' },
      'json': { type: 'boolean', default: false },
      'help': { type: 'boolean', short: 'h', default: false },
    },
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
  let months = 6;
  if (values.months !== undefined) {
    if (!/^\d+$/.test(values.months.trim())) throw new UsageError(`expiring: --months must be a non-negative integer (got '${values.months}')`);
    months = Number(values.months.trim());
    if (months > 1200) throw new UsageError(`expiring: --months must be at most 1200 (got ${months})`);
  }

  const items: InputItem[] = [];
  for (const input of inputs) items.push(...(await expandInput(input)));
  const target = outputTarget(values.output);

  const seen = new SeenFacilities();
  const stems = new Map<string, number>();
  const total: Counts = { read: 0, valid: 0, matched: 0, quarantined: 0, duplicates: 0, blank: 0 };
  for (const item of items) {
    const info = parseRawKey(item.key);
    // Two inputs with the same snapshot folder and file name must not overwrite each other.
    const slot = `${info.snapshotDate ?? '*'}|${info.stem}`;
    const n = (stems.get(slot) ?? 0) + 1;
    stems.set(slot, n);
    const stem = n === 1 ? info.stem : `${info.stem}__${n}`;
    const source = item.kind === 's3' ? await openS3Object(s3(), item.bucket!, item.key) : openLocalFile(item.key);
    const r = await processStream(source.stream, {
      sourceKey: item.kind === 's3' ? `s3://${item.bucket}/${item.key}` : item.key,
      folderSnapshotDate: info.snapshotDate,
      stem,
      gzip: info.gzip,
      asOf,
      months,
      sink: target.sink,
      prefixes: target.prefixes,
      seen,
    });
    for (const k of Object.keys(total) as Array<keyof Counts>) total[k] += r[k];
  }

  if (values.json) {
    process.stdout.write(`${JSON.stringify(total)}\n`);
  } else {
    process.stdout.write(
      `read ${total.read} lines from ${items.length} file(s): ${total.valid} valid (${total.duplicates} duplicates), `
      + `${total.quarantined} quarantined, ${total.blank} blank skipped\n`
      + `${total.matched} facilities expiring within ${months} months${asOf ? ` of ${asOf}` : ' of their snapshot date'} → ${target.where}\n`,
    );
  }
  return 0;
}
