/** Stage 2: validate, quarantine and select expiring facilities, streaming (see docs/semantics.md). */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { emptyCounts, ObjectResult, processStream, Stage2Prefixes } from './processor';
import { S3Sink } from './sinks';
import { openSourceVersion, SupersededError } from './source-version';
import { fileSummaryOf, writeFileSummary } from './summary';
import { failureMarkerKey, fileSummaryKey, parseRawKey } from '../lib/keys';
import { isNotFound } from '../lib/watermark';

export * from './lines';
export * from './processor';
export * from './sinks';
export * from './sources';
export * from './source-version';
export * from './summary';

/** The handler's result for one object (docs/design.md). */
export interface ProcessSummary extends ObjectResult {
  bucket: string;
  etag?: string;
  versionId?: string;
  /**
   * True when a newer version of the object exists (or already wrote the outputs): this run read
   * or wrote nothing, its counts are zero and `outputs` is empty; the newer version's own run
   * processes the key.
   */
  superseded?: boolean;
  /** Why the run was superseded (for the log). */
  supersededReason?: string;
  /** The file summary written for the object (`<VALIDATED_PREFIX>_summaries/…`; absent for a key without a date folder). */
  summaryKey?: string;
}

export interface ProcessS3ObjectOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** The object's ETag from the event, when known (recorded in a failure marker if the object cannot be read). */
  readonly etag?: string;
  /** The version id from the event (versioned buckets): that version is read, whatever is current. */
  readonly versionId?: string;
  /** The event's sequencer: orders this version against the one the existing outputs came from. */
  readonly sequencer?: string;
  readonly rawPrefix: string;
  readonly prefixes: Stage2Prefixes;
  readonly months: number;
  readonly asOf?: string;
  readonly maxLineBytes?: number;
  /** The state machine execution processing the object (`$.run`), recorded in its file summary. */
  readonly executionArn?: string;
}

/**
 * True when processing the object again cannot succeed without someone changing it (or the
 * configuration): everything but TransientError (throttling, 5xx, network; retried by the state
 * machine) and a missing object (deleted since its event: nothing is pending any more).
 */
export function isPermanentObjectFailure(err: unknown): boolean {
  const name = (err as { name?: unknown })?.name;
  if (name === 'TransientError') return false;
  return !isNotFound(err);
}

/** The error with a message that names the object (same `name`, so Retry/Catch see the same errorType). */
function naming(err: unknown, key: string, where: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  if (e.message.includes(key)) return e;
  const out = new Error(`${where}: ${e.message}`, { cause: e });
  out.name = e.name;
  return out;
}

/**
 * Reads `s3://bucket/key` and writes the outputs into the same bucket. When the object fails for
 * good (isPermanentObjectFailure: a corrupt gzip, AccessDenied, …) a failure marker
 * (failureMarkerKey) is written before the error is rethrown, recording why the object is missing
 * from its snapshot (docs/semantics.md, *Failures*).
 */
export async function processS3Object(o: ProcessS3ObjectOptions): Promise<ProcessSummary> {
  const info = parseRawKey(o.key, o.rawPrefix);
  const where = `s3://${o.bucket}/${o.key}`;
  let etag = o.etag;
  try {
    const src = await openSourceVersion(o.client, o.bucket, o.key, { etag: o.etag, versionId: o.versionId, sequencer: o.sequencer });
    etag = src.source.etag ?? etag;
    const result = await processStream(src.stream, {
      sourceKey: o.key,
      folderSnapshotDate: info.snapshotDate,
      stem: info.stem,
      gzip: info.gzip,
      asOf: o.asOf,
      months: o.months,
      sink: new S3Sink(o.client, o.bucket, { source: src.source }),
      prefixes: o.prefixes,
      maxLineBytes: o.maxLineBytes,
    });
    // The summary comes last: it describes outputs that are all written (a newer version's → SupersededError).
    let summaryKey: string | undefined;
    if (info.snapshotDate !== undefined) {
      summaryKey = fileSummaryKey(o.prefixes.validated, info.snapshotDate, info.stem);
      await writeFileSummary(o.client, o.bucket, summaryKey, fileSummaryOf(result, src.source, o.executionArn, new Date()), src.source);
    }
    return {
      bucket: o.bucket,
      ...(src.source.etag ? { etag: src.source.etag } : {}),
      ...(src.source.versionId ? { versionId: src.source.versionId } : {}),
      ...result,
      ...(summaryKey ? { summaryKey } : {}),
    };
  } catch (err) {
    if (err instanceof SupersededError) return supersededSummary(o, info.snapshotDate, etag, err);
    if (!isPermanentObjectFailure(err) || info.snapshotDate === undefined) throw err;
    const error = naming(err, o.key, where);
    const marker = failureMarkerKey(o.prefixes.quarantine, info.snapshotDate, info.stem);
    try {
      await o.client.send(new PutObjectCommand({
        Bucket: o.bucket,
        Key: marker,
        ContentType: 'application/json',
        Body: `${JSON.stringify({ source_key: o.key, etag: etag ?? null, error: error.name, message: error.message })}\n`,
      }));
    } catch (markerErr) {
      // The object's own failure is still what this execution reports; the message says the record of it is missing.
      error.message += ` (the failure marker ${marker} could not be written: ${(markerErr as Error).name}: ${(markerErr as Error).message})`;
    }
    throw error;
  }
}

function supersededSummary(o: ProcessS3ObjectOptions, snapshotDate: string | undefined, etag: string | undefined, err: Error): ProcessSummary {
  const d = snapshotDate ?? 'unknown';
  return {
    ...emptySummary(o.bucket, o.key, d, o.asOf),
    ...(etag ? { etag } : {}),
    ...(o.versionId ? { versionId: o.versionId } : {}),
    superseded: true,
    supersededReason: err.message,
  };
}

/**
 * The summary of a run that read no record (a superseded version, a deleted object): every count 0, no outputs;
 * the as-of date defaults to the snapshot date.
 */
export function emptySummary(bucket: string, key: string, snapshotDate: string, asOf: string = snapshotDate): ProcessSummary {
  return {
    bucket,
    key,
    snapshotDate,
    asOf,
    ...emptyCounts(),
    outputs: { validated: [], expiring: [], quarantine: [] },
    reasons: {},
    partitions: {},
  };
}
