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
