import type { S3Client } from '@aws-sdk/client-s3';
import { getText, type ObjectText } from './report';
import type { RunContext } from '../../src/contract/observability';
import type { LoggerLike } from '../athena/client';
import type { PublishResult, QueryStatus } from '../athena/types';
import { asOfDate, STATE_COUNTS_CONTENT_TYPES, STATE_COUNTS_CSV, STATE_COUNTS_JSON, stateCountsFolder } from '../count';
import { payloadBucket, type PipelineConfig } from '../lib/config';
import { isCalendarDate } from '../lib/dates';
import { classifyAwsError, InvalidEventError, TransientError } from '../lib/errors';
import { assertSnapshotInRange } from '../lib/keys';
import {
  CopySourceChangedError, WATERMARK_METADATA_KEY, Watermark, compareWatermarks, formatWatermark, headCurrent, isNotFound, parseWatermark,
  putIfNewer, readCurrent, wasCreated,
} from '../lib/watermark';

export interface PublishInput {
  readonly bucket: string;
  readonly snapshotDate: string;
  readonly results: QueryStatus;
  /** The facility extract's QueryStatus (`$.refresh.extract`), for the run report; absent from older state machines. */
  readonly extract?: QueryStatus;
  /** The publishing execution (`$.run`), for the run report; absent from older state machines. */
  readonly run?: RunContext;
}

/** What one publish did, for the run report and the metrics. */
export interface PublishOutcome {
  readonly result: PublishResult;
  /** How many production files this call wrote (0 when an earlier attempt already published them all). */
  readonly written: number;
  /** The computation published (the results' watermark). */
  readonly watermark: Watermark;
  /** The as-of date of the published answer. */
  readonly asOf: string;
  /** The production folder of the answer (`<PRODUCTION_PREFIX>snapshot_date=<d>/[as_of=<a>/]`). */
  readonly productionFolder: string;
  /** The publish created the manifest (the snapshot's first publish): the run report is likely absent too. */
  readonly created?: boolean;
  /** The production state-counts JSON as the verify step read it (for the run report). */
  readonly countsDocument?: ObjectText;
}

export interface PublishDeps {
  readonly s3: S3Client;
  readonly config: PipelineConfig;
  readonly logger?: LoggerLike;
  readonly sleep?: (ms: number) => Promise<void>;
}

function optionalExtract(value: unknown): QueryStatus | undefined {
  if (value === undefined || value === null) return undefined;
  const x = value as Record<string, unknown>;
  if (typeof value !== 'object' || x.query !== 'facility_extract' || typeof x.queryExecutionId !== 'string') {
    throw new InvalidEventError('extract must be the facility extract\'s QueryStatus');
  }
  return value as QueryStatus;
}

function optionalRun(value: unknown): RunContext | undefined {
  if (value === undefined || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof value !== 'object' || typeof r.executionArn !== 'string' || r.executionArn === '' || typeof r.startedAt !== 'string') {
    throw new InvalidEventError('run must be {executionArn, startedAt} (the state machine\'s $.run)');
  }
  return { executionArn: r.executionArn, startedAt: r.startedAt };
}

