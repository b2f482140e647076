import type { QueryExecution } from '@aws-sdk/client-athena';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { sqlDateLiteral } from '../athena/client';
import { RunnerDeps, runQuery } from '../athena/query-runner';
import type { QueryRequest, QueryStatus } from '../athena/types';
import type { PipelineConfig } from '../lib/config';
import { ConfigError, QueryFailedError, TransientError, classifyAwsError } from '../lib/errors';
import { assertSnapshotDate } from '../lib/keys';
import { listObjects } from '../lib/s3-list';
import { WATERMARK_METADATA_KEY, Watermark, compareWatermarks, copySourceOf, formatWatermark, putIfNewer, readCurrent } from '../lib/watermark';
import { loadSql } from '../sql';

/** The only text ever substituted into a query string (docs/design.md). */
export const OUTPUT_LOCATION_PLACEHOLDER = '{{output_location}}';

const SAFE_PREFIX_RE = /^[A-Za-z0-9!\-_.*()=/]+$/;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TOKEN_RE = /^[0-9a-f]{64}$/;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function checkLocationParts(config: PipelineConfig): void {
  if (!BUCKET_RE.test(config.bucket)) throw new ConfigError(`DATA_BUCKET '${config.bucket}' is not a valid S3 bucket name`);
  if (!SAFE_PREFIX_RE.test(config.curatedPrefix)) {
    throw new ConfigError(`CURATED_PREFIX '${config.curatedPrefix}' has characters that cannot go into an UNLOAD location`);
  }
}

/** `<CURATED_PREFIX>_staging/snapshot_date=<d>/<token>/`: where one computation's UNLOAD writes. */
export function stagingPrefix(config: PipelineConfig, snapshotDate: string, token: string): string {
  if (!TOKEN_RE.test(token)) throw new RangeError('staging token must be 64 hex characters');
  return `${config.curatedPrefix}_staging/snapshot_date=${assertSnapshotDate(snapshotDate)}/${token}/`;
}

/** `<CURATED_PREFIX>snapshot_date=<d>/`: the partition the Glue table reads. */
export function curatedPartition(config: PipelineConfig, snapshotDate: string): string {
  return `${config.curatedPrefix}snapshot_date=${snapshotDate}/`;
}

/** `<CURATED_PREFIX>_watermarks/snapshot_date=<d>.json`: who owns the partition. */
export function partitionWatermarkKey(config: PipelineConfig, snapshotDate: string): string {
  return `${config.curatedPrefix}_watermarks/snapshot_date=${snapshotDate}.json`;
}

/** The UNLOAD statement with its `{{output_location}}` replaced by the staging URI (config + date + hex token only). */
export function extractQueryString(sql: string, config: PipelineConfig, snapshotDate: string, token: string): string {
  checkLocationParts(config);
  if (!sql.includes(OUTPUT_LOCATION_PLACEHOLDER)) throw new ConfigError(`facility_extract.sql has no ${OUTPUT_LOCATION_PLACEHOLDER} placeholder`);
  const location = `s3://${config.bucket}/${stagingPrefix(config, snapshotDate, token)}`;
  return sql.split(OUTPUT_LOCATION_PLACEHOLDER).join(location);
}

/** The staging prefix a started UNLOAD writes to, read back from its query string. */
export function stagingOfExecution(execution: QueryExecution, config: PipelineConfig, snapshotDate: string): string | undefined {
  const base = `${config.curatedPrefix}_staging/snapshot_date=${snapshotDate}/`;
  const m = new RegExp(`s3://${escapeRe(config.bucket)}/(${escapeRe(base)}[0-9a-f]{64}/)`).exec(execution.Query ?? '');
  return m?.[1];
}

/** Lists every key below a prefix (ListObjectsV2 pages). */
export async function* listKeys(s3: S3Client, bucket: string, prefix: string): AsyncGenerator<string> {
  for await (const o of listObjects(s3, bucket, prefix)) yield o.Key;
}

