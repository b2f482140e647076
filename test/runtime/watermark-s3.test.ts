/**
 * putIfNewer against the embedded S3: an object deleted between the compare (HeadObject) and the
 * If-Match write is a lost race, re-read and retried, never an error.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { formatWatermark, putIfNewer } from '../../lambda-src/lib/watermark';
import { useLocalS3 } from '../support/local-s3';

const BUCKET = 'watermark-race';
const { newClient } = useLocalS3(BUCKET, 'watermark-s3');
let client: S3Client;
let other: S3Client;

beforeAll(() => {
  client = newClient();
  other = newClient();
});

test('the object is deleted after our read: the If-Match write loses, the re-read finds it absent and creates it', async () => {
  const key = 'results/state_counts/snapshot_date=2025-08-10/state_counts.json';
  const W1 = { submittedAt: '2025-08-10T10:00:00.000Z', queryExecutionId: 'q1' };
  const W2 = { submittedAt: '2025-08-10T10:00:05.000Z', queryExecutionId: 'q2' };
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'old', Metadata: { watermark: formatWatermark(W1) } }));
  // Another actor deletes the object just before our conditional PutObject reaches S3.
  const seen: Array<{ ifMatch?: string; status?: number; name?: string }> = [];
  let deleted = false;
  client.middlewareStack.add((next, ctx) => async (args) => {
    const input = args.input as { IfMatch?: string };
    if (ctx.commandName === 'PutObjectCommand' && input.IfMatch && !deleted) {
      deleted = true;
      await other.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    }
    try {
      return await next(args);
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (ctx.commandName === 'PutObjectCommand') seen.push({ ifMatch: input.IfMatch, status: e.$metadata?.httpStatusCode, name: e.name });
      throw err;
    }
  }, { step: 'initialize', name: 'deleteBeforeIfMatch' });
  const out = await putIfNewer(client, { bucket: BUCKET, key, body: 'new', contentType: 'application/json', watermark: W2, sleep: async () => undefined });
  expect(out.outcome).toBe('written');
  expect(deleted).toBe(true);
  // One failed conditional write (AWS answers 404 NoSuchKey; either way it is a lost race), then success.
  expect(seen).toHaveLength(1);
  expect([404, 412]).toContain(seen[0].status);
  const body = await (await other.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
  expect(body).toBe('new');
});