/** Validates the publish-results payload `{bucket, snapshotDate, results: QueryStatus, extract?, run?}`. */
export function parsePublishInput(event: unknown, config: PipelineConfig): PublishInput {
  if (!event || typeof event !== 'object' || Array.isArray(event)) throw new InvalidEventError('publish input is not an object');
  const e = event as Record<string, unknown>;
  const bucket = payloadBucket(e.bucket, config);
  if (!isCalendarDate(e.snapshotDate)) throw new InvalidEventError(`snapshotDate must be a YYYY-MM-DD calendar date (got ${JSON.stringify(e.snapshotDate)})`);
  assertSnapshotInRange(e.snapshotDate, `publishing snapshot ${e.snapshotDate} refused`);
  const r = e.results as Record<string, unknown> | undefined;
  if (!r || typeof r !== 'object') throw new InvalidEventError('results (the state counts QueryStatus) is missing');
  if (r.query !== 'state_counts') throw new InvalidEventError(`results must be a state_counts QueryStatus (got query ${JSON.stringify(r.query)})`);
  if (r.done !== true || r.state !== 'SUCCEEDED') throw new InvalidEventError('results is not a finished, SUCCEEDED query');
  if (r.snapshotDate !== e.snapshotDate) throw new InvalidEventError(`results are for snapshot ${JSON.stringify(r.snapshotDate)}, not ${e.snapshotDate}`);
  if (r.asOf !== undefined && !isCalendarDate(r.asOf)) throw new InvalidEventError(`results.asOf must be a YYYY-MM-DD calendar date (got ${JSON.stringify(r.asOf)})`);
  if (r.resultKeys !== undefined && (!Array.isArray(r.resultKeys) || r.resultKeys.some((k) => typeof k !== 'string'))) {
    throw new InvalidEventError('results.resultKeys must be a list of keys');
  }
  if (r.resultETags !== undefined && (!Array.isArray(r.resultETags) || r.resultETags.some((k) => typeof k !== 'string' || k === ''))) {
    throw new InvalidEventError('results.resultETags must be a list of ETags');
  }
  if (r.resultsCreated !== undefined && typeof r.resultsCreated !== 'boolean') throw new InvalidEventError('results.resultsCreated must be a boolean');
  const extract = optionalExtract(e.extract);
  const run = optionalRun(e.run);
  return {
    bucket, snapshotDate: e.snapshotDate, results: r as unknown as QueryStatus, ...(extract ? { extract } : {}), ...(run ? { run } : {}),
  };
}

interface Source {
  readonly key: string;
  readonly etag: string;
  readonly watermark: Watermark;
  readonly contentType: string;
}

/** The content type a results file is written with (the count's, by file name). */
function contentTypeOf(key: string): string {
  return STATE_COUNTS_CONTENT_TYPES[key.slice(key.lastIndexOf('/') + 1)] ?? 'application/octet-stream';
}

/** A results object no longer holds the ETag the status named: a newer computation replaced it. */
class SourceChanged extends Error {}

function wrap(what: string, err: unknown): never {
  if (isNotFound(err)) throw new InvalidEventError(`${what}: results object not found`);
  return classifyAwsError(err, what);
}

async function headSource(s3: S3Client, bucket: string, key: string): Promise<Source> {
  const head = await headCurrent(s3, bucket, key);
  if (!head) throw new InvalidEventError(`HeadObject s3://${bucket}/${key}: results object not found`);
  const watermark = parseWatermark(head.metadata[WATERMARK_METADATA_KEY]);
  if (!watermark) throw new InvalidEventError(`s3://${bucket}/${key} has no x-amz-meta-watermark: not written by Stage 3`);
  if (!head.etag) throw new TransientError(`HeadObject s3://${bucket}/${key} returned no ETag; retry`);
  return { key, etag: head.etag, watermark, contentType: head.contentType ?? contentTypeOf(key) };
}

/**
 * The results files as the count's status names them (their ETags and its watermark), when it names all
 * of them: the publish then reads them by ETag without a HeadObject each. Undefined otherwise.
 */
function sourcesOfStatus(results: QueryStatus, keys: readonly string[]): Source[] | undefined {
  const etags = results.resultETags;
  const named = results.resultKeys;
  if (!etags || !named || etags.length !== keys.length || named.length !== keys.length || !results.submittedAt) return undefined;
  const watermark: Watermark = { submittedAt: results.submittedAt, queryExecutionId: results.queryExecutionId! };
  return keys.map((key, i) => ({ key, etag: etags[i], watermark, contentType: contentTypeOf(key) }));
}

/** The results files as they are now (HeadObject each); they must all hold one computation. */
async function sourcesOfFolder(s3: S3Client, bucket: string, keys: readonly string[], snapshotDate: string): Promise<Source[]> {
  const sources: Source[] = [];
  for (const key of keys) sources.push(await headSource(s3, bucket, key));
  const watermark = sources[0].watermark;
  // A mixed pair means a Stage 3 write is in progress (or died between its two writes): retry later
  // rather than publish a CSV and a JSON of different computations.
  if (sources.some((src) => compareWatermarks(src.watermark, watermark) !== 0)) {
    throw new TransientError(`results of snapshot ${snapshotDate} are not one computation (${sources.map((src) => `${src.key}: `
      + `${formatWatermark(src.watermark)}`).join(', ')}): a state-counts write is in progress or was interrupted; retry`);
  }
  return sources;
}

