import { Logger } from '@aws-lambda-powertools/logger';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { parseQueryEvent } from '../athena/request';
import type { QueryStatus } from '../athena/types';
import { runStateCounts } from '../count';
import { runFacilityExtract } from '../extract';
import { PipelineConfig, loadConfig } from '../lib/config';

// Created once per container and reused by every invocation.
const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'medlaunch-elt-query-runner' });
const athena = new AthenaClient({});
const s3 = new S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
let config: PipelineConfig | undefined;

/**
 * Stage 3 (state counts) and Stage 1 (facility extract) query runner. Input: an EventBridge/S3
 * event (→ state counts for the key's snapshot) or a QueryRequest; output: QueryStatus.
 * Throws TransientError (retry), QueryFailedError, QueryCancelledError or InvalidEventError.
 */
export const handler = async (event: unknown, context: Context): Promise<QueryStatus> => {
  config ??= loadConfig();
  const cfg = config;
  logger.addContext(context);
  try {
    const request = parseQueryEvent(event, cfg);
    const deps = {
      athena,
      s3,
      config: cfg,
      logger,
      remainingMs: () => (context?.getRemainingTimeInMillis?.() ?? 60_000) - cfg.queryWaitSafetyMs,
    };
    logger.info('query request', { request });
    const status = request.query === 'facility_extract' ? await runFacilityExtract(request, deps) : await runStateCounts(request, deps);
    logger.info('query status', { status });
    return status;
  } catch (err) {
    logger.error('query-runner failed', err as Error);
    throw err;
  }
};