/** Deletes keys in batches of 1000 (DeleteObjects); per-key errors other than "already gone" are thrown. */
export async function deleteKeys(
  s3: S3Client,
  bucket: string,
  keys: AsyncIterable<string> | Iterable<string>,
  keep: (key: string) => boolean = () => false,
): Promise<number> {
  let batch: string[] = [];
  let deleted = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    let out;
    try {
      out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    } catch (err) {
      classifyAwsError(err, `DeleteObjects s3://${bucket}`);
    }
    const errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (errors.length > 0) {
      const first = errors[0];
      const msg = `DeleteObjects s3://${bucket}/${first.Key}: ${first.Code}: ${first.Message}`;
      if (['SlowDown', 'InternalError', 'ServiceUnavailable'].includes(first.Code ?? '')) throw new TransientError(msg);
      throw new Error(msg);
    }
    deleted += batch.length;
    batch = [];
  };
  // Collect before deleting: deleting while paging a listing of the same prefix can skip keys.
  const all: string[] = [];
  for await (const k of keys as AsyncIterable<string>) if (!keep(k)) all.push(k);
  for (const k of all) {
    batch.push(k);
    if (batch.length === 1000) await flush();
  }
  await flush();
  return deleted;
}

/**
 * Deletes the partition files of computations OLDER than `watermark` (their copies carry their
 * watermark in `x-amz-meta-watermark`; a file without one is a stray and counts as older), never a
 * newer computation's: an older promotion running late must not delete what a newer one copied.
 * Keys are per computation (`<partition><qid>_…`, computationFilePrefix), so a file's watermark
 * cannot change between read and delete, and every file of one computation carries the same one:
 * one HeadObject per computation (not per file) decides for all the keys under its prefix.
 * Returns how many files it deleted and how many of ours the partition holds (the same listing).
 */
async function removeOlderFiles(s3: S3Client, bucket: string, partition: string, ours: string, watermark: Watermark):
Promise<{ removed: number; oursInPartition: number }> {
  const keys: string[] = [];
  let oursInPartition = 0;
  for await (const k of listKeys(s3, bucket, partition)) {
    if (k.startsWith(ours)) oursInPartition++;
    else keys.push(k);
  }
  const decided: { prefix: string; older: boolean }[] = [];
  const older: string[] = [];
  for (const k of keys) {
    const known = decided.find((c) => k.startsWith(c.prefix));
    if (known) {
      if (known.older) older.push(k);
      continue;
    }
    const cur = await readCurrent(s3, bucket, k);
    if (!cur.exists) continue;
    const isOlder = !cur.watermark || compareWatermarks(cur.watermark, watermark) < 0;
    if (isOlder) older.push(k);
    // The watermark names the computation that wrote the file; when the key is under that
    // computation's prefix, so are its other files (a stray named otherwise is read on its own).
    const prefix = cur.watermark && computationFilePrefix(partition, cur.watermark.queryExecutionId);
    if (prefix && k.startsWith(prefix)) decided.push({ prefix, older: isOlder });
  }
  return { removed: await deleteKeys(s3, bucket, older), oursInPartition };
}

function isDataFile(relative: string): boolean {
  const base = relative.split('/').pop() ?? '';
  return base !== '' && !base.startsWith('_') && !base.startsWith('.') && !base.endsWith('$folder$');
}

/** The prefix of this computation's files in the curated partition: `<partition><queryExecutionId>_`. */
export function computationFilePrefix(partition: string, queryExecutionId: string): string {
  return `${partition}${queryExecutionId}_`;
}

export interface PromoteResult {
  readonly promoted: boolean;
  /** `<partition><queryExecutionId>_`: the prefix of this computation's files. */
  readonly extractPrefix: string;
  /** Number of this computation's files in the partition (0 when not promoted). */
  readonly extractFiles: number;
}

