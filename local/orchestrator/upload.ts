/**
 * Upload phase: the data files go up through the local S3 API, as `aws s3 cp --recursive` would
 * send them; every object created (or deleted) is an S3 event on the EventBridge bus, whose rule
 * starts the state machine.
 */
import { createReadStream, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { isTransientAwsError } from '../../lambda-src/lib/errors';
import { forEachLimit } from '../concurrency';
import type { S3ObjectNotice } from '../events';
import type { LocalCredentialSet } from '../iam/credentials';
import { mulberry32 } from '../prng';
import type { LocalStack } from './deploy';
import { uploadedMessage } from './messages';
import { CREDENTIALS, REGION } from './options';
import type { SkippedFile } from './result';
import type { SnapshotFile } from './snapshots';

/** What the upload phase leaves for the next phases. */
export interface Uploaded {
  /** The CLI's S3 client (signed as the account root when IAM is enforced). */
  readonly client: S3Client;
  /** Events S3 put on the bus so far (Object Created and Object Deleted). */
  busEvents(): number;
}

/**
 * Forwards the local S3's notices to the bus (held back and delivered together with --shuffle, so
 * the bus can reorder them), uploads every data file under the raw prefix, and reports it.
 */
export async function uploadSnapshots(stack: LocalStack, files: SnapshotFile[], skipped: SkippedFile[]): Promise<Uploaded> {
  const { opts, s3, events, dep } = stack;
  const buffered: S3ObjectNotice[] = [];
  let busEvents = 0;
  s3.on('objectCreated', (n) => {
    busEvents++;
    if (opts.shuffle) buffered.push(n);
    else events.objectsCreated([n]);
  });
  s3.on('objectDeleted', (n) => {
    busEvents++;
    events.objectsDeleted([n]);
  });
  const client = new S3Client({ region: stack.region, endpoint: s3.endpoint, credentials: stack.cliCredentials });
  stack.clients.push(client);
  await uploadFiles(files.map((f) => ({
    path: f.path,
    bucket: dep.bucket,
    key: `${dep.rawPrefix}${f.rel}`,
    contentType: f.path.endsWith('.gz') ? 'application/gzip' : 'application/x-ndjson',
  })), { endpoint: s3.endpoint, seed: opts.seed ?? 1, credentials: stack.cliCredentials, region: stack.region });
  if (opts.shuffle) events.objectsCreated(buffered.splice(0));
  stack.step(uploadedMessage(files.length, skipped, opts.dataDir, `s3://${dep.bucket}/${dep.rawPrefix}`));
  return { client, busEvents: () => busEvents };
}

/** One local file to upload. */
export interface UploadItem { readonly path: string; readonly bucket: string; readonly key: string; readonly contentType: string }

/** Concurrent uploads, as `aws s3 cp --recursive` makes them. */
const UPLOAD_CONCURRENCY = 4;
/** PutObject's size limit; larger files go up as multipart uploads. */
const MAX_PUT_BYTES = 5 * 1024 ** 3;
const UPLOAD_ATTEMPTS = 8;

/**
 * A silent SDK logger, like the default one, except that the default one still prints "An error was
 * encountered in a non-retryable streaming request." on the console for every failed streamed
 * request. uploadFiles retries those itself, and every failure that is not retried is thrown with
 * its context, so nothing is lost by staying silent.
 */
const SILENT_LOGGER = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Uploads the data files with the SDK, several at a time. A file up to 5 GiB is one streamed
 * PutObject (no part buffering, no client-side payload hashing: the SDK sends it `aws-chunked` with a
 * trailing CRC32). A stream cannot be replayed by the SDK's own retry, so a transient error (503
 * SlowDown, 5xx, reset) re-opens the file and sends it again, with jittered backoff. Larger files use
 * a multipart upload (lib-storage buffers each part, so its parts are retried by the SDK).
 */
export async function uploadFiles(
  items: UploadItem[], opts: { endpoint: string; seed: number; credentials?: LocalCredentialSet; region?: string },
): Promise<void> {
  const credentials = opts.credentials ?? CREDENTIALS;
  const region = opts.region ?? REGION;
  const streaming = new S3Client({
    region, endpoint: opts.endpoint, credentials, maxAttempts: 1, logger: SILENT_LOGGER,
  });
  const multipart = new S3Client({ region, endpoint: opts.endpoint, credentials });
  const rng = mulberry32(opts.seed);
  const one = async (item: UploadItem): Promise<void> => {
    const size = statSync(item.path).size;
    if (size > MAX_PUT_BYTES) {
      await new Upload({
        client: multipart,
        params: { Bucket: item.bucket, Key: item.key, Body: createReadStream(item.path), ContentType: item.contentType },
      }).done();
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await streaming.send(new PutObjectCommand({
          Bucket: item.bucket,
          Key: item.key,
          Body: createReadStream(item.path),
          ContentLength: size,
          ContentType: item.contentType,
        }));
        return;
      } catch (e) {
        if (attempt >= UPLOAD_ATTEMPTS || !isTransientAwsError(e)) {
          throw new Error(`uploading ${item.path} to s3://${item.bucket}/${item.key} failed: ${(e as Error).name}: ${(e as Error).message}`);
        }
        await sleep(Math.round(rng() * Math.min(1000, 20 * 2 ** attempt)));
      }
    }
  };
  try {
    await forEachLimit(items, UPLOAD_CONCURRENCY, one);
  } finally {
    streaming.destroy();
    multipart.destroy();
  }
}
