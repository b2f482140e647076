/**
 * Stage 2 Lambda: validates one raw object (validated / expiring / quarantine outputs), removes the
 * outputs of a deleted one, and writes or reads its snapshot's ticket (lambda-src/validate/dispatch.ts).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { lambdaHandler } from '../lib/handler-runtime';
import { handleValidatorEvent } from '../validate/dispatch';

// Created once per container and reused by every invocation. (The SDK's default checksums: Stage 2's
// outputs are written with a checksum S3 verifies.)
const s3 = new S3Client({});

export const handler = lambdaHandler('validator', (event, { config, logger, metrics }) =>
  handleValidatorEvent(event, { s3, config, logger, metrics }));
