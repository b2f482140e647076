/**
 * A key with many versions in the embedded local S3 (docs/local-s3.md, "Versioning"): its oldest
 * noncurrent versions are sealed into chunk files, so a new version rewrites a bounded index; every
 * version stays listed, readable and deletable by id, also from a second endpoint over the same folder
 * (whose writes the first endpoint sees: its in-memory copy of an index is checked against the file).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand,
  PutBucketVersioningCommand, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { LocalS3 } from '../../local/s3';
import { SEAL_SIZE } from '../../local/s3/store-versions-index';

let root: string;
let s3: LocalS3;
let client: S3Client;
const clientOf = (endpoint: string) =>
  new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 's' } });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'local-s3-many-versions-'));
  s3 = await LocalS3.start({ rootDir: root });
  client = clientOf(s3.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

const put = async (Bucket: string, Body: string) => (await client.send(new PutObjectCommand({ Bucket, Key: 'k.json', Body }))).VersionId;
const text = async (c: S3Client, Bucket: string, VersionId?: string) =>
  (await c.send(new GetObjectCommand({ Bucket, Key: 'k.json', VersionId }))).Body!.transformToString();
const listed = async (c: S3Client, Bucket: string) => {
  const r = await c.send(new ListObjectVersionsCommand({ Bucket }));
  return (r.Versions ?? []).map((v) => v.VersionId);
};
/** The `older` entries of the key's index file (the versions not sealed into chunks). */
function indexFileOlder(bucket: string): number {
  const dir = join(root, '.s3-meta', bucket, 'versions');
  const [shard] = readdirSync(dir);
  const file = readdirSync(join(dir, shard)).find((f) => f.endsWith('.json'))!;
  return (JSON.parse(readFileSync(join(dir, shard, file), 'utf8')) as { older: unknown[] }).older.length;
}

async function bucketWithVersions(name: string, n: number): Promise<Array<string | undefined>> {
  await client.send(new CreateBucketCommand({ Bucket: name }));
  await client.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  const ids: Array<string | undefined> = [];
  for (let i = 0; i < n; i++) ids.push(await put(name, `v${i}`));
  return ids;
}

test('a key with many versions keeps a bounded index file; every version is listed newest first and readable by id', async () => {
  const n = 2 * SEAL_SIZE + 50;
  const ids = await bucketWithVersions('many-a', n);
  expect(indexFileOlder('many-a')).toBeLessThan(2 * SEAL_SIZE);
  expect(await listed(client, 'many-a')).toEqual([...ids].reverse());
  expect([await text(client, 'many-a', ids[0]), await text(client, 'many-a', ids[SEAL_SIZE]), await text(client, 'many-a')])
    .toEqual(['v0', `v${SEAL_SIZE}`, `v${n - 1}`]);
  // a second endpoint over the same folder reads the sealed versions from disk
  const other = await LocalS3.start({ rootDir: root });
  const c2 = clientOf(other.endpoint);
  try {
    expect(await listed(c2, 'many-a')).toEqual([...ids].reverse());
    expect(await text(c2, 'many-a', ids[1])).toBe('v1');
  } finally {
    c2.destroy();
    await other.close();
  }
});

test('a key written alternately by two endpoints over the same folder keeps every version (each reads the other\'s writes)', async () => {
  await client.send(new CreateBucketCommand({ Bucket: 'two-endpoints' }));
  await client.send(new PutBucketVersioningCommand({ Bucket: 'two-endpoints', VersioningConfiguration: { Status: 'Enabled' } }));
  const other = await LocalS3.start({ rootDir: root });
  const c2 = clientOf(other.endpoint);
  try {
    const v1 = await put('two-endpoints', '1');
    const v2 = await put('two-endpoints', '2');
    const v3 = (await c2.send(new PutObjectCommand({ Bucket: 'two-endpoints', Key: 'k.json', Body: '3' }))).VersionId;
    const v4 = await put('two-endpoints', '4');
    expect(await listed(client, 'two-endpoints')).toEqual([v4, v3, v2, v1]);
    expect(await text(client, 'two-endpoints', v2)).toBe('2');
  } finally {
    c2.destroy();
    await other.close();
  }
});

test('deleting sealed versions by id removes just them; once all are deleted the bucket is empty', async () => {
  const ids = await bucketWithVersions('many-b', 2 * SEAL_SIZE + 10);
  await client.send(new DeleteObjectCommand({ Bucket: 'many-b', Key: 'k.json', VersionId: ids[3] }));
  const left = ids.filter((_, i) => i !== 3);
  expect(await listed(client, 'many-b')).toEqual([...left].reverse());
  expect(await text(client, 'many-b', ids[2])).toBe('v2');
  for (const VersionId of left) await client.send(new DeleteObjectCommand({ Bucket: 'many-b', Key: 'k.json', VersionId }));
  expect(await listed(client, 'many-b')).toEqual([]);
  await client.send(new DeleteBucketCommand({ Bucket: 'many-b' }));
});

test('Suspended: a write replaces the `null` version even when it is among the sealed ones', async () => {
  await client.send(new CreateBucketCommand({ Bucket: 'many-c' }));
  await put('many-c', 'null-1');
  await client.send(new PutBucketVersioningCommand({ Bucket: 'many-c', VersioningConfiguration: { Status: 'Enabled' } }));
  const ids: Array<string | undefined> = [];
  for (let i = 0; i < 2 * SEAL_SIZE + 5; i++) ids.push(await put('many-c', `v${i}`));
  await client.send(new PutBucketVersioningCommand({ Bucket: 'many-c', VersioningConfiguration: { Status: 'Suspended' } }));
  await put('many-c', 'null-2');
  expect(await listed(client, 'many-c')).toEqual(['null', ...[...ids].reverse()]);
  expect([await text(client, 'many-c', 'null'), await text(client, 'many-c', ids[0])]).toEqual(['null-2', 'v0']);
});
