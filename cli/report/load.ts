/**
 * Loads the report's data through the AWS SDK v3: the run reports and expiring outputs from S3 (a bucket in AWS,
 * or a local work folder's embedded S3 — the same code), the state machine definition and execution traces (Step
 * Functions in AWS; the synthesized template and the histories in `<workdir>/executions/` locally).
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { buildExecutionTrace, type AwsHistoryEvent } from './traces';
import type { AslDefinition, ExecutionTrace, ExpiringData, ExpiringRow, SnapshotData } from './types';
import { partitionKey } from '../../lambda-src/lib/keys';
import { DEFAULT_PREFIXES } from '../../src/contract';
import { DEFAULT_REPORTS_PREFIX, REPORT_FILE, type RunReport } from '../../src/contract/observability';

/** Rows of the expiring table per snapshot (the rest are counted). */
export const EXPIRING_TABLE_ROWS = 50;
/** Expiring objects requested ahead of the one being read (one GetObject at a time took 1.5 s for 1,000 files locally, far more in AWS). */
export const EXPIRING_PREFETCH = 8;
/** Executions whose history is read in AWS, and history pages per execution. */
export const MAX_TRACED_EXECUTIONS = 100;
export const MAX_HISTORY_PAGES = 20;

/** Where the pipeline's outputs are. */
export interface BucketLocation {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly reportsPrefix?: string;
  readonly expiringPrefix?: string;
  /**
   * The bucket's folder, when its objects are files (a local run's S3 keeps each current object as its file,
   * byte-exact): the expiring objects, still listed through S3, are read from there instead of with a GetObject each.
   */
  readonly bucketDir?: string;
}

const SNAPSHOT_FOLDER = /snapshot_date=(\d{4}-\d{2}-\d{2})\/$/;

async function listAll(s3: S3Client, bucket: string, prefix: string, delimiter?: string): Promise<{ keys: string[]; prefixes: string[] }> {
  const keys: string[] = [];
  const prefixes: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) prefixes.push(p.Prefix);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { keys, prefixes };
}

async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const o = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await o.Body?.transformToString('utf-8')) ?? '';
}

/** The snapshot dates that have a run report, newest first. */
export async function listReportedSnapshots(loc: BucketLocation): Promise<string[]> {
  const prefix = loc.reportsPrefix ?? DEFAULT_REPORTS_PREFIX;
  const { prefixes } = await listAll(loc.s3, loc.bucket, prefix, '/');
  return prefixes.map((p) => SNAPSHOT_FOLDER.exec(p)?.[1]).filter((d): d is string => d !== undefined).sort().reverse();
}

function isRunReport(v: unknown): v is RunReport {
  const r = v as RunReport;
  return typeof r === 'object' && r !== null && typeof r.snapshotDate === 'string' && typeof r.totals === 'object' && Array.isArray(r.stateCounts)
    && Array.isArray(r.files) && Array.isArray(r.executions) && Array.isArray(r.queries) && typeof r.window === 'object' && typeof r.publish === 'object';
}

/** The month (YYYY-MM) and accreditation a facility record expires in: the earliest `valid_until` in the window. */
export function expiryOf(record: unknown, window: { from: string; to: string }): { validUntil: string; body: string } | undefined {
  const accreditations = (record as { accreditations?: unknown }).accreditations;
  if (!Array.isArray(accreditations)) return undefined;
  let best: { validUntil: string; body: string } | undefined;
  for (const a of accreditations as Array<{ valid_until?: unknown; accreditation_body?: unknown }>) {
    const v = typeof a?.valid_until === 'string' ? a.valid_until : undefined;
    if (v === undefined || v < window.from || v > window.to) continue;
    if (!best || v < best.validUntil) best = { validUntil: v, body: typeof a.accreditation_body === 'string' ? a.accreditation_body : '' };
  }
  return best;
}

/**
 * The bodies of `keys`, in order: while the caller reads one, the next ones are requested, `ahead` at most with the
 * one being read (each body a stream, so a large object is not held in memory). `close` destroys the bodies
 * requested and not read.
 */
