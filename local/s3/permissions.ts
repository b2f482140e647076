/**
 * The IAM permissions an S3 request needs before anything stored is looked at: the IAM action of
 * its operation on its bucket or object ARN, with the request's condition keys (S3 API reference,
 * each operation's "Permissions"; Amazon S3 User Guide, "Actions, resources, and condition keys").
 * What depends on stored state (a missing key, the KMS key of an object, a copy source) is
 * authorized by the operation itself.
 */
import type { IncomingMessage } from 'node:http';
import { ACL_HEADERS, bucketArn, objectArn, type Permission } from './authz';
import { header, type Ctx } from './request';

export function requestPermissions(ctx: Ctx): Permission[] {
  const { bucket, key, query: q, req } = ctx;
  const b = bucket === undefined ? '*' : bucketArn(bucket);
  const o = bucket !== undefined && key !== undefined ? objectArn(bucket, key) : '*';
  const versioned = q.has('versionId') && q.get('versionId') !== 'null';
  switch (ctx.op) {
    case 'ListBuckets': return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
    case 'CreateBucket': return [{ action: 's3:CreateBucket', resource: b }];
    case 'HeadBucket': return [{ action: 's3:ListBucket', resource: b }];
    case 'DeleteBucket': return [{ action: 's3:DeleteBucket', resource: b }];
    case 'GetBucketLocation': return [{ action: 's3:GetBucketLocation', resource: b }];
    case 'PutBucketNotificationConfiguration': return [{ action: 's3:PutBucketNotification', resource: b }];
    case 'GetBucketNotificationConfiguration': return [{ action: 's3:GetBucketNotification', resource: b }];
    case 'PutBucketVersioning': return [{ action: 's3:PutBucketVersioning', resource: b }];
    case 'GetBucketVersioning': return [{ action: 's3:GetBucketVersioning', resource: b }];
    case 'ListObjects':
    case 'ListObjectsV2': {
      const context: Record<string, string | number> = {};
      if (q.has('prefix')) context['s3:prefix'] = q.get('prefix')!;
      if (q.has('delimiter')) context['s3:delimiter'] = q.get('delimiter')!;
      if (q.has('max-keys') && /^\d+$/.test(q.get('max-keys')!)) context['s3:max-keys'] = Number(q.get('max-keys'));
      return [{ action: 's3:ListBucket', resource: b, context }];
    }
    case 'ListObjectVersions': {
      const context: Record<string, string | number> = {};
      if (q.has('prefix')) context['s3:prefix'] = q.get('prefix')!;
      if (q.has('delimiter')) context['s3:delimiter'] = q.get('delimiter')!;
      if (q.has('max-keys') && /^\d+$/.test(q.get('max-keys')!)) context['s3:max-keys'] = Number(q.get('max-keys'));
      return [{ action: 's3:ListBucketVersions', resource: b, context }];
    }
    case 'ListMultipartUploads': return [{ action: 's3:ListBucketMultipartUploads', resource: b }];
    case 'GetObject':
    case 'HeadObject':
      return [{ action: versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: o }];
    case 'PutObject':
    case 'CreateMultipartUpload':
      return writePermissions(req, bucket!, key!);
    case 'CopyObject': return writePermissions(req, bucket!, key!, true);
    case 'UploadPart':
    case 'CompleteMultipartUpload':
      return [{ action: 's3:PutObject', resource: o }];
    case 'AbortMultipartUpload': return [{ action: 's3:AbortMultipartUpload', resource: o }];
    case 'ListParts': return [{ action: 's3:ListMultipartUploadParts', resource: o }];
    case 'DeleteObject': return [{ action: versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: o }];
    default: return []; // DeleteObjects authorizes each key; anything else is NotImplemented
  }
}

/** s3:PutObject with its condition keys, plus s3:PutObjectAcl for ACL headers and s3:PutObjectTagging for tags. */
function writePermissions(req: IncomingMessage, bucket: string, key: string, copy = false): Permission[] {
  const context: Record<string, string> = {};
  for (const h of [...ACL_HEADERS, 'x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id',
    'x-amz-storage-class', 'x-amz-metadata-directive', 'x-amz-copy-source']) {
    const v = header(req, h);
    if (v !== undefined && (copy || (h !== 'x-amz-metadata-directive' && h !== 'x-amz-copy-source'))) context[`s3:${h}`] = v;
  }
  const resource = objectArn(bucket, key);
  const out: Permission[] = [{ action: 's3:PutObject', resource, context }];
  if (ACL_HEADERS.some((h) => header(req, h) !== undefined)) out.push({ action: 's3:PutObjectAcl', resource, context });
  const tagged = header(req, 'x-amz-tagging') !== undefined
    && (!copy || (header(req, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase() === 'REPLACE');
  if (tagged) out.push({ action: 's3:PutObjectTagging', resource, context });
  return out;
}
