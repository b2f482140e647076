/**
 * Stage 1 (facility extract) and Stage 3 (state counts) Lambda. Input: a QueryRequest, or an
 * EventBridge/S3 event (→ state counts for the key's snapshot); output: QueryStatus. Throws
 * TransientError (retry), QueryFailedError, QueryCancelledError or InvalidEventError (docs/runtime.md).
 * A query that SUCCEEDED adds QueryBytesScanned, QueryEngineTime and QueriesSucceeded, one that failed for good
 * (QueryFailedError, QueryCancelledError) QueriesFailed, with the Query dimension (docs/operability.md).
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { queryMetrics } from '../athena/metrics';
import { parseQueryEvent } from '../athena/request';
import { runStateCounts } from '../count';
import { runFacilityExtract } from '../extract';
import { lambdaHandler, S3_CLIENT_OPTIONS } from '../lib/handler-runtime';

// Created once per container and reused by every invocation.
const athena = new AthenaClient({});
const s3 = new S3Client(S3_CLIENT_OPTIONS);

export const handler = lambdaHandler('query-runner', async (event, { config, logger, metrics, context }) => {
  const request = parseQueryEvent(event, config);
  const deps = {
    athena,
    s3,
    config,
    logger,
    remainingMs: () => (context?.getRemainingTimeInMillis() ?? 60_000) - config.queryWaitSafetyMs,
  };
  logger.info('query request', { request });
  const status = await queryMetrics(metrics, request.query, () => (request.query === 'facility_extract'
    ? runFacilityExtract(request, deps) : runStateCounts(request, deps)));
  logger.info('query status', { status });
  return status;
});
