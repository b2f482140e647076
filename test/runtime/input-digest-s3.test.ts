/**
 * Issue #16, "query tokens and ABA": the input digest (and so the query token) of a data state never
 * repeats an earlier one, against the embedded S3: a rollback A→B→A of a validated file, or a
 * rewrite with identical bytes, is a new computation — not A's old query with A's old submission
 * time, whose results every compare-and-swap would refuse as stale (production would keep B).
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { inputDigest, requestToken } from '../../lambda-src/athena/client';
import { useLocalS3 } from '../support/local-s3';

const BUCKET = 'digest';
const PREFIX = 'validated/snapshot_date=2025-08-10/';
const { newClient } = useLocalS3(BUCKET, 'input-digest');
let client: S3Client;
beforeAll(() => {
  client = newClient();
});

const put = (body: string) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}part.jsonl`, Body: body }));
const token = (digest: string) => requestToken({ query: 'state_counts', bucket: BUCKET, snapshotDate: '2025-08-10', inputDigest: digest, computation: 'c' });
const tick = () => new Promise((r) => setTimeout(r, 1100)); // LastModified has one-second resolution

test('rollback A→B→A: the second A is a new computation (new token), B and A differ', async () => {
  await put('{"a":1}\n');
  const a1 = await inputDigest(client, BUCKET, PREFIX);
  expect(await inputDigest(client, BUCKET, PREFIX)).toBe(a1); // unchanged data: same computation (coalescing)
  await tick();
  await put('{"b":2}\n');
  const b = await inputDigest(client, BUCKET, PREFIX);
  await tick();
  await put('{"a":1}\n'); // the same bytes, the same ETag as the first A
  const a2 = await inputDigest(client, BUCKET, PREFIX);
  expect(new Set([a1, b, a2]).size).toBe(3);
  expect(token(a2)).not.toBe(token(a1));
});

test('a rewrite with identical bytes (a metadata-only change re-validated) is a new computation', async () => {
  await put('{"x":1}\n');
  const first = await inputDigest(client, BUCKET, PREFIX);
  await tick();
  await put('{"x":1}\n');
  expect(await inputDigest(client, BUCKET, PREFIX)).not.toBe(first);
});
