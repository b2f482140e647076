/**
 * The query runner's metrics (docs/operability.md), with the Query dimension: QueryBytesScanned, QueryEngineTime and
 * QueriesSucceeded when a query SUCCEEDED; QueriesFailed when it failed for good (QueryFailedError,
 * QueryCancelledError: the state machine does not retry them). A call that returns a query still running, or that
 * fails with a TransientError (retried), emits nothing.
 */
import type { QueryName, QueryStatus } from './types';
import { METRICS, QUERY_DIMENSION } from '../../src/contract/observability';
import type { MetricDef, MetricsSink } from '../lib/metrics';

const FAILED_FOR_GOOD = new Set(['QueryFailedError', 'QueryCancelledError']);

/** The metrics of one finished query. */
function emitQueryMetrics(metrics: MetricsSink, query: QueryName, status: QueryStatus): void {
  if (!status.done || status.state !== 'SUCCEEDED') return;
  const values: Array<readonly [MetricDef, number]> = [[METRICS.queriesSucceeded, 1]];
  if (status.bytesScanned !== undefined) values.push([METRICS.queryBytesScanned, status.bytesScanned]);
  if (status.engineTimeMs !== undefined) values.push([METRICS.queryEngineTime, status.engineTimeMs]);
  metrics.addWithDimension(QUERY_DIMENSION, query, values);
}

/** Runs one query-runner call and emits its metrics (the error, if any, is rethrown unchanged). */
export async function queryMetrics(metrics: MetricsSink, query: QueryName, run: () => Promise<QueryStatus>): Promise<QueryStatus> {
  let status: QueryStatus;
  try {
    status = await run();
  } catch (err) {
    if (FAILED_FOR_GOOD.has((err as Error)?.name)) metrics.addWithDimension(QUERY_DIMENSION, query, [[METRICS.queriesFailed, 1]]);
    throw err;
  }
  emitQueryMetrics(metrics, query, status);
  return status;
}
