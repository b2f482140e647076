/**
 * The cleanup of a promotion (lambda-src/extract/index.ts, removeOlderFiles): the partition files of
 * older computations are deleted, a newer computation's are kept, and the decision costs one
 * HeadObject per computation, not one per file. Against the embedded S3.
 */
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { curatedPartition, promoteExtract, stagingPrefix } from '../../lambda-src/extract';
import { loadConfig } from '../../lambda-src/lib/config';
import { formatWatermark, WATERMARK_METADATA_KEY, type Watermark } from '../../lambda-src/lib/watermark';
import { useLocalS3 } from '../support/local-s3';

const BUCKET = 'cleanup';
const config = loadConfig({ DATA_BUCKET: BUCKET });
const D = '2025-08-10';
const partition = curatedPartition(config, D);
const { newClient, emptyBucket } = useLocalS3(BUCKET, 'extract-cleanup');

const at = (minute: number, id: string): Watermark => ({ submittedAt: `2025-08-10T10:${String(minute).padStart(2, '0')}:00.000Z`, queryExecutionId: id });
const OLD1 = at(0, 'q-old1');
const OLD2 = at(1, 'q-old2');
const OURS = at(5, 'q-ours');
const NEWER = at(9, 'q-newer');

/** `n` files of a computation in the partition, as a promotion copies them (with its watermark). */
async function copies(c: S3Client, w: Watermark, n: number): Promise<string[]> {
  const keys = Array.from({ length: n }, (_, i) => `${partition}${w.queryExecutionId}_part-${i}`);
  for (const key of keys) {
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key, Metadata: { [WATERMARK_METADATA_KEY]: formatWatermark(w) } }));
  }
  return keys;
}

async function keysUnder(c: S3Client, prefix: string): Promise<string[]> {
  const r = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

beforeEach(() => emptyBucket());

test('older computations\' files and strays go, a newer computation\'s stay; one HeadObject per computation', async () => {
  const c = newClient();
  await copies(c, OLD1, 4);
  await copies(c, OLD2, 3);
  const newer = await copies(c, NEWER, 3);
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${partition}stray.parquet`, Body: 'x' }));
  const staging = stagingPrefix(config, D, 'c'.repeat(64));
  for (const f of ['a', 'b']) await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${staging}${f}`, Body: f }));

  const heads: string[] = [];
  const counted = newClient();
  counted.middlewareStack.add((next, ctx) => async (args) => {
    if (ctx.commandName === 'HeadObjectCommand') heads.push(String((args.input as { Key: string }).Key));
    return next(args);
  }, { step: 'initialize', name: 'count-heads' });
  // A newer computation does not hold the claim yet (it copied before claiming): ours claims and cleans up.
  const result = await promoteExtract({ s3: counted, config, sleep: async () => undefined }, D, staging, OURS);

  expect(result).toMatchObject({ promoted: true, extractFiles: 2 });
  expect(await keysUnder(c, partition)).toEqual([...newer, `${partition}q-ours_a`, `${partition}q-ours_b`].sort());
  const partitionHeads = heads.filter((k) => k.startsWith(partition));
  // q-old1, q-old2, q-newer once each, the stray on its own.
  expect(partitionHeads.sort()).toEqual([`${partition}q-newer_part-0`, `${partition}q-old1_part-0`, `${partition}q-old2_part-0`, `${partition}stray.parquet`]);
});

test('a snapshot\'s first promotion costs one listing of staging and of the partition, the claim\'s create, the copies and two claim checks', async () => {
  const c = newClient();
  const staging = stagingPrefix(config, D, 'd'.repeat(64));
  for (const f of ['a', 'b', 'manifest.csv']) await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${staging}${f}`, Body: f }));
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${staging}_SUCCESS`, Body: '' }));
  const requests: string[] = [];
  const counted = newClient();
  counted.middlewareStack.add((next, ctx) => async (args) => {
    const input = args.input as { Key?: string; Prefix?: string };
    requests.push(`${String(ctx.commandName).replace('Command', '')} ${input.Key ?? input.Prefix ?? ''}`);
    return next(args);
  }, { step: 'initialize', name: 'count-requests' });
  const result = await promoteExtract({ s3: counted, config, sleep: async () => undefined }, D, staging, OURS);

  expect(result).toEqual({ promoted: true, extractPrefix: `${partition}q-ours_`, extractFiles: 3 });
  const claim = `${config.curatedPrefix}_watermarks/snapshot_date=${D}.json`;
  expect(requests).toEqual([
    `ListObjectsV2 ${staging}`,
    `PutObject ${claim}`,
    `CopyObject ${partition}q-ours_a`,
    `CopyObject ${partition}q-ours_b`,
    `CopyObject ${partition}q-ours_manifest.csv`,
    `HeadObject ${claim}`,
    `ListObjectsV2 ${partition}`,
    'DeleteObjects ',
    `HeadObject ${claim}`,
  ]);
  // Every staged object is gone, the `_` marker too.
  expect(await keysUnder(c, staging)).toEqual([]);
});

test('a retry that finds only part of the staging folder (an earlier cleanup stopped half way) counts every file of ours in the partition', async () => {
  const c = newClient();
  const staging = stagingPrefix(config, D, 'e'.repeat(64));
  for (const f of ['a', 'b', 'c']) await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${staging}${f}`, Body: f }));
  const deps = { s3: c, config, sleep: async () => undefined };
  expect(await promoteExtract(deps, D, staging, OURS)).toMatchObject({ promoted: true, extractFiles: 3 });
  // The first attempt timed out after copying; its staging cleanup removed 'a' and 'b' only: the retry sees 'c'.
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${staging}c`, Body: 'c' }));
  expect(await promoteExtract(deps, D, staging, OURS)).toMatchObject({ promoted: true, extractFiles: 3 });
  expect(await keysUnder(c, staging)).toEqual([]);
});
