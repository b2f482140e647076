/**
 * Stage 2 for a deleted raw object: removes the outputs its Stage 2 run wrote, so the snapshot's next
 * refresh no longer counts its records (docs/semantics.md, *Outputs*; docs/runtime.md, "Deleted files").
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { emptySummary, processS3Object, type ProcessSummary } from './index';
import type { Stage2Prefixes } from './processor';
import { classifyAwsError, InvalidEventError } from '../lib/errors';
import { failureMarkerKey, fileSummaryKey, parseRawKey, partitionKey } from '../lib/keys';
import { headCurrent } from '../lib/watermark';

/** One raw object named by an EventBridge "Object Deleted" event. */
export interface DeletedObjectRef {
  readonly bucket: string;
  readonly key: string;
  /** `Delete Marker Created` (versioned bucket) or `Permanently Deleted`. */
  readonly deletionType?: string;
}

/** The "Object Deleted" event S3 sends to EventBridge, or undefined for any other input. */
export function deletedObjectOf(event: unknown): DeletedObjectRef | undefined {
  if (!event || typeof event !== 'object') return undefined;
  const e = event as Record<string, any>;
  if (e.source !== 'aws.s3' || e['detail-type'] !== 'Object Deleted') return undefined;
  const bucket = e.detail?.bucket?.name;
  const key = e.detail?.object?.key;
  if (typeof bucket !== 'string' || typeof key !== 'string' || !bucket || !key) {
    throw new InvalidEventError('EventBridge "Object Deleted" event without detail.bucket.name and detail.object.key');
  }
  const deletionType = typeof e.detail['deletion-type'] === 'string' ? e.detail['deletion-type'] : undefined;
  return { bucket, key, deletionType };
}

/** The result of a deleted object's Stage 2: a ProcessSummary with zero counts, `deleted: true` and what was removed. */
export interface DeletedSummary extends ProcessSummary {
  readonly deleted: boolean;
  /** The output keys removed (absent ones included: DeleteObject of a missing key succeeds). */
  readonly removed: string[];
}

export interface RemoveOutputsOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly rawPrefix: string;
  readonly prefixes: Stage2Prefixes;
  readonly months: number;
  readonly asOf?: string;
  /** The execution handling the event (`$.run`): recorded in the summary when the object is processed again. */
  readonly executionArn?: string;
}

/**
 * The output keys Stage 2 writes for a raw key with a date folder: validated, expiring, quarantine, failure marker,
 * and the file summary.
 */
export function outputKeysOf(key: string, rawPrefix: string, prefixes: Stage2Prefixes): { snapshotDate: string; keys: string[] } {
  const info = parseRawKey(key, rawPrefix);
  if (info.snapshotDate === undefined) throw new InvalidEventError(`key '${key}' has no snapshot folder`);
  const d = info.snapshotDate;
  const file = `${info.stem}.jsonl`;
  return {
    snapshotDate: d,
    keys: [
      partitionKey(prefixes.validated, d, file),
      partitionKey(prefixes.expiring, d, file),
      partitionKey(prefixes.quarantine, d, file),
      failureMarkerKey(prefixes.quarantine, d, info.stem),
      fileSummaryKey(prefixes.validated, d, info.stem),
    ],
  };
}

/** True when the raw key holds an object (a delete marker as the current version answers 404: absent). */
async function rawExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  return (await headCurrent(client, bucket, key)) !== undefined;
}

/**
 * Removes the outputs of a deleted raw object, unless the key holds an object again:
 *
 * 1. `HeadObject` the raw key: present (a re-upload after the delete, or a non-current version was
 *    deleted) → the current object's outputs stay; Stage 2 runs on it again (idempotent) so the
 *    summary describes what the key now holds.
 * 2. absent → `DeleteObject` each output key (validated, expiring, quarantine, failure marker, file summary).
 * 3. `HeadObject` again: if a re-upload landed while step 2 ran, its Stage 2 outputs may just have
 *    been removed; Stage 2 runs on it again, restoring them. S3 is strongly consistent, so a
 *    re-upload whose Stage 2 finished before step 2 is visible to step 3.
 */
export async function removeDeletedObjectOutputs(o: RemoveOutputsOptions): Promise<ProcessSummary | DeletedSummary> {
  const { snapshotDate, keys } = outputKeysOf(o.key, o.rawPrefix, o.prefixes);
  const reprocess = () => processS3Object({
    client: o.client,
    bucket: o.bucket,
    key: o.key,
    rawPrefix: o.rawPrefix,
    prefixes: o.prefixes,
    months: o.months,
    asOf: o.asOf,
    ...(o.executionArn ? { executionArn: o.executionArn } : {}),
  });
  if (await rawExists(o.client, o.bucket, o.key)) return reprocess();
  for (const k of keys) {
    try {
      await o.client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: k }));
    } catch (err) {
      classifyAwsError(err, `removing s3://${o.bucket}/${k}`);
    }
  }
  if (await rawExists(o.client, o.bucket, o.key)) return reprocess();
  return { ...emptySummary(o.bucket, o.key, snapshotDate, o.asOf), deleted: true, removed: keys };
}
