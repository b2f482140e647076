/**
 * What the validator Lambda does with one payload (lambda-src/handlers/validator.ts is the thin
 * handler around it):
 * - `{coordination: 'claim' | 'check', …}`: writes or reads the snapshot's ticket (coordination/ticket.ts);
 * - an EventBridge "Object Deleted" event: removes the object's outputs (validate/delete.ts);
 * - an EventBridge "Object Created" event, an S3 notification or `{bucket, key, asOf?}`: Stage 2 on
 *   each object, one after the other; one ProcessSummary, or an array for several records. Each processed object
 *   (not a superseded run, not a delete) adds its counts to the metrics (docs/operability.md).
 *
 * A payload of the state machine's `ProcessObject` (it names the execution in `run` and its object in `object`)
 * also claims the snapshot's ticket once Stage 2 is done — validated, superseded or deleted — and returns the
 * ticket status in `ticket` (docs/runtime.md, "Coordinating a snapshot's files").
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { deletedObjectOf, removeDeletedObjectOutputs, type DeletedObjectRef, type DeletedSummary } from './delete';
import { processS3Object, type ProcessSummary } from './index';
import type { Stage2Prefixes } from './processor';
import { runContextOf } from './summary';
import { TICKET_OPERATIONS } from '../../src/contract';
import { METRICS, REASON_DIMENSION } from '../../src/contract/observability';
import type { LoggerLike } from '../athena/client';
import { claimSnapshot, coordinate, isCoordinationRequest, type TicketStatus } from '../coordination/ticket';
import type { PipelineConfig } from '../lib/config';
import { isCalendarDate } from '../lib/dates';
import { InvalidEventError } from '../lib/errors';
import { objectsFromEvent, type ObjectRef } from '../lib/events';
import { rawDataKeySnapshot } from '../lib/keys';
import { NO_METRICS, type MetricsSink } from '../lib/metrics';

/** A Stage 2 result of an execution's `ProcessObject`, with the ticket it then claimed. */
export type ClaimedResult<T> = T & { readonly ticket: TicketStatus };

export type ValidatorResult = ProcessSummary | ProcessSummary[] | DeletedSummary | TicketStatus | ClaimedResult<ProcessSummary | DeletedSummary>;

export interface ValidatorDeps {
  readonly s3: S3Client;
  readonly config: PipelineConfig;
  readonly logger: LoggerLike;
  /** Default: none (NO_METRICS). */
  readonly metrics?: MetricsSink;
}

/** The Stage 2 metrics of one processed object; `QuarantinedByReason` once per reason code that occurred. */
export function emitObjectMetrics(metrics: MetricsSink, s: ProcessSummary): void {
  metrics.add(METRICS.filesProcessed, 1);
  metrics.add(METRICS.recordsRead, s.read);
  metrics.add(METRICS.recordsValid, s.valid);
  metrics.add(METRICS.recordsQuarantined, s.quarantined);
  metrics.add(METRICS.duplicateRecords, s.duplicates);
  metrics.add(METRICS.blankLines, s.blank);
  metrics.add(METRICS.expiringFacilities, s.matched);
  for (const [code, n] of Object.entries(s.reasons)) metrics.addWithDimension(REASON_DIMENSION, code, [[METRICS.quarantinedByReason, n]]);
}

/** Refused, not quarantined, when the key is not a raw data file of a snapshot in range (lib/keys.rawDataKeySnapshot). */
function checkKey(ref: ObjectRef, rawPrefix: string): void {
  rawDataKeySnapshot(ref.key, rawPrefix, `s3://${ref.bucket}/${ref.key} left in place, nothing written`);
}

function prefixes(config: PipelineConfig): Stage2Prefixes {
  return { validated: config.validatedPrefix, expiring: config.expiringPrefix, quarantine: config.quarantinePrefix };
}

/** The as-of date of a Stage 2 run: the payload's `asOf`, else AS_OF_DATE (else each record's snapshot date). */
function asOfOf(event: unknown, config: PipelineConfig): string | undefined {
  const payloadAsOf = event && typeof event === 'object' ? (event as { asOf?: unknown }).asOf : undefined;
  if (payloadAsOf !== undefined && !isCalendarDate(payloadAsOf)) {
    throw new InvalidEventError(`asOf must be a YYYY-MM-DD calendar date (got ${JSON.stringify(payloadAsOf)})`);
  }
  const asOf = (payloadAsOf as string | undefined) ?? config.asOfDate;
  if (asOf !== undefined && !isCalendarDate(asOf)) throw new InvalidEventError(`AS_OF_DATE is not a calendar date: ${asOf}`);
  return asOf;
}

/** The object an execution's payload names (`object`, set by the state machine before ProcessObject). */
function executionObjectOf(event: unknown): ObjectRef | undefined {
  const o = event && typeof event === 'object' ? (event as { object?: unknown }).object : undefined;
  if (!o || typeof o !== 'object') return undefined;
  const { bucket, key } = o as Record<string, unknown>;
  return typeof bucket === 'string' && typeof key === 'string' ? { bucket, key } : undefined;
}