/**
 * Stage 4: copies the state-count results (the keys named by the QueryStatus, or the snapshot's
 * results folder) to `<PRODUCTION_PREFIX>snapshot_date=<d>/`, each with compare-and-swap on its
 * watermark, as server-side copies. The newest computation of the results is published: the one the
 * status names while the results still hold it, else the one they hold now (a newer computation may
 * have replaced them since the QueryStatus was made).
 * An older computation never overwrites a newer one: that case returns `{published:false, reason:'stale'}`.
 */
export async function publishResults(input: PublishInput, deps: PublishDeps): Promise<PublishResult> {
  return (await publishComputation(input, deps)).result;
}

/** publishResults, also saying which computation it published and where (for the run report). */
export async function publishComputation(input: PublishInput, deps: PublishDeps): Promise<PublishOutcome> {
  const { s3, config } = deps;
  const bucket = config.bucket || input.bucket;
  // The as-of date the results were computed for (Stage 3 sets it on its status): a non-default
  // one publishes under `as_of=<a>/`, never over the contract path of the default answer.
  const asOf = asOfDate(input.results, { config });
  const folder = stateCountsFolder(config.resultsPrefix, input.snapshotDate, asOf, config);
  const productionFolder = stateCountsFolder(config.productionPrefix, input.snapshotDate, asOf, config);
  const keys = input.results.resultKeys && input.results.resultKeys.length > 0
    ? input.results.resultKeys
    : [folder + STATE_COUNTS_CSV, folder + STATE_COUNTS_JSON];
  for (const key of keys) {
    const name = key.slice(folder.length);
    if (!key.startsWith(folder) || name === '' || name.includes('/')) {
      throw new InvalidEventError(`results key '${key}' is not a file of '${folder}'`);
    }
  }
  const unit: Unit = { bucket, folder, productionFolder, asOf };
  const named = sourcesOfStatus(input.results, keys);
  if (named) {
    try {
      // The count created its results: production is absent too unless a newer computation got there first.
      return await publishUnit(input, deps, unit, { sources: named, fromStatus: true }, input.results.resultsCreated === true);
    } catch (err) {
      if (!(err instanceof SourceChanged)) throw err;
      deps.logger?.info('results replaced since the status was made: publishing what they hold now', { snapshotDate: input.snapshotDate });
    }
  }
  return publishUnit(input, deps, unit, { sources: await sourcesOfFolder(s3, bucket, keys, input.snapshotDate), fromStatus: false }, false);
}

interface Unit {
  readonly bucket: string;
  readonly folder: string;
  readonly productionFolder: string;
  readonly asOf: string;
}

