/**
 * Which version of a raw object Stage 2 read, and the order of two versions of one key
 * (docs/semantics.md, *Re-uploads*; docs/runtime.md). Every Stage 2 output carries its source's
 * identity in metadata, and an output write refuses to replace the output of a newer source, so a
 * slow run over an old version never overwrites what a newer version's run wrote.
 */
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { classifyAwsError } from '../lib/errors';
import { headCurrent, isConditionalConflict, isNotFound } from '../lib/watermark';

/** The identity of one version of a raw object. */
export interface SourceVersion {
  /** The ETag of the version read. */
  readonly etag?: string;
  /** The S3 version id (versioned buckets). */
  readonly versionId?: string;
  /** The S3 event's `sequencer` for this version (orders the events of one key). */
  readonly sequencer?: string;
  /** LastModified of the version read (ISO-8601), the order when a sequencer is missing. */
  readonly lastModified?: string;
}

/** Metadata keys (without `x-amz-meta-`) every Stage 2 output carries. */
export const SOURCE_METADATA = {
  etag: 'source-etag',
  versionId: 'source-version-id',
  sequencer: 'source-sequencer',
  lastModified: 'source-last-modified',
} as const;

/** The output metadata naming a source version (ASCII only: ETags are hex, sequencers hex). */
export function sourceMetadata(s: SourceVersion): Record<string, string> {
  const m: Record<string, string> = {};
  if (s.etag) m[SOURCE_METADATA.etag] = s.etag.replace(/"/g, '');
  if (s.versionId) m[SOURCE_METADATA.versionId] = s.versionId;
  if (s.sequencer) m[SOURCE_METADATA.sequencer] = s.sequencer;
  if (s.lastModified) m[SOURCE_METADATA.lastModified] = s.lastModified;
  return m;
}

/** The source version named by an output's metadata; undefined when it has none (an output written before this rule). */
export function parseSourceMetadata(meta: Record<string, string> | undefined): SourceVersion | undefined {
  if (!meta) return undefined;
  const s: SourceVersion = {
    etag: meta[SOURCE_METADATA.etag],
    versionId: meta[SOURCE_METADATA.versionId],
    sequencer: meta[SOURCE_METADATA.sequencer],
    lastModified: meta[SOURCE_METADATA.lastModified],
  };
  return s.etag || s.versionId || s.sequencer || s.lastModified ? s : undefined;
}

const HEX = /^[0-9A-Fa-f]+$/;

/**
 * Orders two S3 event sequencers of one key: hexadecimal strings, compared after left-padding the
 * shorter with zeros (S3's event message structure: the greater sequencer is the later event; only
 * events of the same key are comparable). Negative when a is earlier.
 */
export function compareSequencers(a: string, b: string): number {
  if (!HEX.test(a) || !HEX.test(b)) throw new RangeError(`sequencer is not hexadecimal: ${JSON.stringify(HEX.test(a) ? b : a)}`);
  const n = Math.max(a.length, b.length);
  const pa = a.toUpperCase().padStart(n, '0');
  const pb = b.toUpperCase().padStart(n, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/**
 * Orders two versions of one key: by sequencer when both have one, else by LastModified; 0 when
 * neither orders them (the same version, or no ordering information). Negative when a is older.
 */
export function compareSources(a: SourceVersion, b: SourceVersion): number {
  if (a.sequencer && b.sequencer && HEX.test(a.sequencer) && HEX.test(b.sequencer)) return compareSequencers(a.sequencer, b.sequencer);
  const ta = a.lastModified ? Date.parse(a.lastModified) : NaN;
  const tb = b.lastModified ? Date.parse(b.lastModified) : NaN;
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) return ta < tb ? -1 : 1;
  return 0;
}

/** A newer version of the raw object exists (or its outputs are already there): this run must write nothing. */
export class SupersededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SupersededError';
  }
}

export interface OpenedVersion {
  readonly stream: Readable;
  readonly source: SourceVersion;
}

/**
 * Reads exactly the version the event names: `VersionId` when known, else `IfMatch: <etag>`.
 * A 412 (If-Match) means the key holds a newer version now, and a 404 on a named version means it
 * was deleted: SupersededError (the newer version's own event processes it). Without either, the
 * current version is read.
 */
export async function openSourceVersion(client: S3Client, bucket: string, key: string, want: SourceVersion): Promise<OpenedVersion> {
  const where = `s3://${bucket}/${key}`;
  try {
    const res = await client.send(new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      ...(want.versionId ? { VersionId: want.versionId } : want.etag ? { IfMatch: want.etag } : {}),
    }));
    if (!res.Body) throw new Error(`${where}: GetObject returned no body`);
    return {
      stream: res.Body as Readable,
      source: {
        etag: res.ETag ?? want.etag,
        versionId: res.VersionId ?? want.versionId,
        sequencer: want.sequencer,
        lastModified: res.LastModified?.toISOString(),
      },
    };
  } catch (err) {
    if (want.etag && !want.versionId && isConditionalConflict(err)) {
      throw new SupersededError(`${where}: the version with ETag ${want.etag} is no longer current (412); the newer version's own event processes it`);
    }
    if (want.versionId && (isNotFound(err) || (err as { name?: string }).name === 'NoSuchVersion')) {
      throw new SupersededError(`${where}: version ${want.versionId} no longer exists`);
    }
    return classifyAwsError(err, `reading ${where}`);
  }
}

/** The source version recorded on an existing output (headCurrent); `exists: false` when absent. */
export async function readOutputSource(client: S3Client, bucket: string, key: string):
Promise<{ exists: boolean; etag?: string; source?: SourceVersion }> {
  const head = await headCurrent(client, bucket, key);
  return head ? { exists: true, etag: head.etag, source: parseSourceMetadata(head.metadata) } : { exists: false };
}
