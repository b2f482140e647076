/**
 * The events S3 sends to EventBridge: "Object Created" and "Object Deleted", built from the local
 * S3's notices exactly as S3 builds them (keys not URL-encoded, the ETag without quotes).
 */
import { randomBytes, randomUUID } from 'node:crypto';

/** What S3 knows about a created object (the local S3 reports these). */
export interface S3ObjectNotice {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** ETag without quotes (quotes are stripped). */
  readonly etag?: string;
  readonly sequencer?: string;
  readonly versionId?: string;
  /** PutObject, POST Object, CopyObject or CompleteMultipartUpload (default PutObject). */
  readonly reason?: string;
  /** Event time (default now). */
  readonly time?: Date | string;
  readonly requestId?: string;
  readonly sourceIpAddress?: string;
}

/** An EventBridge event. */
export interface EventBridgeEvent {
  readonly 'version': string;
  readonly 'id': string;
  readonly 'detail-type': string;
  readonly 'source': string;
  readonly 'account': string;
  readonly 'time': string;
  readonly 'region': string;
  readonly 'resources': string[];
  readonly 'detail': Record<string, unknown>;
}

/** AWS event time: ISO 8601 without milliseconds. */
function eventTime(t: Date | string | undefined): string {
  const d = t === undefined ? new Date() : new Date(t);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Builds the exact event S3 sends to EventBridge for a created object. */
export function objectCreatedEvent(notice: S3ObjectNotice, env: EventEnvironment = {}): EventBridgeEvent {
  return s3Event('Object Created', notice, {
    key: notice.key,
    size: notice.size,
    ...(notice.etag !== undefined ? { etag: notice.etag.replace(/^"|"$/g, '') } : {}),
    ...(notice.versionId !== undefined ? { 'version-id': notice.versionId } : {}),
  }, { reason: notice.reason ?? 'PutObject' }, env);
}

/** Account, region and event id of a built event (defaults: the local account, us-east-1, a random id). */
export interface EventEnvironment { readonly accountId?: string; readonly region?: string; readonly id?: string }

/** The envelope S3 puts around every EventBridge event (S3 User Guide, "EventBridge event message structure"). */
function s3Event(
  detailType: 'Object Created' | 'Object Deleted',
  notice: { bucket: string; sequencer?: string; time?: Date | string; requestId?: string; sourceIpAddress?: string },
  object: Record<string, unknown>,
  tail: Record<string, unknown>,
  env: EventEnvironment,
): EventBridgeEvent {
  const accountId = env.accountId ?? '000000000000';
  return {
    'version': '0',
    'id': env.id ?? randomUUID(),
    'detail-type': detailType,
    'source': 'aws.s3',
    'account': accountId,
    'time': eventTime(notice.time),
    'region': env.region ?? 'us-east-1',
    'resources': [`arn:aws:s3:::${notice.bucket}`],
    'detail': {
      'version': '0',
      'bucket': { name: notice.bucket },
      'object': { ...object, sequencer: notice.sequencer ?? Date.now().toString(16).toUpperCase().padStart(18, '0') },
      'request-id': notice.requestId ?? randomBytes(8).toString('hex').toUpperCase(),
      'requester': accountId,
      'source-ip-address': notice.sourceIpAddress ?? '127.0.0.1',
      ...tail,
    },
  };
}

/** What S3 knows about a deleted object. */
export interface S3DeletedObjectNotice {
  readonly bucket: string;
  readonly key: string;
  readonly sequencer?: string;
  readonly versionId?: string;
  /** `Permanently Deleted` (unversioned bucket, or a version deleted by id) or `Delete Marker Created`. */
  readonly deletionType?: 'Permanently Deleted' | 'Delete Marker Created';
  /** `DeleteObject` or `Lifecycle Expiration` (default DeleteObject). */
  readonly reason?: string;
  readonly time?: Date | string;
  readonly requestId?: string;
  readonly sourceIpAddress?: string;
}

/** Builds the exact "Object Deleted" event S3 sends to EventBridge (S3 User Guide, "EventBridge event message structure"). */
export function objectDeletedEvent(notice: S3DeletedObjectNotice, env: EventEnvironment = {}): EventBridgeEvent {
  return s3Event('Object Deleted', notice, {
    key: notice.key,
    ...(notice.versionId !== undefined ? { 'version-id': notice.versionId } : {}),
  }, { 'reason': notice.reason ?? 'DeleteObject', 'deletion-type': notice.deletionType ?? 'Permanently Deleted' }, env);
}