function orderedBodies(loc: BucketLocation, keys: string[], ahead: number): { next(): Promise<Readable> | undefined; close(): void } {
  const pending: Array<Promise<Readable>> = [];
  let requested = 0;
  const fill = () => {
    while (pending.length < ahead && requested < keys.length) {
      const key = keys[requested++];
      const body = loc.bucketDir !== undefined
        ? Promise.resolve<Readable>(createReadStream(join(loc.bucketDir, ...key.split('/'))))
        : loc.s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: key })).then((o) => o.Body as Readable);
      body.catch(() => undefined); // read (and rethrown) in order by next(); a failure meanwhile is not unhandled
      pending.push(body);
    }
  };
  return {
    next() {
      fill();
      return pending.shift();
    },
    close() {
      for (const p of pending.splice(0)) p.then((b) => b.destroy(), () => undefined);
    },
  };
}

/**
 * The expiring facilities of one snapshot: streams every object under `<expiringPrefix>snapshot_date=<d>/` line by
 * line, in key order (a few requested ahead), counts each facility once by month of expiry and keeps the first
 * `maxRows` by expiry date.
 */
export async function loadExpiring(loc: BucketLocation, report: RunReport, maxRows = EXPIRING_TABLE_ROWS): Promise<ExpiringData> {
  const prefix = partitionKey(loc.expiringPrefix ?? DEFAULT_PREFIXES.expiringPrefix, report.snapshotDate, '');
  // The expiring output is `<stem>.jsonl` objects (docs/contract.md §3); anything else there is not read.
  const keys = (await listAll(loc.s3, loc.bucket, prefix)).keys.filter((k) => /\.jsonl$/i.test(k));
  const seen = new Set<string>();
  const months = new Map<string, number>();
  let rows: ExpiringRow[] = [];
  let unreadable = 0;
  const order = (a: ExpiringRow, b: ExpiringRow) => a.validUntil.localeCompare(b.validUntil) || a.facilityId.localeCompare(b.facilityId);
  const bodies = orderedBodies(loc, keys.sort(), EXPIRING_PREFETCH);
  try {
    for (let body = bodies.next(); body !== undefined; body = bodies.next()) {
      const lines = createInterface({ input: await body, crlfDelay: Infinity });
      for await (const line of lines) {
        if (line.trim() === '') continue;
        let rec: Record<string, any>;
        try {
          rec = JSON.parse(line) as Record<string, any>;
        } catch {
          unreadable++;
          continue;
        }
        const id = typeof rec?.facility_id === 'string' ? rec.facility_id : undefined;
        const exp = id === undefined ? undefined : expiryOf(rec, report.window);
        if (id === undefined || exp === undefined) {
          unreadable++;
          continue;
        }
        if (seen.has(id)) continue;
        seen.add(id);
        const month = exp.validUntil.slice(0, 7);
        months.set(month, (months.get(month) ?? 0) + 1);
        rows.push({
          facilityId: id,
          facilityName: String(rec.facility_name ?? ''),
          state: String(rec.location?.state ?? ''),
          validUntil: exp.validUntil,
          accreditationBody: exp.body,
        });
        // Bounded memory: keep the earliest rows only.
        if (rows.length > maxRows * 4) rows = rows.sort(order).slice(0, maxRows);
      }
    }
  } finally {
    bodies.close();
  }
  return {
    rows: rows.sort(order).slice(0, maxRows),
    total: seen.size,
    byMonth: [...months].sort(([a], [b]) => a.localeCompare(b)).map(([month, facilities]) => ({ month, facilities })),
    unreadable,
    objects: keys.length,
  };
}

/** The newest `limit` run reports with their expiring facilities; what could not be read goes to `notes`. */
export async function loadSnapshots(loc: BucketLocation, limit: number, notes: string[]): Promise<{ snapshots: SnapshotData[]; found: number }> {
  const dates = await listReportedSnapshots(loc);
  const prefix = loc.reportsPrefix ?? DEFAULT_REPORTS_PREFIX;
  const snapshots: SnapshotData[] = [];
  for (const d of dates) {
    if (snapshots.length >= limit) break;
    const key = partitionKey(prefix, d, REPORT_FILE);
    let report: unknown;
    try {
      report = JSON.parse(await getText(loc.s3, loc.bucket, key));
    } catch (e) {
      const err = e as Error;
      notes.push(`s3://${loc.bucket}/${key}: ${err.name === 'SyntaxError' ? 'not JSON' : `${err.name}: ${err.message.split('\n')[0]}`}; snapshot ${d} skipped`);
      continue;
    }
    if (!isRunReport(report)) {
      notes.push(`s3://${loc.bucket}/${key}: not a run report (schema version ${(report as { schemaVersion?: unknown })?.schemaVersion ?? 'missing'}); snapshot ${d} skipped`);
      continue;
    }
    snapshots.push({ report, expiring: await loadExpiring(loc, report) });
  }
  return { snapshots, found: dates.length };
}

