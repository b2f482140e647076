/**
 * The run report (RunReport, docs/operability.md): after a production publish, the publisher aggregates the
 * snapshot's file summaries (`<VALIDATED_PREFIX>_summaries/snapshot_date=<d>/`), the state counts it published, the
 * queries and executions of the payload, and writes `<REPORTS_PREFIX>snapshot_date=<d>/report.json` (a non-default
 * as-of date under `as_of=<a>/`, like the results) with the same compare-and-swap on the computation's watermark as
 * the production results: a stale report never replaces a newer one.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PublishInput, PublishOutcome } from './index';
import {
  METRICS, RECORD_COUNT_FIELDS, REPORT_FILE, type FileSummary, type RecordCounts, type ReportExecution, type ReportQuery, type RunReport,
} from '../../src/contract/observability';
import type { LoggerLike } from '../athena/client';
import type { QueryStatus } from '../athena/types';
import { STATE_COUNTS_JSON, stateCountsFolder, type StateCountsDocument } from '../count';
import type { PipelineConfig } from '../lib/config';
import { addMonths } from '../lib/dates';
import { classifyAwsError, TransientError } from '../lib/errors';
import { fileSummariesFolder } from '../lib/keys';
import type { MetricsSink } from '../lib/metrics';
import { listObjects } from '../lib/s3-list';
import { compareWatermarks, isNotFound, parseWatermark, putIfNewer, WATERMARK_METADATA_KEY, type PutIfNewerResult } from '../lib/watermark';

/** The report's file name in its folder (the contract's). */
export { REPORT_FILE };

/** How many summaries are read at once. */
const SUMMARY_READS_IN_FLIGHT = 8;

export interface ReportDeps {
  readonly s3: S3Client;
  readonly config: PipelineConfig;
  readonly logger?: LoggerLike;
  readonly metrics?: MetricsSink;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** `<REPORTS_PREFIX>snapshot_date=<d>/[as_of=<a>/]report.json` (the folder rule of the results: count/stateCountsFolder). */
export function reportKey(config: Pick<PipelineConfig, 'reportsPrefix' | 'asOfDate'>, snapshotDate: string, asOf: string): string {
  return stateCountsFolder(config.reportsPrefix, snapshotDate, asOf, config) + REPORT_FILE;
}

/** A small object read whole, with what S3 says of it. */
export interface ObjectText {
  readonly text: string;
  readonly etag?: string;
  readonly metadata: Record<string, string>;
  readonly lastModified?: Date;
}

/** GetObject of a small object (a summary, a state-counts document), read whole; undefined when absent. */
export async function getText(s3: S3Client, bucket: string, key: string): Promise<ObjectText | undefined> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = res.Body ? await res.Body.transformToString('utf-8') : '';
    return { text, etag: res.ETag, metadata: res.Metadata ?? {}, lastModified: res.LastModified };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    return classifyAwsError(err, `GetObject s3://${bucket}/${key}`);
  }
}

function isFileSummary(v: unknown): v is FileSummary {
  const s = v as Record<string, unknown> | null;
  return !!s && typeof s === 'object' && s.schemaVersion === 1 && typeof s.key === 'string'
    && RECORD_COUNT_FIELDS.every((f) => typeof s[f] === 'number')
    && !!s.reasons && typeof s.reasons === 'object';
}

/**
 * Every file summary of a snapshot, sorted by raw key: listed page by page and read SUMMARY_READS_IN_FLIGHT at a
 * time. A summary deleted between the list and the read (its raw object was deleted) is left out; one that is not a
 * FileSummary is left out with a warning.
 */
