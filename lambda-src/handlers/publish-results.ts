import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import type { PublishResult } from '../athena/types';
import { PipelineConfig, loadConfig } from '../lib/config';
import { parsePublishInput, publishResults } from '../publish';

// Created once per container and reused by every invocation.
const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'medlaunch-elt-publish-results' });
const s3 = new S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
let config: PipelineConfig | undefined;

/**
 * Stage 4: publishes a successful state-counts computation to the production path.
 * Input `{bucket, snapshotDate, results: QueryStatus}`; output `{published, reason, keys}`.
 */
export const handler = async (event: unknown, context: Context): Promise<PublishResult> => {
  config ??= loadConfig();
  logger.addContext(context);
  try {
    const input = parsePublishInput(event, config);
    const result = await publishResults(input, { s3, config, logger });
    logger.info('publish result', { snapshotDate: input.snapshotDate, ...result });
    return result;
  } catch (err) {
    logger.error('publish-results failed', err as Error);
    throw err;
  }
};
