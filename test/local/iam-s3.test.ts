/**
 * The local S3 endpoint enforcing IAM: real requests signed by the SDK with the credentials of
 * template roles, authorized against the identity policies, the bucket policy and the key policy of
 * a small template written for the cases below.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand,
  GetBucketLocationCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand,
  S3Client, UploadPartCommand, AbortMultipartUploadCommand, ListMultipartUploadsCommand,
} from '@aws-sdk/client-s3';
import { LocalCredentials } from '../../local/iam/credentials';
import { IamPolicies, type Principal } from '../../local/iam/index';
import { bucketSecurityOf, LocalS3, type AccessDeniedNotice } from '../../local/s3';
import { resolveTemplate, type CfnTemplate } from '../../local/template';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const DATA = 'iam-data';
const LOCKED = 'iam-locked';
const PLAIN = 'iam-plain';

const allow = (Action: string | string[], Resource: unknown, Condition?: unknown) => ({ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) });
const keyArn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const role = (name: string) => ({ Type: 'AWS::IAM::Role', Properties: { RoleName: name, AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }] } } });
const policy = (roleId: string, statements: unknown[]) => ({
  Type: 'AWS::IAM::Policy',
  Properties: { PolicyName: `${roleId}Policy`, Roles: [{ Ref: roleId }], PolicyDocument: { Version: '2012-10-17', Statement: statements } },
});
const rootKeyPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] };

const TEMPLATE: CfnTemplate = {
  Resources: {
    Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: rootKeyPolicy } },
    // a key whose policy does not delegate to IAM: only the Writer role's own grant is not enough
    LockedKey: {
      Type: 'AWS::KMS::Key',
      Properties: { KeyPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: { 'Fn::GetAtt': ['Admin', 'Arn'] } }, Action: 'kms:*', Resource: '*' }] } },
    },
    Data: {
      Type: 'AWS::S3::Bucket',
      Properties: {
        BucketName: DATA,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn('Key') } }] },
      },
    },
    DataPolicy: {
      Type: 'AWS::S3::BucketPolicy',
      Properties: {
        Bucket: { Ref: 'Data' },
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: [`arn:aws:s3:::${DATA}`, `arn:aws:s3:::${DATA}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
            { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: [`arn:aws:s3:::${DATA}`, `arn:aws:s3:::${DATA}/*`], Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } },
            { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${DATA}/secret/*` },
          ],
        },
      },
    },
    Locked: {
      Type: 'AWS::S3::Bucket',
      Properties: {
        BucketName: LOCKED,
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn('LockedKey') } }] },
      },
    },
    Plain: { Type: 'AWS::S3::Bucket', Properties: { BucketName: PLAIN } },
    Admin: role('admin'),
    Reader: role('reader'),
    ReaderPolicy: policy('Reader', [
      allow('s3:GetObject', `arn:aws:s3:::${DATA}/in/*`),
      allow('kms:Decrypt', keyArn('Key')),
    ]),
    Writer: role('writer'),
    WriterPolicy: policy('Writer', [
      allow(['s3:GetObject', 's3:ListBucket'], [`arn:aws:s3:::${DATA}`, `arn:aws:s3:::${DATA}/*`]),
      allow(['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:DeleteObject'], [`arn:aws:s3:::${DATA}/out/*`, `arn:aws:s3:::${DATA}/acl/*`]),
      allow('s3:PutObjectAcl', `arn:aws:s3:::${DATA}/acl/*`),
      allow('s3:GetBucketLocation', `arn:aws:s3:::${DATA}`),
      allow(['s3:PutObject', 's3:GetObject'], `arn:aws:s3:::${LOCKED}/*`),
      allow(['s3:PutObject', 's3:GetObject', 's3:ListBucket'], [`arn:aws:s3:::${PLAIN}`, `arn:aws:s3:::${PLAIN}/*`]),
      allow(['kms:GenerateDataKey', 'kms:Decrypt'], '*'),
    ]),
    // s3 grants only: every read and write of an SSE-KMS object needs the key too
    NoKms: role('nokms'),
    NoKmsPolicy: policy('NoKms', [allow(['s3:GetObject', 's3:PutObject', 's3:ListBucket'], [`arn:aws:s3:::${DATA}`, `arn:aws:s3:::${DATA}/*`])]),
    // lists only under in/ (the condition S3 checks against the request's prefix)
    Lister: role('lister'),
    ListerPolicy: policy('Lister', [
      allow('s3:ListBucket', `arn:aws:s3:::${DATA}`, { StringLike: { 's3:prefix': ['in/*'] } }),
      allow('s3:GetObject', `arn:aws:s3:::${DATA}/in/*`),
    ]),
    // KMS grant pinned to what S3 sends KMS with an S3 Bucket Key: the bucket ARN as encryption context, via S3
    Pinned: role('pinned'),
    PinnedPolicy: policy('Pinned', [
      allow('s3:GetObject', `arn:aws:s3:::${DATA}/in/*`),
      allow('kms:Decrypt', keyArn('Key'), {
        StringEquals: { 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${DATA}`, 'kms:ViaService': `s3.${REGION}.amazonaws.com` },
      }),
    ]),
    PinnedToObject: role('pinned-object'),
    PinnedToObjectPolicy: policy('PinnedToObject', [
      allow('s3:GetObject', `arn:aws:s3:::${DATA}/in/*`),
      allow('kms:Decrypt', keyArn('Key'), { StringEquals: { 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${DATA}/in/a.txt` } }),
    ]),
  },
};

const tpl = resolveTemplate(TEMPLATE, { region: REGION });
const policies = IamPolicies.fromTemplate(tpl, { account: ACCOUNT, region: REGION });
const credentials = new LocalCredentials(ACCOUNT);
const rolePrincipal = (id: string): Principal => ({ kind: 'role', arn: tpl.arn(id), account: ACCOUNT, sessionName: `fn-${id}` });

let root: string;
let s3: LocalS3;
const denials: AccessDeniedNotice[] = [];
const clients: S3Client[] = [];

function client(principal: Principal | 'root'): S3Client {
  const c = new S3Client({
    region: REGION,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: credentials.for(principal === 'root' ? credentials.root : principal),
  });
  clients.push(c);
  return c;
}

/** The error a promise rejects with: SDK error name, HTTP status and message. */
async function failure(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
  throw new Error('expected the request to fail');
}

