/** The records the local S3 store keeps: object and bucket metadata, temp files, multipart uploads. */
import type { ChecksumAlgorithm } from './checksums';

export interface ObjectChecksum {
  algorithm: ChecksumAlgorithm;
  /** base64; composite checksums end in `-<parts>` */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** Server-side encryption of an object, as recorded in its metadata. */
export interface ObjectEncryption {
  algorithm: 'AES256' | 'aws:kms' | 'aws:kms:dsse';
  /** Full key ARN for SSE-KMS. */
  kmsKeyArn?: string;
  /** Encrypted under an S3 Bucket Key (KMS sees the bucket ARN as encryption context). */
  bucketKeyEnabled?: boolean;
}

export interface ObjectMeta {
  key: string;
  /** hex MD5 (or `<hex>-<parts>` for multipart uploads), without quotes */
  etag: string;
  size: number;
  /** ISO 8601 */
  lastModified: string;
  contentType: string;
  /** stored representation headers: content-encoding, content-disposition, cache-control, content-language, expires */
  headers: Record<string, string>;
  /** x-amz-meta-* without the prefix, lower-case names */
  userMetadata: Record<string, string>;
  checksum?: ObjectChecksum;
  partsCount?: number;
  /** Server-side encryption the object was written with (SSE-KMS: the key S3 needs kms:Decrypt on to read it). */
  sse?: ObjectEncryption;
  /** mtime of the data file when the metadata was written: detects replacement from outside */
  mtimeMs: number;
  /** S3 version id, set for objects written while the bucket's versioning was on (`null` when Suspended); absent: the `null` version. */
  versionId?: string;
}

export type NewObjectMeta = Omit<ObjectMeta, 'key' | 'size' | 'lastModified' | 'mtimeMs' | 'versionId'>;

/** A bucket's versioning state: absent (never versioned), Enabled or Suspended (it never returns to unversioned). */
export type VersioningStatus = 'Enabled' | 'Suspended';

export interface BucketConfig {
  creationDate: string;
  eventBridge: boolean;
  versioning?: VersioningStatus;
}

/** A delete marker: a version without data (S3 User Guide, "Working with delete markers"). */
export interface DeleteMarker {
  versionId: string;
  lastModified: string;
  deleteMarker: true;
}

/** A noncurrent object version: its metadata (versionId set) and bytes kept in the versions folder. */
export type ArchivedObject = ObjectMeta & { versionId: string; deleteMarker?: undefined };

/** The versions of a key other than a current object: the current delete marker and the noncurrent versions, newest first. */
export interface VersionIndex {
  key: string;
  marker?: DeleteMarker;
  older: Array<DeleteMarker | ArchivedObject>;
}

/** What a DeleteObject did on a bucket (what S3 reports in its headers, DeleteObjects result and event). */
export interface DeleteResult {
  /** Whether something was deleted or a delete marker created (false: nothing there, no event). */
  changed: boolean;
  /** The version deleted, or the delete marker created (versioned buckets only). */
  versionId?: string;
  /** A delete marker was created, or the version deleted was one. */
  deleteMarker: boolean;
  deletionType: 'Permanently Deleted' | 'Delete Marker Created';
}

export interface TempFile {
  path: string;
  size: number;
  /** MD5 of the content; absent when the caller asked for none (`md5: false`). */
  md5?: Buffer;
  digests: Map<ChecksumAlgorithm, Buffer>;
  sha256?: Buffer;
}

export interface UploadInfo {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: string;
  meta: Omit<NewObjectMeta, 'etag' | 'checksum'>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: string;
  checksum?: string;
}

export interface CompletePart {
  partNumber: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

export type ListEntry = { type: 'key'; key: string } | { type: 'prefix'; prefix: string };
