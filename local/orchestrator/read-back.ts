/**
 * Reading the results back as a user would, through the local S3 and Athena APIs: the extract's
 * row count and first rows, the expiring facility ids, the production state counts, and the
 * quarantine reasons and local paths the summary shows.
 *
 * The per-file outputs (expiring, quarantine) are listed through the S3 API and their bytes read from
 * the bucket folder, where the local S3 keeps each current object as its file, byte-exact (the same
 * files the summary's `expiring_path` and `quarantine_path` point to, and the extract files are linked
 * from). A GetObject per file cost the main thread about 1 ms in SDK and endpoint work: 2 s at the end
 * of a 1,000-file snapshot, for bytes that are on disk already.
 */
import { copyFileSync, createReadStream, linkSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Deployment, ProcessSummaryLike } from './deploy';
import type { SnapshotDetails } from './result';
import { addMonths } from '../../lambda-src/lib/dates';
import { listObjects } from '../../lambda-src/lib/s3-list';
import { forEachLimit } from '../concurrency';

/** Output files read at once while the results are read back. */
const READ_BACK_CONCURRENCY = 8;

export async function countExtractRows(athena: AthenaClient, dep: Deployment, snapshot: string): Promise<number> {
  const start = await athena.send(new StartQueryExecutionCommand({
    QueryString: `SELECT count(*) AS n FROM ${dep.curatedTable} WHERE snapshot_date = ?`,
    ExecutionParameters: [`'${snapshot}'`],
    QueryExecutionContext: { Database: dep.database },
    WorkGroup: dep.workGroup,
  }));
  const id = start.QueryExecutionId!;
  for (;;) {
    const q = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = q.QueryExecution?.Status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new Error(`reading back the Stage 1 extract failed: ${q.QueryExecution?.Status?.StateChangeReason}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const res = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
  return Number(res.ResultSet?.Rows?.[1]?.Data?.[0]?.VarCharValue ?? 0);
}

async function readText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await r.Body!.transformToString('utf8');
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey') return undefined;
    throw e;
  }
}

/**
 * Every line of the objects under `prefix`: listed through the S3 API, each read from its file in the
 * bucket folder `bucketDir`, streamed line by line (an output can be hundreds of MB), a few files at a time.
 */
async function forEachOutputLine(s3: S3Client, bucket: string, bucketDir: string, prefix: string, fn: (line: string) => void): Promise<void> {
  const keys: string[] = [];
  for await (const { Key: key } of listObjects(s3, bucket, prefix)) keys.push(key);
  await forEachLimit(keys, READ_BACK_CONCURRENCY, async (key) => {
    const input = createReadStream(join(bucketDir, ...key.split('/')));
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line.trim()) fn(line);
    }
  });
}

/** The facility ids of the snapshot's expiring outputs, sorted. */
export async function expiringIds(s3: S3Client, dep: Deployment, bucketDir: string, snapshot: string): Promise<string[]> {
  const ids = new Set<string>();
  await forEachOutputLine(s3, dep.bucket, bucketDir, `${dep.expiringPrefix}snapshot_date=${snapshot}/`, (line) => ids.add(facilityIdOf(line)));
  return [...ids].sort();
}

const ID_PREFIX = '{"facility_id":"';

/**
 * The `facility_id` of an output line. Stage 2 writes records unchanged, and the generator (like most
 * writers) puts `facility_id` first, so the id is read off the line without parsing it when that is
 * exact: the line starts with `{"facility_id":"`, has no backslash (so no escaped key or quote
 * anywhere) and no second `"facility_id"` (JSON.parse would take the last). Otherwise it is parsed.
 */
export function facilityIdOf(line: string): string {
  if (line.startsWith(ID_PREFIX) && !line.includes('\\')) {
    const end = line.indexOf('"', ID_PREFIX.length);
    if (end > 0 && line.indexOf('"facility_id"', end) === -1) return line.slice(ID_PREFIX.length, end);
  }
  return String(JSON.parse(line).facility_id);
}

export async function productionStateCounts(s3: S3Client, dep: Deployment, snapshot: string): Promise<Record<string, number>> {
  const text = await readText(s3, dep.bucket, `${dep.productionPrefix}snapshot_date=${snapshot}/state_counts.json`);
  if (text === undefined) return {};
  const doc = JSON.parse(text);
  const rows: Array<{ state: string; accredited_facilities: number }> = Array.isArray(doc.state_counts) ? doc.state_counts : [];
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.accredited_facilities)]));
}

