/** A finished, SUCCEEDED state-counts QueryStatus of one computation (the publisher's input), for the runtime tests. */
import type { QueryStatus } from '../../lambda-src/athena/types';
import type { Watermark } from '../../lambda-src/lib/watermark';

/** The status of the computation `w` of `snapshotDate` in `bucket` (as-of date = the snapshot date unless overridden). */
export function stateCountsStatus(
  w: Watermark, at: { readonly bucket: string; readonly snapshotDate: string }, over: Partial<QueryStatus> = {},
): QueryStatus {
  return {
    query: 'state_counts',
    bucket: at.bucket,
    snapshotDate: at.snapshotDate,
    asOf: at.snapshotDate,
    queryExecutionId: w.queryExecutionId,
    submittedAt: w.submittedAt,
    state: 'SUCCEEDED',
    done: true,
    ...over,
  };
}

/** The snapshot, folders and two computations (older, newer) the publish tests against the local S3 use. */
export const PUBLISH_FIXTURE = {
  snapshotDate: '2025-08-10',
  results: 'results/state_counts/snapshot_date=2025-08-10/',
  production: 'production/state_counts/snapshot_date=2025-08-10/',
  older: { submittedAt: '2025-08-10T12:00:00.000Z', queryExecutionId: 'q-1' } as Watermark,
  newer: { submittedAt: '2025-08-10T12:05:00.000Z', queryExecutionId: 'q-2' } as Watermark,
} as const;
