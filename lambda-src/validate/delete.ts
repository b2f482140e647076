/**
 * Stage 2 for a deleted raw object: removes the outputs its Stage 2 run wrote, so the snapshot's next
 * refresh no longer counts its records (docs/semantics.md, *Outputs*; docs/runtime.md, "Deleted files").
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { emptySummary, processS3Object, type ProcessSummary } from './index';
import type { Stage2Prefixes } from './processor';
import { parseSourceMetadata } from './source-version';
import { classifyAwsError, InvalidEventError } from '../lib/errors';
import { failureMarkerKey, fileSummaryKey, parseRawKey, partitionKey } from '../lib/keys';
import { headCurrent } from '../lib/watermark';

/** One raw object named by an EventBridge "Object Deleted" event. */
export interface DeletedObjectRef {
  readonly bucket: string;
  readonly key: string;
  /** `Delete Marker Created` (versioned bucket) or `Permanently Deleted`. */
  readonly deletionType?: string;
  /** The event's `version-id`: the delete marker created, or the version deleted for good. */
  readonly versionId?: string;
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
  const versionId = typeof e.detail.object['version-id'] === 'string' && e.detail.object['version-id'] !== '' ? e.detail.object['version-id'] : undefined;
  return { bucket, key, deletionType, ...(versionId ? { versionId } : {}) };
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
  /** The version the event deleted for good (`Permanently Deleted` with a `version-id`), when it names one. */
  readonly deletedVersionId?: string;
}

/**
 * The output keys Stage 2 writes for a raw key with a date folder: validated, expiring, quarantine, failure marker,
 * and the file summary.
 */
export function outputKeysOf(key: string, rawPrefix: string, prefixes: Stage2Prefixes): {
  snapshotDate: string; keys: string[]; validatedKey: string; summaryKey: string;
} {
  const info = parseRawKey(key, rawPrefix);
  if (info.snapshotDate === undefined) throw new InvalidEventError(`key '${key}' has no snapshot folder`);
  const d = info.snapshotDate;
  const file = `${info.stem}.jsonl`;
  const validatedKey = partitionKey(prefixes.validated, d, file);
  const summaryKey = fileSummaryKey(prefixes.validated, d, info.stem);
  return {
    snapshotDate: d,
    keys: [
      validatedKey, partitionKey(prefixes.expiring, d, file), partitionKey(prefixes.quarantine, d, file),
      failureMarkerKey(prefixes.quarantine, d, info.stem), summaryKey,
    ],
    validatedKey,
    summaryKey,
  };
}

/** True when the raw key holds an object (a delete marker as the current version answers 404: absent). */
async function rawExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  return (await headCurrent(client, bucket, key)) !== undefined;
}

/** True when one of the outputs was written from `versionId` (its `source-version-id`). */
async function outputsFromVersion(client: S3Client, bucket: string, outputKeys: readonly string[], versionId: string): Promise<boolean> {
  for (const k of outputKeys) {
    const head = await headCurrent(client, bucket, k);
    if (parseSourceMetadata(head?.metadata)?.versionId === versionId) return true;
  }
  return false;
}

/**
 * Removes the outputs of a deleted raw object, unless the key holds an object again:
 *
 * 1. `HeadObject` the raw key: present (a re-upload after the delete, or a version was deleted by its id)
 *    → Stage 2 runs on the current object again (idempotent) so the outputs describe what the key now
 *    holds. When the version deleted for good is the one the outputs were written from (the current
 *    version was deleted by id: the previous one is current again, and S3 sends no "Object Created"),
 *    the outputs are removed first: they name a version newer than the current one, so the run over the
 *    current version would otherwise count as superseded and the deleted version's records would stay.
 * 2. absent → `DeleteObject` each output key (validated, expiring, quarantine, failure marker, file summary).
 * 3. `HeadObject` again: if a re-upload landed while step 2 ran, its Stage 2 outputs may just have
 *    been removed; Stage 2 runs on it again, restoring them. S3 is strongly consistent, so a
 *    re-upload whose Stage 2 finished before step 2 is visible to step 3.
 */
export async function removeDeletedObjectOutputs(o: RemoveOutputsOptions): Promise<ProcessSummary | DeletedSummary> {
  const { snapshotDate, keys, validatedKey, summaryKey } = outputKeysOf(o.key, o.rawPrefix, o.prefixes);
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
  const removeOutputs = async (): Promise<void> => {
    for (const k of keys) {
      try {
        await o.client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: k }));
      } catch (err) {
        classifyAwsError(err, `removing s3://${o.bucket}/${k}`);
      }
    }
  };
  if (await rawExists(o.client, o.bucket, o.key)) {
    if (o.deletedVersionId && await outputsFromVersion(o.client, o.bucket, [summaryKey, validatedKey], o.deletedVersionId)) await removeOutputs();
    return reprocess();
  }
  await removeOutputs();
  if (await rawExists(o.client, o.bucket, o.key)) return reprocess();
  return { ...emptySummary(o.bucket, o.key, snapshotDate, o.asOf), deleted: true, removed: keys };
}
