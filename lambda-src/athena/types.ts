import type { QUERY_NAMES } from '../../src/contract';

/** The queries the pipeline runs (lambda-src/sql/<name>.sql; the names are the contract's QUERY_NAMES). */
export type QueryName = (typeof QUERY_NAMES)[keyof typeof QUERY_NAMES];

/** Input of the query-runner Lambda (docs/design.md). */
export interface QueryRequest {
  query: QueryName;
  bucket: string;
  key?: string;
  etag?: string;
  snapshotDate: string;
  asOf?: string;
  /** Present when polling a query started earlier. */
  queryExecutionId?: string;
  /** Incremented by every call; the state machine caps it. */
  polls?: number;
  /** How many times a query that failed with a retryable Athena error was replaced (capped). */
  restarts?: number;
  /**
   * The snapshot ticket's version that `ReadTicket` read (coordination/ticket.ts `claimOf`): the refresh this
   * query belongs to. The Start payload carries it as `ticket.claim` (ReadTicket's whole result); a manual request
   * may name `claim` itself. Absent (a query started outside the state machine): the runner reads the ticket itself.
   */
  claim?: string;
}

/**
 * Output of the query-runner Lambda. FAILED/CANCELLED queries are thrown as errors.
 */
export interface QueryStatus extends QueryRequest {
  state: 'QUEUED' | 'RUNNING' | 'SUCCEEDED';
  /** ISO time Athena accepted the query: the computation's watermark. */
  submittedAt?: string;
  done: boolean;
  /** state_counts: the CSV and JSON written under RESULTS_PREFIX. */
  resultKeys?: string[];
  /** state_counts: the ETags of `resultKeys` when both hold this computation (the publisher reads them by ETag). */
  resultETags?: string[];
  /** state_counts: this computation created its results files (none existed before): production is likely absent too. */
  resultsCreated?: boolean;
  rows?: number;
  /** facility_extract: whether this computation now owns the curated partition. */
  promoted?: boolean;
  /** facility_extract: the key prefix of this computation's Parquet files in the curated partition. */
  extractPrefix?: string;
  /** facility_extract: how many Parquet files this computation has in the partition (0 when not promoted). */
  extractFiles?: number;
  /** SUCCEEDED: bytes the query scanned (GetQueryExecution `Statistics.DataScannedInBytes`). */
  bytesScanned?: number;
  /** SUCCEEDED: the engine's execution time in milliseconds (`Statistics.EngineExecutionTimeInMillis`). */
  engineTimeMs?: number;
  /** SUCCEEDED: ISO time the query completed (`Status.CompletionDateTime`). */
  completedAt?: string;
}

/** The status of a query that SUCCEEDED: it has an id and a submission time. */
export type SucceededStatus = QueryStatus & { queryExecutionId: string; submittedAt: string; state: 'SUCCEEDED' };

/** Output of the publish-results Lambda. */
export interface PublishResult {
  published: boolean;
  reason: 'published' | 'stale';
  /** The production keys this call found holding (or wrote) the published results. */
  keys: string[];
  /** Published: the manifest naming the unit (written last; docs/runtime.md, "Publish"). */
  manifest?: string;
}
