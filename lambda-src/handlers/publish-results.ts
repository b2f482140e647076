/**
 * Stage 4 Lambda: publishes a successful state-counts computation to the production path, then writes its run
 * report. Input `{bucket, snapshotDate, results: QueryStatus, extract?, run?}`; output `{published, reason, keys}`
 * (lambda-src/publish). A production publish that wrote files adds SnapshotsPublished and PublishLag
 * (docs/operability.md).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { METRICS } from '../../src/contract/observability';
import { lambdaHandler, S3_CLIENT_OPTIONS } from '../lib/handler-runtime';
import { parsePublishInput, publishComputation } from '../publish';
import { writeRunReport } from '../publish/report';

// Created once per container and reused by every invocation.
const s3 = new S3Client(S3_CLIENT_OPTIONS);

export const handler = lambdaHandler('publish-results', async (event, { config, logger, metrics }) => {
  const input = parsePublishInput(event, config);
  const published = await publishComputation(input, { s3, config, logger });
  const result = published.result;
  logger.info('publish result', { snapshotDate: input.snapshotDate, ...result });
  if (!result.published) return result;
  if (published.written > 0) metrics.add(METRICS.snapshotsPublished, 1);
  await writeRunReport(input, published, { s3, config, logger, metrics });
  return result;
});
