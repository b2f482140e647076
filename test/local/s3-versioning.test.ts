/**
 * S3 Versioning of the embedded local S3, through the AWS SDK (docs/local-s3.md, "Versioning"):
 * versions and version ids, delete markers, reads and deletes by version id, DeleteObjects, copies of
 * a version, conditional writes against a delete marker, and the EventBridge notices.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketCommand,
  DeleteObjectCommand, DeleteObjectsCommand, GetBucketVersioningCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client, S3ServiceException, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { LocalCredentials } from '../../local/iam/credentials';
import { IamPolicies, type Principal } from '../../local/iam/index';
import { LocalS3, type ObjectCreatedNotice, type ObjectDeletedNotice } from '../../local/s3';
import { resolveTemplate, type CfnTemplate } from '../../local/template';

let root: string;
let s3: LocalS3;
let client: S3Client;
const created: ObjectCreatedNotice[] = [];
const deleted: ObjectDeletedNotice[] = [];

async function s3Error(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(S3ServiceException);
    return e as S3ServiceException;
  }
  throw new Error('expected an S3 error but the call succeeded');
}

const put = (Bucket: string, Key: string, Body: string, extra: Record<string, string> = {}) =>
  client.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }));
const text = async (Bucket: string, Key: string, VersionId?: string) =>
  (await client.send(new GetObjectCommand({ Bucket, Key, VersionId }))).Body!.transformToString();

let n = 0;
/** A new bucket with versioning Enabled (and EventBridge notices on). */
async function versionedBucket(): Promise<string> {
  const bucket = `versioned-${++n}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  s3.setEventBridgeEnabled(bucket, true);
  return bucket;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'local-s3-versions-'));
  s3 = await LocalS3.start({ rootDir: root });
  client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 's' } });
  s3.on('objectCreated', (x) => created.push(x));
  s3.on('objectDeleted', (x) => deleted.push(x));
});

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('bucket versioning status', () => {
  test('a new bucket reports no status; PutBucketVersioning Enabled, then Suspended', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'status-bucket' }));
    const before = await client.send(new GetBucketVersioningCommand({ Bucket: 'status-bucket' }));
    await client.send(new PutBucketVersioningCommand({ Bucket: 'status-bucket', VersioningConfiguration: { Status: 'Enabled' } }));
    const enabled = await client.send(new GetBucketVersioningCommand({ Bucket: 'status-bucket' }));
    await client.send(new PutBucketVersioningCommand({ Bucket: 'status-bucket', VersioningConfiguration: { Status: 'Suspended' } }));
    const suspended = await client.send(new GetBucketVersioningCommand({ Bucket: 'status-bucket' }));
    expect([before.Status, enabled.Status, suspended.Status]).toEqual([undefined, 'Enabled', 'Suspended']);
  });

  test('setVersioning (the template\'s VersioningConfiguration) turns versioning on', async () => {
    await s3.createBucket('template-bucket');
    await s3.setVersioning('template-bucket', 'Enabled');
    expect((await client.send(new GetBucketVersioningCommand({ Bucket: 'template-bucket' }))).Status).toBe('Enabled');
  });
});

describe('versioned bucket', () => {
  test('each PutObject creates a version; earlier versions stay readable by id', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    const v2 = await put(b, 'k.json', 'two');
    const head = await client.send(new HeadObjectCommand({ Bucket: b, Key: 'k.json' }));
    expect(v1.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(v2.VersionId).not.toBe(v1.VersionId);
    expect([await text(b, 'k.json'), head.VersionId, await text(b, 'k.json', v1.VersionId)]).toEqual(['two', v2.VersionId, 'one']);
  });

  test('DeleteObject without a version id creates a delete marker: GET is 404 NoSuchKey with x-amz-delete-marker', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    const del = await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json' }));
    const err = await s3Error(client.send(new GetObjectCommand({ Bucket: b, Key: 'k.json' })));
    const headers = (err.$response as { headers?: Record<string, string> } | undefined)?.headers ?? {};
    expect([del.DeleteMarker, del.VersionId === v1.VersionId, err.name, err.$metadata.httpStatusCode]).toEqual([true, false, 'NoSuchKey', 404]);
    expect([headers['x-amz-delete-marker'], headers['x-amz-version-id']]).toEqual(['true', del.VersionId]);
    // the noncurrent version is still there
    expect(await text(b, 'k.json', v1.VersionId)).toBe('one');
  });

  test('ListObjectsV2 lists current objects only (not keys whose current version is a delete marker)', async () => {
    const b = await versionedBucket();
    await put(b, 'a.json', '1');
    await put(b, 'a.json', '2');
    await put(b, 'b.json', '1');
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'b.json' }));
    const list = await client.send(new ListObjectsV2Command({ Bucket: b }));
    expect(list.Contents?.map((c) => [c.Key, c.Size])).toEqual([['a.json', 1]]);
  });

  test('GET/HEAD of a delete marker by version id is 405 MethodNotAllowed; an unknown id is 404 NoSuchVersion', async () => {
    const b = await versionedBucket();
    await put(b, 'k.json', 'one');
    const marker = await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json' }));
    const onMarker = await s3Error(client.send(new GetObjectCommand({ Bucket: b, Key: 'k.json', VersionId: marker.VersionId })));
    const headMarker = await s3Error(client.send(new HeadObjectCommand({ Bucket: b, Key: 'k.json', VersionId: marker.VersionId })));
    const unknown = await s3Error(client.send(new GetObjectCommand({ Bucket: b, Key: 'k.json', VersionId: 'A'.repeat(32) })));
    expect([onMarker.name, onMarker.$metadata.httpStatusCode, headMarker.$metadata.httpStatusCode, unknown.name, unknown.$metadata.httpStatusCode])
      .toEqual(['MethodNotAllowed', 405, 405, 'NoSuchVersion', 404]);
  });

  test('deleting the delete marker by id makes the previous version current again', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    const marker = await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json' }));
    const undo = await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json', VersionId: marker.VersionId }));
    const head = await client.send(new HeadObjectCommand({ Bucket: b, Key: 'k.json' }));
    expect([undo.DeleteMarker, undo.VersionId, head.VersionId, await text(b, 'k.json')]).toEqual([true, marker.VersionId, v1.VersionId, 'one']);
  });

  test('deleting the current version by id removes it for good and the previous one becomes current', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    const v2 = await put(b, 'k.json', 'two');
    const del = await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json', VersionId: v2.VersionId }));
    const gone = await s3Error(client.send(new GetObjectCommand({ Bucket: b, Key: 'k.json', VersionId: v2.VersionId })));
    expect([del.DeleteMarker, del.VersionId, gone.name, await text(b, 'k.json')]).toEqual([undefined, v2.VersionId, 'NoSuchVersion', 'one']);
    expect((await client.send(new HeadObjectCommand({ Bucket: b, Key: 'k.json' }))).VersionId).toBe(v1.VersionId);
  });

  test('deleting a noncurrent version by id leaves the current one', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    await put(b, 'k.json', 'two');
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json', VersionId: v1.VersionId }));
    const gone = await s3Error(client.send(new GetObjectCommand({ Bucket: b, Key: 'k.json', VersionId: v1.VersionId })));
    expect([gone.name, await text(b, 'k.json')]).toEqual(['NoSuchVersion', 'two']);
  });

  test('DeleteObjects reports DeleteMarker/DeleteMarkerVersionId, and the version deleted by id', async () => {
    const b = await versionedBucket();
    await put(b, 'a.json', '1');
    const vb = await put(b, 'b.json', '1');
    const r = await client.send(new DeleteObjectsCommand({
      Bucket: b, Delete: { Objects: [{ Key: 'a.json' }, { Key: 'b.json', VersionId: vb.VersionId }] },
    }));
    const a = r.Deleted?.find((d) => d.Key === 'a.json');
    const bb = r.Deleted?.find((d) => d.Key === 'b.json');
    expect([a?.DeleteMarker, typeof a?.DeleteMarkerVersionId, bb?.VersionId, bb?.DeleteMarker]).toEqual([true, 'string', vb.VersionId, undefined]);
    expect((await client.send(new ListObjectsV2Command({ Bucket: b }))).KeyCount).toBe(0);
  });

  test('CopyObject copies the version named in x-amz-copy-source and reports it', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'src.json', 'one');
    await put(b, 'src.json', 'two');
    const copy = await client.send(new CopyObjectCommand({ Bucket: b, Key: 'dst.json', CopySource: `${b}/src.json?versionId=${v1.VersionId}` }));
    expect([copy.CopySourceVersionId, typeof copy.VersionId, await text(b, 'dst.json')]).toEqual([v1.VersionId, 'string', 'one']);
  });

  test('CompleteMultipartUpload creates a version', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'mp.bin', 'one');
    const up = await client.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'mp.bin' }));
    const part = await client.send(new UploadPartCommand({ Bucket: b, Key: 'mp.bin', UploadId: up.UploadId, PartNumber: 1, Body: 'two' }));
    const done = await client.send(new CompleteMultipartUploadCommand({
      Bucket: b, Key: 'mp.bin', UploadId: up.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
    }));
    expect([typeof done.VersionId, done.VersionId === v1.VersionId, await text(b, 'mp.bin'), await text(b, 'mp.bin', v1.VersionId)])
      .toEqual(['string', false, 'two', 'one']);
  });

  test('conditional writes see a current delete marker as no object: If-None-Match succeeds, If-Match is 404 NoSuchKey', async () => {
    const b = await versionedBucket();
    await put(b, 'k.json', 'one');
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json' }));
    const ifMatch = await s3Error(put(b, 'k.json', 'x', { IfMatch: '"0"' }));
    const created1 = await put(b, 'k.json', 'two', { IfNoneMatch: '*' });
    const again = await s3Error(put(b, 'k.json', 'three', { IfNoneMatch: '*' }));
    expect([ifMatch.name, typeof created1.VersionId, again.$metadata.httpStatusCode, await text(b, 'k.json')])
      .toEqual(['NoSuchKey', 'string', 412, 'two']);
  });

  test('a conditional write (If-Match) keeps the version it replaces as noncurrent, once', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    const v2 = await put(b, 'k.json', 'two', { IfMatch: v1.ETag! });
    const r = await client.send(new ListObjectVersionsCommand({ Bucket: b }));
    expect(r.Versions?.map((v) => [v.VersionId, v.IsLatest])).toEqual([[v2.VersionId, true], [v1.VersionId, false]]);
    expect(await text(b, 'k.json', v1.VersionId)).toBe('one');
  });

  test('a write that cannot be placed (a key clashing with a prefix) leaves the versions as they were', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'dir/a.json', 'one');
    const clashPrefix = await s3Error(put(b, 'dir', 'x'));
    const old = await put(b, 'old.json', '1');
    const cur = await put(b, 'old.json', '2');
    const clashObject = await s3Error(put(b, 'old.json/x', 'x'));
    const r = await client.send(new ListObjectVersionsCommand({ Bucket: b }));
    expect([clashPrefix.name, clashObject.name]).toEqual(['InvalidArgument', 'InvalidArgument']);
    expect(r.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([
      ['dir/a.json', v1.VersionId, true], ['old.json', cur.VersionId, true], ['old.json', old.VersionId, false],
    ]);
    expect(r.DeleteMarkers ?? []).toEqual([]);
    // a key written once and never replaced has no version index: its bucket empties with one delete by id
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'dir/a.json', VersionId: v1.VersionId }));
    for (const v of [cur, old]) await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'old.json', VersionId: v.VersionId }));
    await client.send(new DeleteBucketCommand({ Bucket: b }));
  });

  test('a bucket holding only noncurrent versions or delete markers is not empty', async () => {
    const b = await versionedBucket();
    await put(b, 'k.json', 'one');
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json' }));
    const err = await s3Error(client.send(new DeleteBucketCommand({ Bucket: b })));
    expect([err.name, err.$metadata.httpStatusCode]).toEqual(['BucketNotEmpty', 409]);
  });

  test('once every version and delete marker of its keys is deleted by id, the bucket is empty again', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    const marker = await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json' }));
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json', VersionId: marker.VersionId }));
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json', VersionId: v1.VersionId }));
    await client.send(new DeleteBucketCommand({ Bucket: b }));
  });

  test('the notices carry version ids: Object Created, Delete Marker Created, Permanently Deleted', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    const marker = await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json' }));
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'k.json', VersionId: v1.VersionId }));
    expect(created.filter((c) => c.bucket === b).map((c) => c.versionId)).toEqual([v1.VersionId]);
    expect(deleted.filter((d) => d.bucket === b).map((d) => [d.deletionType, d.versionId])).toEqual([
      ['Delete Marker Created', marker.VersionId],
      ['Permanently Deleted', v1.VersionId],
    ]);
  });

  test('ListObjectVersions: versions and delete markers, keys in order and newest first, IsLatest', async () => {
    const b = await versionedBucket();
    const a1 = await put(b, 'a.json', '1');
    const a2 = await put(b, 'a.json', '22');
    const b1 = await put(b, 'b.json', '1');
    const bm = await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'b.json' }));
    const r = await client.send(new ListObjectVersionsCommand({ Bucket: b }));
    expect(r.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size])).toEqual([
      ['a.json', a2.VersionId, true, 2], ['a.json', a1.VersionId, false, 1], ['b.json', b1.VersionId, false, 1],
    ]);
    expect(r.DeleteMarkers?.map((m) => [m.Key, m.VersionId, m.IsLatest])).toEqual([['b.json', bm.VersionId, true]]);
  });

  test('ListObjectVersions pages with key-marker / version-id-marker and groups common prefixes', async () => {
    const b = await versionedBucket();
    for (const body of ['1', '2', '3']) await put(b, 'k.json', body);
    await put(b, 'dir/x.json', 'x');
    await client.send(new DeleteObjectCommand({ Bucket: b, Key: 'dir/x.json' }));
    const seen: string[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await client.send(new ListObjectVersionsCommand({ Bucket: b, MaxKeys: 2, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
      for (const v of [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])]) seen.push(`${v.Key}@${v.VersionId}`);
      if (!r.IsTruncated) break;
      keyMarker = r.NextKeyMarker;
      versionIdMarker = r.NextVersionIdMarker;
    }
    const all = await client.send(new ListObjectVersionsCommand({ Bucket: b }));
    const grouped = await client.send(new ListObjectVersionsCommand({ Bucket: b, Delimiter: '/' }));
    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(new Set([...(all.Versions ?? []), ...(all.DeleteMarkers ?? [])].map((v) => `${v.Key}@${v.VersionId}`)));
    expect([grouped.CommonPrefixes?.map((p) => p.Prefix), grouped.Versions?.length, grouped.DeleteMarkers]).toEqual([['dir/'], 3, undefined]);
  });

  test('Suspended: new writes are the `null` version, replacing the previous `null` one', async () => {
    const b = await versionedBucket();
    const v1 = await put(b, 'k.json', 'one');
    await client.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }));
    const n1 = await put(b, 'k.json', 'two');
    const n2 = await put(b, 'k.json', 'three');
    expect([n1.VersionId, n2.VersionId, await text(b, 'k.json', 'null'), await text(b, 'k.json', v1.VersionId)])
      .toEqual(['null', 'null', 'three', 'one']);
  });
});

describe('unversioned bucket (unchanged)', () => {
  test('no version id on writes and reads; a delete removes the object; the notice is Permanently Deleted without a version', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'plain-bucket' }));
    s3.setEventBridgeEnabled('plain-bucket', true);
    const p = await put('plain-bucket', 'k.json', 'one');
    const head = await client.send(new HeadObjectCommand({ Bucket: 'plain-bucket', Key: 'k.json' }));
    const del = await client.send(new DeleteObjectCommand({ Bucket: 'plain-bucket', Key: 'k.json' }));
    const err = await s3Error(client.send(new GetObjectCommand({ Bucket: 'plain-bucket', Key: 'k.json' })));
    const notice = deleted.filter((d) => d.bucket === 'plain-bucket');
    expect([p.VersionId, head.VersionId, del.DeleteMarker, err.name]).toEqual([undefined, undefined, undefined, 'NoSuchKey']);
    expect(notice.map((d) => [d.deletionType, d.versionId])).toEqual([['Permanently Deleted', undefined]]);
    await client.send(new DeleteBucketCommand({ Bucket: 'plain-bucket' }));
  });

  test('a version id other than null is 400 InvalidArgument; versionId=null reads the object', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'plain-bucket2' }));
    await put('plain-bucket2', 'k.json', 'one');
    const err = await s3Error(client.send(new GetObjectCommand({ Bucket: 'plain-bucket2', Key: 'k.json', VersionId: 'A'.repeat(32) })));
    expect([err.name, err.$metadata.httpStatusCode, await text('plain-bucket2', 'k.json', 'null')]).toEqual(['InvalidArgument', 400, 'one']);
  });
});

describe('IAM on versioned requests (s3:GetObjectVersion, s3:DeleteObjectVersion)', () => {
  const BUCKET = 'iam-versioned';
  const TEMPLATE: CfnTemplate = {
    Resources: {
      Data: { Type: 'AWS::S3::Bucket', Properties: { BucketName: BUCKET, VersioningConfiguration: { Status: 'Enabled' } } },
      Fn: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: 'fn',
          AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }] },
        },
      },
      // the current version only: no s3:GetObjectVersion / s3:DeleteObjectVersion
      FnPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'FnPolicy',
          Roles: [{ Ref: 'Fn' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{
              Effect: 'Allow',
              Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket'],
              Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
            }],
          },
        },
      },
    },
  };
  let iamRoot: string;
  let iamS3: LocalS3;
  let fn: S3Client;

  beforeAll(async () => {
    const tpl = resolveTemplate(TEMPLATE, { region: 'us-east-1' });
    const policies = IamPolicies.fromTemplate(tpl, { account: '000000000000', region: 'us-east-1' });
    const credentials = new LocalCredentials('000000000000');
    iamRoot = mkdtempSync(join(tmpdir(), 'local-s3-versions-iam-'));
    iamS3 = await LocalS3.start({ rootDir: iamRoot, iam: { policies, credentials, region: 'us-east-1' } });
    await iamS3.createBucket(BUCKET);
    await iamS3.setVersioning(BUCKET, 'Enabled');
    const principal: Principal = { kind: 'role', arn: tpl.arn('Fn'), account: '000000000000', sessionName: 'fn' };
    fn = new S3Client({ endpoint: iamS3.endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: credentials.for(principal) });
  });

  afterAll(async () => {
    fn?.destroy();
    await iamS3?.close();
    rmSync(iamRoot, { recursive: true, force: true });
  });

  test('GetObject/DeleteObject with a version id need the *Version actions; without one they do not', async () => {
    const v1 = await fn.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k.json', Body: 'one' }));
    const current = await (await fn.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k.json' }))).Body!.transformToString();
    const get = await s3Error(fn.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k.json', VersionId: v1.VersionId })));
    const del = await s3Error(fn.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'k.json', VersionId: v1.VersionId })));
    const batch = await fn.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'k.json', VersionId: v1.VersionId }] } }));
    const marker = await fn.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'k.json' }));
    expect([current, get.name, del.name, batch.Errors?.map((e) => [e.Code, e.VersionId]), marker.DeleteMarker])
      .toEqual(['one', 'AccessDenied', 'AccessDenied', [['AccessDenied', v1.VersionId]], true]);
  });
});