/** Publishes one computation's results files, verifies them, and writes the manifest (docs/runtime.md, "Publish"). */
async function publishUnit(input: PublishInput, deps: PublishDeps, unit: Unit,
  { sources, fromStatus }: { sources: readonly Source[]; fromStatus: boolean }, expectAbsent: boolean): Promise<PublishOutcome> {
  const { s3 } = deps;
  const { bucket, folder, productionFolder, asOf } = unit;
  const watermark = sources[0].watermark;
  const published: string[] = [];
  const targets: string[] = [];
  let stale = false;
  let written = 0;
  let created = expectAbsent;
  const outcome = (result: PublishResult, extra: Partial<PublishOutcome> = {}): PublishOutcome =>
    ({ result, written, watermark, asOf, productionFolder, ...extra });
  for (const source of sources) {
    const key = source.key;
    const target = productionFolder + key.slice(folder.length);
    targets.push(target);
    // A server-side copy of exactly the results version whose watermark we compared (CopySourceIfMatch), stamped
    // with that watermark and the file's content type; no byte passes through the function.
    const result = await putIfNewer(s3, {
      bucket,
      key: target,
      contentType: source.contentType,
      watermark: source.watermark,
      sleep: deps.sleep,
      expectAbsent: created,
      copyFrom: { key, etag: source.etag },
    }).catch((err: unknown): never => {
      if (err instanceof CopySourceChangedError) {
        if (fromStatus) throw new SourceChanged(err.message);
        if (err.gone) throw new InvalidEventError(`${err.message}: results object not found`);
        throw new TransientError(`${err.message}: the results changed while publishing; retry`, { cause: err });
      }
      return wrap(`CopyObject s3://${bucket}/${key} → ${target}`, err);
    });
    deps.logger?.info('publish', { source: key, target, outcome: result.outcome, watermark: source.watermark, stored: result.stored });
    if (result.outcome === 'stale') {
      // A newer computation is (being) published: writing our other files would only mix the pair.
      stale = true;
      break;
    }
    created = wasCreated(result);
    if (result.outcome === 'written') written++;
    published.push(target);
  }
  if (stale) return outcome({ published: false, reason: 'stale', keys: published });
  // Verify the unit: every production file holds this computation now. A newer publish that started
  // meanwhile owns the result (stale); anything else (a file deleted under us) is retried. The state-counts
  // JSON is read whole (it is small): the run report is made from it.
  const files: ManifestFile[] = [];
  let countsDocument: ObjectText | undefined;
  for (const target of targets) {
    const isCounts = target === productionFolder + STATE_COUNTS_JSON;
    const text = isCounts ? await getText(s3, bucket, target) : undefined;
    const now = isCounts
      ? { etag: text?.etag, watermark: parseWatermark(text?.metadata[WATERMARK_METADATA_KEY]) }
      : await readCurrent(s3, bucket, target);
    const cmp = now.watermark ? compareWatermarks(now.watermark, watermark) : -1;
    if (cmp > 0) return outcome({ published: false, reason: 'stale', keys: published });
    if (cmp < 0) throw new TransientError(`s3://${bucket}/${target} does not hold computation ${formatWatermark(watermark)} after publishing; retry`);
    files.push({ key: target, etag: now.etag ?? '' });
    if (isCounts) countsDocument = text;
  }
  // The pointer, written last: the one object that names a complete unit (docs/runtime.md, "Publish").
  const manifest = await putIfNewer(s3, {
    bucket,
    key: productionFolder + PUBLISHED_MANIFEST,
    contentType: 'application/json',
    watermark,
    sleep: deps.sleep,
    expectAbsent: created,
    body: `${JSON.stringify(publishedManifest(input.snapshotDate, asOf, watermark, files))}\n`,
  });
  deps.logger?.info('publish manifest', { key: productionFolder + PUBLISHED_MANIFEST, outcome: manifest.outcome, watermark });
  if (manifest.outcome === 'stale') return outcome({ published: false, reason: 'stale', keys: published });
  if (manifest.outcome === 'written') written++;
  return outcome({ published: true, reason: 'published', keys: published, manifest: productionFolder + PUBLISHED_MANIFEST },
    { created: wasCreated(manifest), ...(countsDocument ? { countsDocument } : {}) });
}

/**
 * The manifest of a published unit: `<PRODUCTION_PREFIX>snapshot_date=<d>/[as_of=<a>/]manifest.json`, written
 * after both files hold the computation (with the same compare-and-swap, so an older computation never replaces
 * it). It names the computation and the ETag of each file of it: a reader that reads the manifest, then each file
 * with `IfMatch: <etag>`, gets the CSV and the JSON of one computation, or a 412 while a newer publish is between
 * its writes (read the manifest again).
 */
export const PUBLISHED_MANIFEST = 'manifest.json';

/** One file of a published unit. */
export interface ManifestFile {
  readonly key: string;
  readonly etag: string;
}

/** The body of the manifest. */
export interface PublishedManifest {
  readonly snapshotDate: string;
  readonly asOf: string;
  readonly watermark: string;
  readonly files: readonly ManifestFile[];
}

function publishedManifest(snapshotDate: string, asOf: string, watermark: Watermark, files: readonly ManifestFile[]): PublishedManifest {
  return { snapshotDate, asOf, watermark: formatWatermark(watermark), files };
}
