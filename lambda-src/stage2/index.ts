/** Stage 2: validate, quarantine and select expiring facilities, streaming (see docs/semantics.md). */
import type { S3Client } from '@aws-sdk/client-s3';
import { ObjectResult, processStream, Stage2Prefixes } from './processor';
import { S3Sink } from './sinks';
import { openS3Object } from './sources';
import { parseRawKey } from '../lib/keys';

export * from './lines';
export * from './processor';
export * from './sinks';
export * from './sources';

/** The handler's result for one object (docs/design.md). */
export interface ProcessSummary extends ObjectResult {
  bucket: string;
  etag?: string;
}

export interface ProcessS3ObjectOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly rawPrefix: string;
  readonly prefixes: Stage2Prefixes;
  readonly months: number;
  readonly asOf?: string;
  readonly maxLineBytes?: number;
}

/** Reads `s3://bucket/key` and writes the outputs into the same bucket. */
export async function processS3Object(o: ProcessS3ObjectOptions): Promise<ProcessSummary> {
  const info = parseRawKey(o.key, o.rawPrefix);
  const src = await openS3Object(o.client, o.bucket, o.key);
  const result = await processStream(src.stream, {
    sourceKey: o.key,
    folderSnapshotDate: info.snapshotDate,
    stem: info.stem,
    gzip: info.gzip,
    asOf: o.asOf,
    months: o.months,
    sink: new S3Sink(o.client, o.bucket),
    prefixes: o.prefixes,
    maxLineBytes: o.maxLineBytes,
  });
  return { bucket: o.bucket, ...(src.etag ? { etag: src.etag } : {}), ...result };
}