/** Dispatches one validator payload (see the module comment). */
export async function handleValidatorEvent(event: unknown, deps: ValidatorDeps): Promise<ValidatorResult> {
  const { s3, config, logger } = deps;
  if (isCoordinationRequest(event)) {
    const status = await coordinate(event, { s3, config });
    logger.info('snapshot ticket', { ...status, coordination: event.coordination });
    return status;
  }
  const target = stage2Target(event);
  const executionArn = runContextOf(event)?.executionArn;
  const object = executionObjectOf(event);
  if (!executionArn || !object) return stage2(event, target, executionArn, deps, true);
  // An execution's payload: Stage 2 on the one object it names, then the claim. Every successful return carries
  // `ticket` (the state machine's ProcessObject reads it), so anything else is refused before any work.
  const refs = 'deleted' in target ? [target.deleted] : target.refs;
  if (refs.length !== 1 || refs[0].bucket !== object.bucket || refs[0].key !== object.key) {
    throw new InvalidEventError(`an execution's payload must name one object, s3://${object.bucket}/${object.key} (it names ${refs.length === 1
      ? `s3://${refs[0].bucket}/${refs[0].key}` : `${refs.length} objects`})`);
  }
  const result = (await stage2(event, target, executionArn, deps, false)) as ProcessSummary | DeletedSummary;
  // After every Stage 2 write of this execution: the ticket names it (the failure path claims in its own state).
  const ticket = await claimSnapshot({ coordination: TICKET_OPERATIONS.claim, bucket: object.bucket, object: object.key, execution: executionArn },
    { s3, config });
  logger.info('snapshot ticket', { ...ticket, coordination: TICKET_OPERATIONS.claim });
  // Counted once the invocation cannot fail any more: a failed claim is retried with Stage 2, and counted then.
  if (!('deleted' in result) && !result.superseded) emitObjectMetrics(deps.metrics ?? NO_METRICS, result);
  return { ...result, ticket };
}

/** What Stage 2 works on: a deleted object (an "Object Deleted" event), or the objects the payload names. */
type Stage2Target = { readonly deleted: DeletedObjectRef } | { readonly refs: ObjectRef[] };

/** The payload read once: its deleted object, else its objects (objectsFromEvent; InvalidEventError for anything else). */
function stage2Target(event: unknown): Stage2Target {
  const deleted = deletedObjectOf(event);
  return deleted ? { deleted } : { refs: objectsFromEvent(event) };
}

/**
 * Stage 2 on the payload's object(s): remove a deleted object's outputs, or validate. `emit`: add each processed
 * object's counts to the metrics here (an execution's payload has them added after its claim instead).
 */
async function stage2(event: unknown, target: Stage2Target, executionArn: string | undefined, deps: ValidatorDeps,
  emit: boolean): Promise<ProcessSummary | ProcessSummary[] | DeletedSummary> {
  const { s3, config, logger } = deps;
  const metrics = deps.metrics ?? NO_METRICS;
  if ('deleted' in target) {
    const { deleted } = target;
    checkKey(deleted, config.rawPrefix);
    const summary = await removeDeletedObjectOutputs({
      client: s3,
      bucket: deleted.bucket,
      key: deleted.key,
      rawPrefix: config.rawPrefix,
      prefixes: prefixes(config),
      months: config.expiryMonths,
      asOf: config.asOfDate,
      ...(executionArn ? { executionArn } : {}),
      ...(deleted.deletionType === 'Permanently Deleted' && deleted.versionId ? { deletedVersionId: deleted.versionId } : {}),
    });
    logger.info('stage2 deleted object', {
      bucket: deleted.bucket, key: deleted.key, deletionType: deleted.deletionType, removed: 'removed' in summary ? summary.removed : [],
    });
    return summary;
  }
  const { refs } = target;
  const asOf = asOfOf(event, config);
  for (const ref of refs) checkKey(ref, config.rawPrefix);
  const summaries: ProcessSummary[] = [];
  for (const ref of refs) {
    const started = Date.now();
    const summary = await processS3Object({
      client: s3,
      bucket: ref.bucket,
      key: ref.key,
      etag: ref.etag,
      ...(ref.versionId !== undefined ? { versionId: ref.versionId } : {}),
      ...(ref.sequencer !== undefined ? { sequencer: ref.sequencer } : {}),
      rawPrefix: config.rawPrefix,
      prefixes: prefixes(config),
      months: config.expiryMonths,
      asOf,
      ...(executionArn ? { executionArn } : {}),
    });
    if (emit && !summary.superseded) emitObjectMetrics(metrics, summary);
    const { bucket, key, etag, snapshotDate, read, valid, matched, quarantined, duplicates, blank } = summary;
    logger.info('stage2 object processed', {
      bucket, key, etag, snapshotDate, asOf: summary.asOf, read, valid, matched, quarantined, duplicates, blank, ms: Date.now() - started,
    });
    summaries.push(summary);
  }
  return summaries.length === 1 ? summaries[0] : summaries;
}
