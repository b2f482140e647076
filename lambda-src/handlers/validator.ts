/**
 * Stage 2 Lambda: validates one raw object, writes validated / expiring / quarantine outputs.
 * Input: an EventBridge "Object Created" event, an S3 notification or `{bucket, key, asOf?}`.
 * Output: the ProcessSummary of the object; for an S3 notification with several records, the
 * objects are processed one after the other and an array of summaries is returned.
 * Also (dispatch only): an EventBridge "Object Deleted" event removes the object's outputs
 * (lambda-src/validate/delete.ts), and `{coordination: 'claim' | 'check', …}` writes or reads the
 * snapshot's ticket (lambda-src/coordination/ticket.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { coordinate, isCoordinationRequest, TicketStatus } from '../coordination/ticket';
import { loadConfig } from '../lib/config';
import { isCalendarDate } from '../lib/dates';
import { InvalidEventError } from '../lib/errors';
import { objectsFromEvent, ObjectRef } from '../lib/events';
import { assertSnapshotInRange, isDataKey, rawKeySnapshot } from '../lib/keys';
import { processS3Object, ProcessSummary } from '../validate';
import { DeletedSummary, deletedObjectOf, removeDeletedObjectOutputs } from '../validate/delete';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'medlaunch-elt-validator' });
let s3: S3Client | undefined;

function client(): S3Client {
  s3 ??= new S3Client({});
  return s3;
}

function checkKey(ref: ObjectRef, rawPrefix: string): void {
  if (!ref.key.startsWith(rawPrefix)) throw new InvalidEventError(`key '${ref.key}' is outside the raw prefix '${rawPrefix}'`);
  // One rule for a key's snapshot everywhere (lambda-src/lib/keys.ts, rawKeySnapshot): the nearest date folder
  // of a key under <raw>/<YYYY-MM-DD>/, as the key parser and the query runner use it.
  const folder = rawKeySnapshot(ref.key, rawPrefix);
  if (folder === undefined) {
    throw new InvalidEventError(`key '${ref.key}' is not under ${rawPrefix}<YYYY-MM-DD>/`);
  }
  if (!isDataKey(ref.key)) throw new InvalidEventError(`key '${ref.key}' is not a data file (.jsonl, .ndjson, .json, optionally .gz)`);
  // Refused, not quarantined: the records may be fine and the folder wrong (or early). The raw object
  // stays where it is; the execution alerts (docs/semantics.md, "Snapshot dates the tables can see").
  assertSnapshotInRange(folder, `s3://${ref.bucket}/${ref.key} left in place, nothing written`);
}

export const handler = async (event: unknown): Promise<ProcessSummary | ProcessSummary[] | DeletedSummary | TicketStatus> => {
  const config = loadConfig();
  if (isCoordinationRequest(event)) {
    const status = await coordinate(event, { s3: client(), config });
    logger.info('snapshot ticket', { ...status, coordination: event.coordination });
    return status;
  }
  const deleted = deletedObjectOf(event);
  if (deleted) {
    checkKey(deleted, config.rawPrefix);
    const summary = await removeDeletedObjectOutputs({
      client: client(),
      bucket: deleted.bucket,
      key: deleted.key,
      rawPrefix: config.rawPrefix,
      prefixes: { validated: config.validatedPrefix, expiring: config.expiringPrefix, quarantine: config.quarantinePrefix },
      months: config.expiryMonths,
      asOf: config.asOfDate,
    });
    logger.info('stage2 deleted object', { bucket: deleted.bucket, key: deleted.key, deletionType: deleted.deletionType, removed: 'removed' in summary ? summary.removed : [] });
    return summary;
  }
  const refs = objectsFromEvent(event);
  const payloadAsOf = event && typeof event === 'object' ? (event as { asOf?: unknown }).asOf : undefined;
  if (payloadAsOf !== undefined && !isCalendarDate(payloadAsOf)) {
    throw new InvalidEventError(`asOf must be a YYYY-MM-DD calendar date (got ${JSON.stringify(payloadAsOf)})`);
  }
  const asOf = (payloadAsOf as string | undefined) ?? config.asOfDate;
  if (asOf !== undefined && !isCalendarDate(asOf)) throw new InvalidEventError(`AS_OF_DATE is not a calendar date: ${asOf}`);
  for (const ref of refs) checkKey(ref, config.rawPrefix);
  const summaries: ProcessSummary[] = [];
  for (const ref of refs) {
    const started = Date.now();
    const summary = await processS3Object({
      client: client(),
      bucket: ref.bucket,
      key: ref.key,
      etag: ref.etag,
      ...(ref.versionId !== undefined ? { versionId: ref.versionId } : {}),
      ...(ref.sequencer !== undefined ? { sequencer: ref.sequencer } : {}),
      rawPrefix: config.rawPrefix,
      prefixes: { validated: config.validatedPrefix, expiring: config.expiringPrefix, quarantine: config.quarantinePrefix },
      months: config.expiryMonths,
      asOf,
    });
    logger.info('stage2 object processed', {
      bucket: summary.bucket,
      key: summary.key,
      etag: summary.etag,
      snapshotDate: summary.snapshotDate,
      asOf: summary.asOf,
      read: summary.read,
      valid: summary.valid,
      matched: summary.matched,
      quarantined: summary.quarantined,
      duplicates: summary.duplicates,
      blank: summary.blank,
      ms: Date.now() - started,
    });
    summaries.push(summary);
  }
  return summaries.length === 1 ? summaries[0] : summaries;
};
