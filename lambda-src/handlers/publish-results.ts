/**
 * Stage 4 Lambda: publishes a successful state-counts computation to the production path.
 * Input `{bucket, snapshotDate, results: QueryStatus}`; output `{published, reason, keys}` (lambda-src/publish).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { lambdaHandler, S3_CLIENT_OPTIONS } from '../lib/handler-runtime';
import { parsePublishInput, publishResults } from '../publish';

// Created once per container and reused by every invocation.
const s3 = new S3Client(S3_CLIENT_OPTIONS);

export const handler = lambdaHandler('publish-results', async (event, { config, logger }) => {
  const input = parsePublishInput(event, config);
  const result = await publishResults(input, { s3, config, logger });
  logger.info('publish result', { snapshotDate: input.snapshotDate, ...result });
  return result;
});