function rawRequest(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${s3.endpoint}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

let rootClient: S3Client;
let reader: S3Client;
let writer: S3Client;
let nokms: S3Client;
let lister: S3Client;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'iam-s3-'));
  s3 = await LocalS3.start({ rootDir: join(root, 's3'), iam: { policies, credentials, region: REGION } });
  s3.on('accessDenied', (d) => denials.push(d));
  for (const b of tpl.buckets()) {
    await s3.createBucket(b.name);
    s3.setBucketSecurity(b.name, bucketSecurityOf(b.properties, { account: ACCOUNT, region: REGION }));
  }
  rootClient = client('root');
  reader = client(rolePrincipal('Reader'));
  writer = client(rolePrincipal('Writer'));
  nokms = client(rolePrincipal('NoKms'));
  lister = client(rolePrincipal('Lister'));
  for (const key of ['in/a.txt', 'secret/s.txt', 'other/o.txt']) {
    await rootClient.send(new PutObjectCommand({ Bucket: DATA, Key: key, Body: `body of ${key}` }));
  }
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await s3.close();
  rmSync(root, { recursive: true, force: true });
});

describe('authentication', () => {
  test('an access key the local credentials did not issue is InvalidAccessKeyId (403)', async () => {
    const stranger = new S3Client({ region: REGION, endpoint: s3.endpoint, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: 'AKIANOTISSUED0000000', secretAccessKey: 'x' } });
    clients.push(stranger);
    const f = await failure(stranger.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/a.txt' })));
    expect(f).toMatchObject({ name: 'InvalidAccessKeyId', status: 403 });
  });

  test('a signature made with another secret is SignatureDoesNotMatch (403)', async () => {
    const good = credentials.for(rolePrincipal('Reader'));
    const forged = new S3Client({ region: REGION, endpoint: s3.endpoint, forcePathStyle: true, maxAttempts: 1, credentials: { ...good, secretAccessKey: 'not-the-secret' } });
    clients.push(forged);
    const f = await failure(forged.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/a.txt' })));
    expect(f).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
  });

  test('a role\'s credentials without its session token are refused', async () => {
    const good = credentials.for(rolePrincipal('Reader'));
    const tokenless = new S3Client({
      region: REGION,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: good.accessKeyId, secretAccessKey: good.secretAccessKey },
    });
    clients.push(tokenless);
    expect(await failure(tokenless.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/a.txt' })))).toMatchObject({ name: 'InvalidToken', status: 400 });
  });

  test('an unsigned request is anonymous: 403 AccessDenied with S3\'s XML error body', async () => {
    const res = await rawRequest('GET', `/${DATA}/in/a.txt`);
    expect(res.status).toBe(403);
    expect(res.body).toMatch(/<Error><Code>AccessDenied<\/Code><Message>Access Denied<\/Message>.*<RequestId>[0-9A-F]{16}<\/RequestId><HostId>[^<]+<\/HostId><\/Error>/);
  });

  test('presigned URLs: the X-Amz-Credential names the caller, the signature and the expiry are checked', async () => {
    const signer = await (reader.config.signer as unknown as () => Promise<{ presign: (r: unknown, o: unknown) => Promise<any> }>)();
    const url = new URL(s3.endpoint);
    // as @aws-sdk/s3-request-presigner does it: the client's signer, an UNSIGNED-PAYLOAD hash
    const presign = async (key: string, opts: Record<string, unknown>) => {
      const signed = await signer.presign({
        method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `/${DATA}/${key}`, query: {}, headers: { 'host': url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      }, opts);
      const q = new URLSearchParams(signed.query as Record<string, string>).toString();
      return `${signed.path}?${q}`;
    };
    const ok = await rawRequest('GET', await presign('in/a.txt', { expiresIn: 60 }));
    expect(ok).toEqual({ status: 200, body: 'body of in/a.txt' });
    const denied = await rawRequest('GET', await presign('other/o.txt', { expiresIn: 60 }));
    expect(denied.status).toBe(403);
    expect(denied.body).toMatch(/<Code>AccessDenied<\/Code><Message>User: [^<]+s3:GetObject on resource: &quot;arn:aws:s3:::iam-data\/other\/o.txt&quot;/);
    const tampered = (await presign('in/a.txt', { expiresIn: 60 })).replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000');
    expect((await rawRequest('GET', tampered)).body).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
    const expired = await rawRequest('GET', await presign('in/a.txt', { expiresIn: 1, signingDate: new Date(Date.now() - 60_000) }));
    expect(expired.status).toBe(403);
    expect(expired.body).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
  });

  test('the same principal always gets the same credentials; roles get temporary ones', () => {
    const a = credentials.for(rolePrincipal('Reader'));
    expect(new LocalCredentials(ACCOUNT).for(rolePrincipal('Reader'))).toEqual(a);
    expect(a.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(a.sessionToken).toBeDefined();
    expect(credentials.for(credentials.root).accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(credentials.principalOf(a.accessKeyId)).toMatchObject({ kind: 'role', arn: tpl.arn('Reader') });
    expect(credentials.principalOf('AKIAUNKNOWN')).toBeUndefined();
  });
});

describe('identity policies, per operation', () => {
  test('GetObject is allowed on a granted key and denied elsewhere, with AWS\'s message', async () => {
    const got = await reader.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/a.txt' }));
    expect(await got.Body!.transformToString()).toBe('body of in/a.txt');
    const f = await failure(reader.send(new GetObjectCommand({ Bucket: DATA, Key: 'other/o.txt' })));
    expect(f.name).toBe('AccessDenied');
    expect(f.status).toBe(403);
    expect(f.message).toBe(`User: arn:aws:sts::${ACCOUNT}:assumed-role/reader/fn-Reader is not authorized to perform: s3:GetObject`
      + ` on resource: "arn:aws:s3:::${DATA}/other/o.txt" because no identity-based policy allows the s3:GetObject action`);
  });

  test('a versionId asks for s3:GetObjectVersion', async () => {
    const f = await failure(reader.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/a.txt', VersionId: 'v1' })));
    expect(f.message).toMatch(/not authorized to perform: s3:GetObjectVersion/);
  });

  test('PutObject needs s3:PutObject on the key', async () => {
    await writer.send(new PutObjectCommand({ Bucket: DATA, Key: 'out/w.txt', Body: 'w' }));
    const f = await failure(writer.send(new PutObjectCommand({ Bucket: DATA, Key: 'in/w.txt', Body: 'w' })));
    expect(f).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(f.message).toMatch(/s3:PutObject on resource: "arn:aws:s3:::iam-data\/in\/w.txt"/);
  });

  test('PutObject with an ACL header also needs s3:PutObjectAcl; a BucketOwnerEnforced bucket refuses other ACLs', async () => {
    const f = await failure(writer.send(new PutObjectCommand({ Bucket: DATA, Key: 'out/acl.txt', Body: 'a', ACL: 'bucket-owner-full-control' })));
    expect(f.name).toBe('AccessDenied');
    expect(f.message).toMatch(/s3:PutObjectAcl on resource: "arn:aws:s3:::iam-data\/out\/acl.txt"/);
    await writer.send(new PutObjectCommand({ Bucket: DATA, Key: 'acl/ok.txt', Body: 'a', ACL: 'bucket-owner-full-control' }));
    const refused = await failure(writer.send(new PutObjectCommand({ Bucket: DATA, Key: 'acl/public.txt', Body: 'a', ACL: 'public-read' })));
    expect(refused).toMatchObject({ name: 'AccessControlListNotSupported', status: 400 });
  });

  test('ListObjectsV2 is s3:ListBucket on the bucket, with s3:prefix in the request context', async () => {
    const listed = await lister.send(new ListObjectsV2Command({ Bucket: DATA, Prefix: 'in/' }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['in/a.txt']);
    for (const prefix of ['out/', undefined]) {
      const f = await failure(lister.send(new ListObjectsV2Command({ Bucket: DATA, Prefix: prefix })));
      expect(f.name).toBe('AccessDenied');
      expect(f.message).toMatch(/s3:ListBucket on resource: "arn:aws:s3:::iam-data"/);
    }
  });

  test('DeleteObject, DeleteObjects (per key), GetBucketLocation', async () => {
    await writer.send(new PutObjectCommand({ Bucket: DATA, Key: 'out/d1.txt', Body: 'd' }));
    await writer.send(new DeleteObjectCommand({ Bucket: DATA, Key: 'out/d1.txt' }));
    expect((await failure(reader.send(new DeleteObjectCommand({ Bucket: DATA, Key: 'in/a.txt' })))).name).toBe('AccessDenied');
    await writer.send(new PutObjectCommand({ Bucket: DATA, Key: 'out/d2.txt', Body: 'd' }));
    const res = await writer.send(new DeleteObjectsCommand({ Bucket: DATA, Delete: { Objects: [{ Key: 'out/d2.txt' }, { Key: 'in/a.txt' }] } }));
    expect(res.Deleted?.map((d) => d.Key)).toEqual(['out/d2.txt']);
    expect(res.Errors).toEqual([expect.objectContaining({ Key: 'in/a.txt', Code: 'AccessDenied' })]);
    await reader.send(new HeadObjectCommand({ Bucket: DATA, Key: 'in/a.txt' })); // still there
    expect((await writer.send(new GetBucketLocationCommand({ Bucket: DATA }))).$metadata.httpStatusCode).toBe(200);
    expect((await failure(reader.send(new GetBucketLocationCommand({ Bucket: DATA })))).name).toBe('AccessDenied');
  });

  test('multipart uploads: s3:PutObject, s3:ListMultipartUploadParts, s3:AbortMultipartUpload, s3:ListBucketMultipartUploads', async () => {
    const { UploadId } = await writer.send(new CreateMultipartUploadCommand({ Bucket: DATA, Key: 'out/mp.bin' }));
    const part = await writer.send(new UploadPartCommand({ Bucket: DATA, Key: 'out/mp.bin', UploadId, PartNumber: 1, Body: 'part one' }));
    expect((await writer.send(new ListPartsCommand({ Bucket: DATA, Key: 'out/mp.bin', UploadId }))).Parts).toHaveLength(1);
    expect((await failure(reader.send(new ListPartsCommand({ Bucket: DATA, Key: 'out/mp.bin', UploadId })))).message)
      .toMatch(/s3:ListMultipartUploadParts/);
    expect((await failure(reader.send(new UploadPartCommand({ Bucket: DATA, Key: 'out/mp.bin', UploadId, PartNumber: 2, Body: 'x' })))).message)
      .toMatch(/s3:PutObject/);
    expect((await failure(writer.send(new ListMultipartUploadsCommand({ Bucket: DATA })))).message).toMatch(/s3:ListBucketMultipartUploads/);
    const done = await writer.send(new CompleteMultipartUploadCommand({
      Bucket: DATA, Key: 'out/mp.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
    }));
    expect(done.ServerSideEncryption).toBe('aws:kms');
    const second = await writer.send(new CreateMultipartUploadCommand({ Bucket: DATA, Key: 'out/mp2.bin' }));
    expect((await failure(reader.send(new AbortMultipartUploadCommand({ Bucket: DATA, Key: 'out/mp2.bin', UploadId: second.UploadId })))).message)
      .toMatch(/s3:AbortMultipartUpload/);
    await writer.send(new AbortMultipartUploadCommand({ Bucket: DATA, Key: 'out/mp2.bin', UploadId: second.UploadId }));
    expect((await failure(reader.send(new CreateMultipartUploadCommand({ Bucket: DATA, Key: 'out/mp3.bin' })))).message).toMatch(/s3:PutObject/);
  });

  test('CopyObject needs s3:GetObject on the source and s3:PutObject on the target', async () => {
    const copied = await writer.send(new CopyObjectCommand({ Bucket: DATA, Key: 'out/copy.txt', CopySource: `${DATA}/in/a.txt` }));
    expect(copied.$metadata.httpStatusCode).toBe(200);
    expect((await failure(reader.send(new CopyObjectCommand({ Bucket: DATA, Key: 'out/c2.txt', CopySource: `${DATA}/in/a.txt` })))).message)
      .toMatch(/s3:PutObject on resource: "arn:aws:s3:::iam-data\/out\/c2.txt"/);
    // the bucket policy denies s3:GetObject on secret/*: the copy source counts as a read
    expect((await failure(writer.send(new CopyObjectCommand({ Bucket: DATA, Key: 'out/c3.txt', CopySource: `${DATA}/secret/s.txt` })))).message)
      .toMatch(/s3:GetObject on resource: "arn:aws:s3:::iam-data\/secret\/s.txt" with an explicit deny in a resource-based policy/);
  });
});

describe('bucket policy', () => {
  test('an explicit Deny wins over the identity policy, also for the account root', async () => {
    for (const c of [writer, rootClient]) {
      const f = await failure(c.send(new GetObjectCommand({ Bucket: DATA, Key: 'secret/s.txt' })));
      expect(f.name).toBe('AccessDenied');
      expect(f.message).toMatch(/with an explicit deny in a resource-based policy$/);
    }
  });

  test('the enforce-SSL and TLS-version Denies do not apply: the SDK calls S3 over TLS 1.2+ in AWS', async () => {
    expect((await rootClient.send(new HeadObjectCommand({ Bucket: DATA, Key: 'in/a.txt' }))).$metadata.httpStatusCode).toBe(200);
  });
});

describe('a missing key: 404 only for a caller allowed s3:ListBucket', () => {
  test('with s3:ListBucket: 404 NoSuchKey (GetObject) / 404 (HeadObject)', async () => {
    expect(await failure(writer.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/missing.txt' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect((await failure(writer.send(new HeadObjectCommand({ Bucket: DATA, Key: 'in/missing.txt' })))).status).toBe(404);
  });

  test('without it: 403 AccessDenied naming s3:ListBucket, for GetObject, HeadObject and a copy source', async () => {
    const f = await failure(reader.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/missing.txt' })));
    expect(f).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(f.message).toMatch(/s3:ListBucket on resource: "arn:aws:s3:::iam-data" because no identity-based policy allows the s3:ListBucket action/);
    expect((await failure(reader.send(new HeadObjectCommand({ Bucket: DATA, Key: 'in/missing.txt' })))).status).toBe(403);
    const copy = await failure(writer.send(new CopyObjectCommand({ Bucket: PLAIN, Key: 'c.txt', CopySource: `${DATA}/in/missing.txt` })));
    expect(copy.name).toBe('NoSuchKey'); // the writer may list the source bucket
  });

  test('ListBucket granted only under a prefix does not count: the check has no s3:prefix', async () => {
    // the lister may list in/ and read in/*, yet a missing key under in/ is 403
    expect((await failure(lister.send(new HeadObjectCommand({ Bucket: DATA, Key: 'in/missing.txt' })))).status).toBe(403);
    expect((await failure(lister.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/missing.txt' })))).name).toBe('AccessDenied');
  });
});

describe('SSE-KMS', () => {
  test('objects written to the bucket record its default encryption (KMS key, bucket key)', async () => {
    const head = await rootClient.send(new HeadObjectCommand({ Bucket: DATA, Key: 'in/a.txt' }));
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe(tpl.arn('Key'));
    expect(head.BucketKeyEnabled).toBe(true);
  });

  test('without a KMS grant: PutObject is denied kms:GenerateDataKey, GetObject kms:Decrypt; HeadObject needs no key', async () => {
    const put = await failure(nokms.send(new PutObjectCommand({ Bucket: DATA, Key: 'out/k.txt', Body: 'k' })));
    expect(put).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(put.message).toBe(`User: arn:aws:sts::${ACCOUNT}:assumed-role/nokms/fn-NoKms is not authorized to perform: kms:GenerateDataKey`
      + ` on resource: ${tpl.arn('Key')} because no identity-based policy allows the kms:GenerateDataKey action`);
    const get = await failure(nokms.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/a.txt' })));
    expect(get.message).toMatch(/not authorized to perform: kms:Decrypt on resource: arn:aws:kms:/);
    expect((await nokms.send(new HeadObjectCommand({ Bucket: DATA, Key: 'in/a.txt' }))).$metadata.httpStatusCode).toBe(200);
    expect((await failure(nokms.send(new CopyObjectCommand({ Bucket: DATA, Key: 'out/k2.txt', CopySource: `${DATA}/in/a.txt` })))).message)
      .toMatch(/kms:Decrypt/);
  });

  test('a key policy that does not delegate to IAM denies even an identity grant', async () => {
    const f = await failure(writer.send(new PutObjectCommand({ Bucket: LOCKED, Key: 'x.txt', Body: 'x' })));
    expect(f.name).toBe('AccessDenied');
    expect(f.message).toMatch(new RegExp(`kms:GenerateDataKey on resource: ${tpl.arn('LockedKey')} because no resource-based policy allows`));
  });

  test('with an S3 Bucket Key, S3 calls KMS via s3.<region>.amazonaws.com with the bucket ARN as encryption context', async () => {
    const pinned = client(rolePrincipal('Pinned'));
    expect(await (await pinned.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/a.txt' }))).Body!.transformToString()).toBe('body of in/a.txt');
    const toObject = client(rolePrincipal('PinnedToObject'));
    expect((await failure(toObject.send(new GetObjectCommand({ Bucket: DATA, Key: 'in/a.txt' })))).message).toMatch(/kms:Decrypt/);
  });

  test('a bucket without default encryption records none, unless the request asks for one', async () => {
    await writer.send(new PutObjectCommand({ Bucket: PLAIN, Key: 'p.txt', Body: 'p' }));
    expect((await writer.send(new HeadObjectCommand({ Bucket: PLAIN, Key: 'p.txt' }))).ServerSideEncryption).toBeUndefined();
    await writer.send(new PutObjectCommand({ Bucket: PLAIN, Key: 'k.txt', Body: 'k', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: tpl.arn('Key') }));
    expect((await writer.send(new HeadObjectCommand({ Bucket: PLAIN, Key: 'k.txt' }))).SSEKMSKeyId).toBe(tpl.arn('Key'));
    // SSE-S3 asked for explicitly overrides the bucket's SSE-KMS default: no KMS permission needed
    await nokms.send(new PutObjectCommand({ Bucket: DATA, Key: 'out/n.txt', Body: 'n', ServerSideEncryption: 'AES256' }));
    expect((await nokms.send(new HeadObjectCommand({ Bucket: DATA, Key: 'out/n.txt' }))).ServerSideEncryption).toBe('AES256');
  });
});

test('every refusal was reported to the accessDenied listeners', () => {
  expect(denials.length).toBeGreaterThan(10);
  expect(denials).toContainEqual(expect.objectContaining({ operation: 'GetObject', code: 'AccessDenied', principal: tpl.arn('Reader'), bucket: DATA, key: 'other/o.txt' }));
  expect(denials).toContainEqual(expect.objectContaining({ code: 'InvalidAccessKeyId', principal: 'AKIANOTISSUED0000000' }));
});