export async function snapshotDetails(a: {
  s3Client: S3Client;
  athenaClient: AthenaClient;
  dep: Deployment;
  snapshot: string;
  own: ProcessSummaryLike[];
  workDir: string;
  bucketDir: string;
  asOf?: string;
  months: number;
  files: number;
}): Promise<SnapshotDetails> {
  const { dep, snapshot: d } = a;
  const { quarantinePrefix, curatedPrefix } = dep;
  const reasons: Record<string, number> = {};
  await forEachOutputLine(a.s3Client, dep.bucket, a.bucketDir, `${quarantinePrefix}snapshot_date=${d}/`, (line) => {
    const reason = String((JSON.parse(line) as { reason?: unknown }).reason ?? 'unknown');
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  });
  // The extract's objects, linked (or copied) under <workDir>/extract/ with a .parquet name.
  const extractFiles: string[] = [];
  const partition = `${curatedPrefix}snapshot_date=${d}/`;
  for await (const { Key: key } of listObjects(a.s3Client, dep.bucket, partition)) {
    const rel = key.slice(partition.length);
    if (rel.includes('/') || rel.startsWith('_')) continue;
    const src = join(a.bucketDir, ...key.split('/'));
    const dst = join(a.workDir, 'extract', `snapshot_date=${d}`, `${basename(rel).replace(/\.parquet$/i, '')}.parquet`);
    mkdirSync(dirname(dst), { recursive: true });
    try {
      linkSync(src, dst);
    } catch {
      copyFileSync(src, dst);
    }
    extractFiles.push(dst);
  }
  const rows = await athenaRows(a.athenaClient, dep,
    `SELECT * FROM ${dep.curatedTable} WHERE snapshot_date = ? ORDER BY facility_id LIMIT 3`, [`'${d}'`]);
  const from = a.asOf ?? d;
  return {
    files: a.files,
    lines: a.own.reduce((n, s) => n + s.read + (s.blank ?? 0), 0),
    duplicates: a.own.reduce((n, s) => n + (s.duplicates ?? 0), 0),
    blank: a.own.reduce((n, s) => n + (s.blank ?? 0), 0),
    quarantine_reasons: Object.fromEntries(Object.entries(reasons).sort(([x], [y]) => (x < y ? -1 : 1))),
    quarantine_path: join(a.bucketDir, ...`${quarantinePrefix}snapshot_date=${d}`.split('/')),
    window: { from, to: addMonths(from, a.months), months: a.months },
    expiring_path: join(a.bucketDir, ...`${dep.expiringPrefix}snapshot_date=${d}`.split('/')),
    extract_files: extractFiles.sort(),
    extract_sample: rows,
  };
}

/** Runs one query through the local Athena (as a user would) and returns its rows as objects. */
async function athenaRows(athena: AthenaClient, dep: Deployment, sql: string, params: string[]): Promise<Array<Record<string, string | null>>> {
  const start = await athena.send(new StartQueryExecutionCommand({
    QueryString: sql, ExecutionParameters: params, QueryExecutionContext: { Database: dep.database }, WorkGroup: dep.workGroup,
  }));
  const id = start.QueryExecutionId!;
  for (;;) {
    const q = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = q.QueryExecution?.Status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') throw new Error(`reading back the Stage 1 extract failed: ${q.QueryExecution?.Status?.StateChangeReason}`);
    await sleep(20);
  }
  const res = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
  const [head, ...data] = res.ResultSet?.Rows ?? [];
  const names = (head?.Data ?? []).map((c) => c.VarCharValue ?? '');
  return data.map((r) => Object.fromEntries(names.map((n, i) => [n, r.Data?.[i]?.VarCharValue ?? null])));
}
