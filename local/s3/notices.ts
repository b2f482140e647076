/**
 * What the local S3 tells its listeners: objects created and deleted in EventBridge-enabled buckets
 * (S3's EventBridge "Object Created" / "Object Deleted" events) and requests refused by IAM
 * enforcement. The EventBridge flag of each bucket is persisted by the store and cached here.
 */
import { EventEmitter } from 'node:events';
import type { S3Store } from './store';
import type { ObjectMeta } from './store-types';

export interface ObjectCreatedNotice {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  sequencer: string;
  reason: 'PutObject' | 'CompleteMultipartUpload' | 'CopyObject';
  time: string;
  /** The new version's id on a versioned bucket (`null` while versioning is Suspended); absent on an unversioned one. */
  versionId?: string;
}

/**
 * An object removed from an EventBridge-enabled bucket (S3 sends EventBridge "Object Deleted"):
 * `Delete Marker Created` for a DeleteObject without a version id on a versioned bucket (with the
 * marker's `versionId`), `Permanently Deleted` for a version deleted by id (its `versionId`) or an
 * object of an unversioned bucket. Not sent when nothing was deleted.
 */
export interface ObjectDeletedNotice {
  bucket: string;
  key: string;
  sequencer: string;
  reason: 'DeleteObject';
  deletionType: 'Permanently Deleted' | 'Delete Marker Created';
  versionId?: string;
  time: string;
}

/** A request refused by IAM enforcement (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, InvalidToken). */
export interface AccessDeniedNotice {
  readonly operation: string;
  readonly code: string;
  readonly message: string;
  /** The caller's ARN ('anonymous' for an unsigned request, the access key id for an unknown one). */
  readonly principal: string;
  readonly bucket?: string;
  readonly key?: string;
}

export interface S3Notices {
  objectCreated: ObjectCreatedNotice;
  objectDeleted: ObjectDeletedNotice;
  accessDenied: AccessDeniedNotice;
}

export type S3NoticeName = keyof S3Notices;

/** The listeners of one endpoint and the EventBridge flag of its buckets. */
export class Notifier {
  private readonly emitter = new EventEmitter();
  private readonly eventBridge = new Map<string, boolean>();
  private sequence = BigInt(Date.now()) * 1_000_000n;

  constructor(private readonly store: S3Store) {}

  on<E extends S3NoticeName>(event: E, listener: (n: S3Notices[E]) => void): void {
    this.emitter.on(event, listener);
  }

  off<E extends S3NoticeName>(event: E, listener: (n: S3Notices[E]) => void): void {
    this.emitter.off(event, listener);
  }

  /** Whether anyone listens for `event` (a notice nobody reads need not be built). */
  listens(event: S3NoticeName): boolean {
    return this.emitter.listenerCount(event) > 0;
  }

  /** Turns the bucket's EventBridge notifications on or off (persisted in its bucket.json). */
  async setEventBridge(bucket: string, enabled: boolean): Promise<void> {
    this.eventBridge.set(bucket, enabled);
    await this.store.updateBucketConfig(bucket, { eventBridge: enabled });
  }

  /** Forgets a deleted bucket's flag. */
  forget(bucket: string): void {
    this.eventBridge.delete(bucket);
  }

  async eventBridgeEnabled(bucket: string): Promise<boolean> {
    const cached = this.eventBridge.get(bucket);
    if (cached !== undefined) return cached;
    const enabled = (await this.store.getBucketConfig(bucket)).eventBridge;
    this.eventBridge.set(bucket, enabled);
    return enabled;
  }

  /** 'objectCreated' for an object just committed, when its bucket sends EventBridge events. */
  async created(bucket: string, meta: ObjectMeta, reason: ObjectCreatedNotice['reason']): Promise<void> {
    if (!(await this.eventBridgeEnabled(bucket))) return;
    this.emit('objectCreated', {
      bucket,
      key: meta.key,
      size: meta.size,
      etag: meta.etag,
      reason,
      time: meta.lastModified,
      sequencer: this.nextSequencer(),
      ...(meta.versionId !== undefined ? { versionId: meta.versionId } : {}),
    });
  }

  /** 'objectDeleted' for an object just removed, when its bucket sends EventBridge events. */
  async deleted(bucket: string, key: string, what?: { versionId?: string; deletionType: ObjectDeletedNotice['deletionType'] }): Promise<void> {
    if (!(await this.eventBridgeEnabled(bucket))) return;
    this.emit('objectDeleted', {
      bucket,
      key,
      reason: 'DeleteObject',
      deletionType: what?.deletionType ?? 'Permanently Deleted',
      time: new Date().toISOString(),
      sequencer: this.nextSequencer(),
      ...(what?.versionId !== undefined ? { versionId: what.versionId } : {}),
    });
  }

  denied(notice: AccessDeniedNotice): void {
    this.emitter.emit('accessDenied', notice);
  }

  /** A hex string (16+ upper-case digits) that increases with every notice of the endpoint. */
  private nextSequencer(): string {
    this.sequence++;
    return this.sequence.toString(16).toUpperCase().padStart(16, '0');
  }

  /** Calls each listener; one that throws is logged and does not affect the request. */
  private emit<E extends 'objectCreated' | 'objectDeleted'>(event: E, notice: S3Notices[E]): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        (listener as (n: S3Notices[E]) => void)(notice);
      } catch (e) {
        // eslint-disable-next-line no-console
        console.error(`local S3: ${event} listener failed:`, e);
      }
    }
  }
}
