import { InvalidEventError } from './errors';

/** One S3 object named by an incoming event or payload. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
  readonly size?: number;
  readonly sequencer?: string;
  /** The version the event names (versioned buckets): Stage 2 reads exactly that version. */
  readonly versionId?: string;
}

function decodeS3NotificationKey(key: string): string {
  // S3 notifications URL-encode keys with '+' for spaces; EventBridge events do not.
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * Accepts an EventBridge "Object Created" event, an S3 notification (Records[]), or a direct
 * payload `{bucket, key}` (as the state machine sends). Throws InvalidEventError otherwise.
 */
export function objectsFromEvent(event: unknown): ObjectRef[] {
  if (!event || typeof event !== 'object') throw new InvalidEventError('event is not an object');
  const e = event as Record<string, any>;
  if (e.source === 'aws.s3' && e.detail && typeof e.detail === 'object') {
    const name = e.detail.bucket?.name;
    const key = e.detail.object?.key;
    if (typeof name !== 'string' || typeof key !== 'string') {
      throw new InvalidEventError('EventBridge S3 event without detail.bucket.name and detail.object.key');
    }
    if (e['detail-type'] !== undefined && e['detail-type'] !== 'Object Created') {
      throw new InvalidEventError(`unsupported EventBridge detail-type '${e['detail-type']}'`);
    }
    const o = e.detail.object;
    return [{ bucket: name, key, etag: o.etag, size: o.size, sequencer: o.sequencer, ...(typeof o['version-id'] === 'string' ? { versionId: o['version-id'] } : {}) }];
  }
  if (Array.isArray(e.Records)) {
    const refs = e.Records.filter((r: any) => r?.eventSource === 'aws:s3' && String(r.eventName ?? '').startsWith('ObjectCreated'))
      .map((r: any) => ({
        bucket: r.s3?.bucket?.name,
        key: decodeS3NotificationKey(String(r.s3?.object?.key ?? '')),
        etag: r.s3?.object?.eTag,
        size: r.s3?.object?.size,
        sequencer: r.s3?.object?.sequencer,
        ...(typeof r.s3?.object?.versionId === 'string' ? { versionId: r.s3.object.versionId } : {}),
      }));
    if (refs.length === 0 || refs.some((r: ObjectRef) => !r.bucket || !r.key)) {
      throw new InvalidEventError('S3 notification without ObjectCreated records');
    }
    return refs;
  }
  if (typeof e.bucket === 'string' && typeof e.key === 'string' && e.bucket && e.key) {
    return [{
      bucket: e.bucket,
      key: e.key,
      etag: typeof e.etag === 'string' ? e.etag : undefined,
      ...(typeof e.versionId === 'string' ? { versionId: e.versionId } : {}),
    }];
  }
  throw new InvalidEventError('unrecognised event: expected an EventBridge S3 event, an S3 notification or {bucket, key}');
}