/**
 * Moves one computation's staged Parquet files into the curated partition when it is the newest
 * computation of the snapshot (compare-and-swap on `_watermarks/snapshot_date=<d>.json`):
 * 1. claim the partition (stale → remove any copies of ours and the staging folder, done);
 * 2. copy each staged file to `<partition><queryExecutionId>_<name>` (server-side CopyObject);
 * 3. if the claim still holds, delete the partition files of OLDER computations (never a newer
 *    one's: it may have claimed and copied meanwhile); if a newer computation claimed it
 *    meanwhile, delete our copies instead (the newer one removes every older file when it finishes);
 * 4. delete the staging folder; the claim is read once more, and `promoted` says whether it is still ours.
 * Every step is idempotent, so a retried or duplicated call converges on the newest computation.
 */
export async function promoteExtract(deps: Pick<RunnerDeps, 's3' | 'config' | 'logger' | 'sleep'>, snapshotDate: string, staging: string, watermark: Watermark): Promise<PromoteResult> {
  const { s3, config } = deps;
  const bucket = config.bucket;
  const partition = curatedPartition(config, snapshotDate);
  const ours = computationFilePrefix(partition, watermark.queryExecutionId);
  // One listing of the staging folder: its data files are copied, and all of it is deleted at the end (the
  // UNLOAD finished, so nothing is added to it).
  const stagingKeys: string[] = [];
  for await (const key of listKeys(s3, bucket, staging)) stagingKeys.push(key);
  const staged = stagingKeys.filter((key) => isDataFile(key.slice(staging.length)));
  const claimKey = partitionWatermarkKey(config, snapshotDate);
  const claim = await putIfNewer(s3, {
    bucket,
    key: claimKey,
    contentType: 'application/json',
    watermark,
    sleep: deps.sleep,
    // A snapshot's first extract creates the claim.
    expectAbsent: true,
    body: JSON.stringify({
      snapshot_date: snapshotDate,
      watermark: { submitted_at: watermark.submittedAt, query_execution_id: watermark.queryExecutionId },
      file_prefix: ours,
    }) + '\n',
  });
  if (claim.outcome === 'stale') {
    const removed = await deleteKeys(s3, bucket, listKeys(s3, bucket, ours));
    await deleteKeys(s3, bucket, stagingKeys);
    deps.logger?.info('extract not promoted: a newer computation owns the partition', {
      snapshotDate, queryExecutionId: watermark.queryExecutionId, stored: claim.stored, removedCopies: removed,
    });
    return { promoted: false, extractPrefix: ours, extractFiles: 0 };
  }
  for (const key of staged) {
    const target = ours + key.slice(staging.length).replace(/\//g, '__');
    try {
      // Each copy carries its computation's watermark: another computation's cleanup reads it to
      // decide whether the file is older (delete) or newer (leave alone) than itself.
      await s3.send(new CopyObjectCommand({
        Bucket: bucket,
        Key: target,
        CopySource: copySourceOf(bucket, key),
        MetadataDirective: 'REPLACE',
        ContentType: 'application/octet-stream',
        Metadata: { [WATERMARK_METADATA_KEY]: formatWatermark(watermark) },
      }));
    } catch (err) {
      // A duplicate execution of the same computation (same query, same staging folder) finished first and
      // removed the staging folder: its copies carry our prefix, so there is nothing left to copy.
      if ((err as Error).name === 'NoSuchKey') {
        deps.logger?.info('staged file already promoted by a duplicate execution', { key, target });
        continue;
      }
      classifyAwsError(err, `CopyObject s3://${bucket}/${key} → ${target}`);
    }
  }
  /** Whether the partition's claim still names this computation. */
  const claimHeld = async (): Promise<{ held: boolean; stored?: Watermark }> => {
    const now = await readCurrent(s3, bucket, claimKey);
    return { held: now.watermark !== undefined && compareWatermarks(now.watermark, watermark) === 0, stored: now.watermark };
  };
  // Checked before the cleanup: a promotion a newer computation superseded leaves the older files alone (the newer
  // one removes them once its own files are in place, so a newer one that then fails for good leaves the
  // partition with the last complete computation's files) and removes its own copies.
  const before = await claimHeld();
  if (!before.held) {
    const ownRemoved = await deleteKeys(s3, bucket, listKeys(s3, bucket, ours));
    await deleteKeys(s3, bucket, stagingKeys);
    deps.logger?.info('extract superseded while promoting', {
      snapshotDate, queryExecutionId: watermark.queryExecutionId, stored: before.stored, removedCopies: ownRemoved,
    });
    return { promoted: false, extractPrefix: ours, extractFiles: 0 };
  }
  // The listing of the partition counts our files too (also those a duplicate execution copied).
  const { removed, oursInPartition } = await removeOlderFiles(s3, bucket, partition, ours, watermark);
  await deleteKeys(s3, bucket, stagingKeys);
  // A newer computation may have claimed the partition during our cleanup: it removes our files, so the status
  // says `promoted` only when the claim is still ours at the end.
  const after = await claimHeld();
  if (!after.held) {
    deps.logger?.info('extract superseded right after promotion', { snapshotDate, queryExecutionId: watermark.queryExecutionId, stored: after.stored });
    return { promoted: false, extractPrefix: ours, extractFiles: 0 };
  }
  deps.logger?.info('extract promoted', {
    snapshotDate, queryExecutionId: watermark.queryExecutionId, staged: staged.length, removed, files: oursInPartition,
  });
  return { promoted: true, extractPrefix: ours, extractFiles: oursInPartition };
}

/**
 * Stage 1: the facility extract of one snapshot. facility_extract.sql is an UNLOAD to Parquet with
 * one parameter (the snapshot date) that writes to a fresh staging folder named after the query's
 * idempotency token; on SUCCEEDED the staged files are promoted into the curated partition.
 */
export async function runFacilityExtract(request: QueryRequest, deps: RunnerDeps): Promise<QueryStatus> {
  const { config } = deps;
  const snapshotDate = request.snapshotDate;
  const parameters = [sqlDateLiteral(snapshotDate)];
  const sql = (deps.loadSql ?? loadSql)('facility_extract');
  checkLocationParts(config);
  const stagingOf = (execution: QueryExecution): string => {
    const staging = stagingOfExecution(execution, config, snapshotDate);
    if (!staging) throw new QueryFailedError(`query ${execution.QueryExecutionId} is not an extract of snapshot ${snapshotDate} into this pipeline's staging area`);
    return staging;
  };
  return runQuery({
    request,
    queryString: (token) => extractQueryString(sql, config, snapshotDate, token),
    parameters,
    inputPrefix: `${config.validatedPrefix}snapshot_date=${snapshotDate}/`,
    onSucceeded: async (execution, status) => {
      const watermark: Watermark = { submittedAt: status.submittedAt, queryExecutionId: status.queryExecutionId };
      const result = await promoteExtract(deps, snapshotDate, stagingOf(execution), watermark);
      return { promoted: result.promoted, extractPrefix: result.extractPrefix, extractFiles: result.extractFiles };
    },
    // UNLOAD refuses a non-empty target (HIVE_PATH_ALREADY_EXISTS): files left by an abandoned
    // attempt under the same token (Athena returned a new query for it). onFailed clears the
    // folder, and the replacement query (replacement token) unloads into a fresh one.
    retryableFailure: (execution) => /HIVE_PATH_ALREADY_EXISTS/.test(execution.Status?.StateChangeReason ?? execution.Status?.AthenaError?.ErrorMessage ?? ''),
    onFailed: async (execution) => {
      // Athena leaves the partial output of a failed UNLOAD behind; clear it (best effort).
      const staging = stagingOfExecution(execution, config, snapshotDate);
      if (!staging) return;
      try {
        await deleteKeys(deps.s3, config.bucket, listKeys(deps.s3, config.bucket, staging));
      } catch (err) {
        deps.logger?.warn('could not clear the staging folder of a failed extract', { staging, error: (err as Error).message });
      }
    },
  }, deps);
}