/** The Step Functions reads of the AWS case (a structural type: `@aws-sdk/client-sfn`'s SFNClient fits it). */
export interface StepFunctionsReader {
  describeStateMachine(arn: string): Promise<{ name: string; definition: string }>;
  historyPage(executionArn: string, nextToken?: string): Promise<{ events: AwsHistoryEvent[]; nextToken?: string }>;
}

/** A StepFunctionsReader over the SDK (loaded on demand). */
export function sdkStepFunctions(region?: string): StepFunctionsReader {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sfn = require('@aws-sdk/client-sfn') as typeof import('@aws-sdk/client-sfn');
  const client = new sfn.SFNClient(region ? { region } : {});
  return {
    async describeStateMachine(arn) {
      const r = await client.send(new sfn.DescribeStateMachineCommand({ stateMachineArn: arn }));
      return { name: r.name ?? arn.split(':').pop() ?? arn, definition: r.definition ?? '' };
    },
    async historyPage(executionArn, nextToken) {
      const r = await client.send(new sfn.GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000, includeExecutionData: false }));
      return { events: r.events ?? [], nextToken: r.nextToken };
    },
  };
}

/** `arn:aws:states:r:a:execution:Machine:name` → `arn:aws:states:r:a:stateMachine:Machine`. */
export function stateMachineArnOf(executionArn: string): string | undefined {
  const m = /^(arn:[^:]+:states:[^:]*:[^:]*):execution:([^:]+):[^:]+$/.exec(executionArn);
  return m ? `${m[1]}:stateMachine:${m[2]}` : undefined;
}

/** Traces of the reports' executions from GetExecutionHistory (capped; failures go to `notes`). */
export async function loadAwsTraces(sfn: StepFunctionsReader, snapshots: readonly SnapshotData[], notes: string[]): Promise<ExecutionTrace[]> {
  const arns = [...new Set(snapshots.flatMap((s) => s.report.executions.map((e) => e.executionArn)))];
  if (arns.length > MAX_TRACED_EXECUTIONS) notes.push(`${arns.length} executions in the reports: the histories of the first ${MAX_TRACED_EXECUTIONS} were read`);
  const traces: ExecutionTrace[] = [];
  for (const arn of arns.slice(0, MAX_TRACED_EXECUTIONS)) {
    const events: AwsHistoryEvent[] = [];
    let token: string | undefined;
    let pages = 0;
    try {
      do {
        const page = await sfn.historyPage(arn, token);
        events.push(...page.events);
        token = page.nextToken;
      } while (token && ++pages < MAX_HISTORY_PAGES);
    } catch (e) {
      const err = e as Error;
      notes.push(`GetExecutionHistory ${arn}: ${err.name}: ${err.message.split('\n')[0]}`);
      if (err.name === 'AccessDeniedException' || err.name === 'CredentialsProviderError') break;
      continue;
    }
    if (token) notes.push(`${arn}: history longer than ${MAX_HISTORY_PAGES} pages; the trace counts the first ones`);
    traces.push(buildExecutionTrace({ executionArn: arn }, events));
  }
  return traces;
}

/** The state machine definition from DescribeStateMachine (failures go to `notes`). */
export async function loadAwsDefinition(
  sfn: StepFunctionsReader, arn: string, notes: string[],
): Promise<{ name: string; definition: AslDefinition } | undefined> {
  try {
    const r = await sfn.describeStateMachine(arn);
    return { name: r.name, definition: JSON.parse(r.definition) as AslDefinition };
  } catch (e) {
    const err = e as Error;
    notes.push(`DescribeStateMachine ${arn}: ${err.name}: ${err.message.split('\n')[0]}`);
    return undefined;
  }
}