export async function readFileSummaries(deps: ReportDeps, bucket: string, snapshotDate: string): Promise<FileSummary[]> {
  const out: FileSummary[] = [];
  const inFlight = new Set<Promise<void>>();
  const read = async (key: string): Promise<void> => {
    const got = await getText(deps.s3, bucket, key);
    if (!got) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(got.text);
    } catch {
      parsed = undefined;
    }
    if (isFileSummary(parsed)) out.push(parsed);
    else deps.logger?.warn('file summary left out of the run report: not a FileSummary', { key });
  };
  for await (const o of listObjects(deps.s3, bucket, fileSummariesFolder(deps.config.validatedPrefix, snapshotDate))) {
    if (!o.Key.endsWith('.json')) continue;
    const p: Promise<void> = read(o.Key).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= SUMMARY_READS_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Seconds from the newest raw object's creation (max objectCreatedAt) to the publish; undefined without one. */
export function publishLagSeconds(publishedAt: string, files: readonly FileSummary[]): number | undefined {
  const created = files.map((f) => (f.objectCreatedAt ? Date.parse(f.objectCreatedAt) : NaN)).filter(Number.isFinite);
  if (created.length === 0) return undefined;
  return Math.max(0, Math.round(Date.parse(publishedAt) - Math.max(...created)) / 1000);
}

function reportQuery(status: QueryStatus | undefined): ReportQuery | undefined {
  if (!status?.queryExecutionId) return undefined;
  return {
    query: status.query,
    queryExecutionId: status.queryExecutionId,
    ...(status.submittedAt ? { submittedAt: status.submittedAt } : {}),
    ...(status.completedAt ? { completedAt: status.completedAt } : {}),
    ...(status.bytesScanned !== undefined ? { bytesScanned: status.bytesScanned } : {}),
    ...(status.engineTimeMs !== undefined ? { engineTimeMs: status.engineTimeMs } : {}),
    state: status.state,
  };
}

export interface ReportParts {
  readonly pipeline: string;
  readonly input: PublishInput;
  readonly asOf: string;
  readonly expiryMonths: number;
  readonly files: readonly FileSummary[];
  readonly stateCounts: RunReport['stateCounts'];
  readonly publishedAt: string;
  readonly productionKeys: readonly string[];
  readonly generatedAt: string;
}

/** Aggregates the parts into the report (totals, reasons histogram, quarantine rate, queries, executions, lag). */
export function buildRunReport(p: ReportParts): RunReport {
  const totals: Record<keyof RecordCounts, number> = { read: 0, valid: 0, quarantined: 0, duplicates: 0, blankLines: 0, expiring: 0 };
  const reasons = new Map<string, number>();
  const executions: ReportExecution[] = [];
  for (const f of p.files) {
    for (const field of RECORD_COUNT_FIELDS) totals[field] += f[field];
    for (const [code, n] of Object.entries(f.reasons)) reasons.set(code, (reasons.get(code) ?? 0) + n);
    if (f.executionArn) executions.push({ executionArn: f.executionArn, key: f.key, role: 'validated' });
  }
  if (p.input.run) executions.push({ executionArn: p.input.run.executionArn, startedAt: p.input.run.startedAt, role: 'published' });
  const queries = [reportQuery(p.input.extract), reportQuery(p.input.results)].filter((q): q is ReportQuery => q !== undefined);
  const lagSeconds = publishLagSeconds(p.publishedAt, p.files);
  return {
    schemaVersion: 1,
    pipeline: p.pipeline,
    snapshotDate: p.input.snapshotDate,
    asOf: p.asOf,
    expiryMonths: p.expiryMonths,
    window: { from: p.asOf, to: addMonths(p.asOf, p.expiryMonths) },
    generatedAt: p.generatedAt,
    files: p.files,
    totals: { files: p.files.length, ...totals, quarantineRate: totals.read === 0 ? 0 : totals.quarantined / totals.read },
    reasons: Object.fromEntries([...reasons.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    stateCounts: p.stateCounts,
    queries,
    executions,
    publish: { publishedAt: p.publishedAt, ...(lagSeconds !== undefined ? { lagSeconds } : {}), productionKeys: p.productionKeys },
  };
}

/** The outcome of the report step: the report's key and what putIfNewer did (`stale`: a newer computation's report or results). */
export interface ReportOutcome {
  readonly key: string;
  readonly outcome: PutIfNewerResult['outcome'];
  readonly lagSeconds?: number;
}

/**
 * Writes the run report of a production publish that succeeded. The published state counts are read back from the
 * production JSON: its watermark must be the one published (a newer one means a newer publish owns the snapshot and
 * writes its own report: `stale`), and its LastModified is the publish time (the same on a retry).
 * Emits PublishLag when this call wrote the production files (`written > 0`), so a retry does not count twice.
 */
export async function writeRunReport(input: PublishInput, published: PublishOutcome, deps: ReportDeps): Promise<ReportOutcome> {
  const { s3, config } = deps;
  const bucket = config.bucket || input.bucket;
  const key = reportKey(config, input.snapshotDate, published.asOf);
  const countsKey = published.productionFolder + STATE_COUNTS_JSON;
  // The verify step of the publish read it already (same watermark checks below).
  const counts = published.countsDocument ?? await getText(s3, bucket, countsKey);
  if (!counts) throw new TransientError(`s3://${bucket}/${countsKey} is missing right after its publish; retry`);
  const stored = parseWatermark(counts.metadata[WATERMARK_METADATA_KEY]);
  const cmp = stored ? compareWatermarks(stored, published.watermark) : -1;
  if (cmp > 0) return { key, outcome: 'stale' };
  if (cmp < 0) throw new TransientError(`s3://${bucket}/${countsKey} does not hold the computation just published; retry`);
  const doc = JSON.parse(counts.text) as Partial<StateCountsDocument>;
  if (!Array.isArray(doc.state_counts)) throw new Error(`s3://${bucket}/${countsKey} has no state_counts list: not written by the state counts query`);
  const publishedAt = (counts.lastModified ?? new Date()).toISOString();
  const files = await readFileSummaries(deps, bucket, input.snapshotDate);
  const report = buildRunReport({
    pipeline: config.pipelineName,
    input,
    asOf: published.asOf,
    expiryMonths: config.expiryMonths,
    files,
    stateCounts: doc.state_counts.map((r) => ({ state: r.state, accreditedFacilities: r.accredited_facilities })),
    publishedAt,
    productionKeys: published.result.keys,
    generatedAt: new Date().toISOString(),
  });
  const lagSeconds = report.publish.lagSeconds;
  if (published.written > 0 && lagSeconds !== undefined) deps.metrics?.add(METRICS.publishLag, lagSeconds);
  const put = await putIfNewer(s3, {
    bucket,
    key,
    contentType: 'application/json',
    watermark: published.watermark,
    sleep: deps.sleep,
    body: `${JSON.stringify(report, null, 2)}\n`,
    // The snapshot's first publish (it created the manifest) writes its first report.
    expectAbsent: published.created === true,
  });
  deps.logger?.info('run report', { key, outcome: put.outcome, files: files.length, lagSeconds });
  return { key, outcome: put.outcome, ...(lagSeconds !== undefined ? { lagSeconds } : {}) };
}
