/**
 * The per-file summary Stage 2 leaves for every raw object it processed (FileSummary, docs/operability.md): what the
 * run report of the object's snapshot is made of. Written after the outputs, with the same source-version protection
 * (lambda-src/validate/source-version.ts): a run over an older version never replaces a newer version's summary.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ObjectResult } from './processor';
import { S3Sink } from './sinks';
import type { SourceVersion } from './source-version';
import type { FileSummary, RunContext } from '../../src/contract/observability';

/** The summary of one processed object (the counts of its ObjectResult, the version read, who validated it). */
export function fileSummaryOf(result: ObjectResult, source: SourceVersion, executionArn: string | undefined, validatedAt: Date): FileSummary {
  return {
    schemaVersion: 1,
    key: result.key,
    ...(source.etag ? { etag: source.etag } : {}),
    ...(source.versionId ? { versionId: source.versionId } : {}),
    snapshotDate: result.snapshotDate,
    asOf: result.asOf,
    read: result.read,
    valid: result.valid,
    quarantined: result.quarantined,
    duplicates: result.duplicates,
    blankLines: result.blank,
    expiring: result.matched,
    reasons: result.reasons,
    ...(executionArn ? { executionArn } : {}),
    ...(source.lastModified ? { objectCreatedAt: source.lastModified } : {}),
    validatedAt: validatedAt.toISOString(),
  };
}

/**
 * Writes the summary with compare-and-swap on its source version (S3Sink with `source`): throws SupersededError when
 * the key already holds the summary of a newer version.
 */
export async function writeFileSummary(client: S3Client, bucket: string, key: string, summary: FileSummary, source: SourceVersion): Promise<void> {
  const writer = new S3Sink(client, bucket, { source }).open(key, 'application/json');
  try {
    await writer.write(`${JSON.stringify(summary, null, 2)}\n`);
    await writer.end();
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
}

/**
 * The execution a payload names in `run` (the state machine's RunContext, set before ProcessObject); undefined when
 * the payload has none (a direct invocation, an older state machine) or it is not a RunContext.
 */
export function runContextOf(event: unknown): RunContext | undefined {
  const run = event && typeof event === 'object' ? (event as { run?: unknown }).run : undefined;
  if (!run || typeof run !== 'object') return undefined;
  const { executionArn, startedAt } = run as Record<string, unknown>;
  if (typeof executionArn !== 'string' || executionArn === '' || typeof startedAt !== 'string') return undefined;
  return { executionArn, startedAt };
}
