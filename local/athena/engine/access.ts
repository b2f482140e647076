/**
 * What a query does with the caller's identity, authorized as Athena does it (IAM enforcement
 * only; docs/cloud-fidelity.md): the Glue catalog calls, the S3 reads (and kms:Decrypt) of its
 * tables, and the writes of its results with the workgroup's ACL and encryption. Each check runs
 * with `aws:CalledVia athena.amazonaws.com`; a denial fails the query with Athena's error.
 */
import { randomUUID } from 'node:crypto';
import { relative, sep } from 'node:path';
import type { AccessDeniedError } from '../../iam';
import { kmsKeyArnOf } from '../../iam/kms';
import type { Execution } from '../execution';
import type { AthenaContext } from '../options';
import { parseS3Uri, type RegisteredTable } from './catalog';
import { QueryError, writeDenied } from './errors';
import type { DataFile } from './partitions';

/** Authorizes an action Athena performs with the caller's identity (aws:CalledVia athena.amazonaws.com). */
export function viaAthena(ctx: AthenaContext, ex: Execution, action: string, resource: string,
  context: Record<string, string | string[]> = {}): AccessDeniedError | undefined {
  const iam = ctx.opts.iam;
  if (!iam || !ex.principal) return undefined;
  return iam.policies.denial({
    principal: ex.principal,
    action,
    resource,
    context: { 'aws:CalledVia': ['athena.amazonaws.com'], 'aws:CalledViaFirst': 'athena.amazonaws.com', 'aws:CalledViaLast': 'athena.amazonaws.com', ...context },
  });
}

/** KMS on behalf of the caller through S3 (kms:ViaService s3.<region>.amazonaws.com). */
function kmsViaS3(ctx: AthenaContext, ex: Execution, action: string, keyArn: string, objectArn: string): AccessDeniedError | undefined {
  return viaAthena(ctx, ex, action, keyArn, {
    'kms:ViaService': `s3.${ctx.region}.amazonaws.com`,
    'kms:CallerAccount': ex.principal!.account,
    'kms:EncryptionContext:aws:s3:arn': objectArn,
  });
}

/**
 * The Glue Data Catalog calls of a query, as the caller: glue:GetDatabase and glue:GetTable on
 * the catalog, the database and the table (Glue authorizes a catalog object together with its
 * ancestors), and glue:GetPartitions for a partitioned table without partition projection.
 */
export function authorizeCatalog(ctx: AthenaContext, ex: Execution, table: RegisteredTable): void {
  if (!ctx.opts.iam || !ex.principal) return;
  const base = `arn:aws:glue:${ctx.region}:${ex.principal.account}`;
  const name = table.input.Name.toLowerCase();
  const catalog = `${base}:catalog`;
  const database = `${base}:database/${table.database}`;
  const tableArn = `${base}:table/${table.database}/${name}`;
  const projection = (table.input.Parameters?.['projection.enabled'] ?? '').toLowerCase() === 'true';
  const checks: Array<[string, string[]]> = [
    ['glue:GetDatabase', [catalog, database]],
    ['glue:GetTable', [catalog, database, tableArn]],
  ];
  if ((table.input.PartitionKeys ?? []).length > 0 && !projection) checks.push(['glue:GetPartitions', [catalog, database, tableArn]]);
  for (const [action, resources] of checks) {
    for (const resource of resources) {
      const denied = viaAthena(ctx, ex, action, resource);
      if (denied) {
        throw new QueryError(`${denied.message} (Service: AmazonDataCatalog; Status Code: 400; Error Code: AccessDeniedException; `
          + `Request ID: ${randomUUID()}; Proxy: null)`, 2, 1000);
      }
    }
  }
}

/**
 * The S3 reads of a query, as the caller: s3:ListBucket on each location listed (s3:prefix the
 * table or partition folder), s3:GetObject on each file its tables may read, kms:Decrypt for a
 * KMS-encrypted file. The local engine reads the files from disk, so this is checked first, for
 * every file of every partition the views may read (a WHERE clause does not narrow it).
 */
export function authorizeReads(ctx: AthenaContext, ex: Execution, table: RegisteredTable, files: DataFile[]): void {
  const iam = ctx.opts.iam;
  if (!iam || !ex.principal) return;
  const root = ctx.opts.s3.rootDir;
  const prefixes = new Map<string, string>();
  if ((table.input.PartitionKeys ?? []).length === 0) {
    try {
      const loc = parseS3Uri(table.input.StorageDescriptor?.Location ?? '');
      prefixes.set(`${loc.bucket}\0${loc.key}`, loc.bucket);
    } catch {
      // an invalid location fails later, when the view is made
    }
  }
  const objects: Array<{ bucket: string; key: string }> = [];
  for (const f of files) {
    const rel = relative(root, f.path).split(sep);
    const bucket = rel[0];
    const key = rel.slice(1).join('/');
    objects.push({ bucket, key });
    prefixes.set(`${bucket}\0${key.slice(0, key.lastIndexOf('/') + 1)}`, bucket);
  }
  const permissionDenied = (path: string, e: AccessDeniedError) => new QueryError(
    `PERMISSION_DENIED: Permission denied on S3 path: ${path}: Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; `
    + `Request ID: ${randomUUID()}; Proxy: null) — ${e.message}`, 2, 1000);
  for (const [id, bucket] of prefixes) {
    const prefix = id.slice(bucket.length + 1);
    const denied = viaAthena(ctx, ex, 's3:ListBucket', `arn:aws:s3:::${bucket}`, { 's3:prefix': prefix, 's3:delimiter': '/' });
    if (denied) throw permissionDenied(`s3://${bucket}/${prefix}`, denied);
  }
  for (const { bucket, key } of objects) {
    const objectArn = `arn:aws:s3:::${bucket}/${key}`;
    const denied = viaAthena(ctx, ex, 's3:GetObject', objectArn);
    if (denied) throw permissionDenied(`s3://${bucket}/${key}`, denied);
    const keyArn = iam.objectKmsKey?.(bucket, key);
    const kms = keyArn ? kmsViaS3(ctx, ex, 'kms:Decrypt', keyArn, objectArn) : undefined;
    if (kms) throw permissionDenied(`s3://${bucket}/${key}`, kms);
  }
}

/** The headers Athena writes results with, from the workgroup's ACL and encryption settings. */
export function writeHeaders(ctx: AthenaContext, ex: Execution): Record<string, string> {
  const wg = ctx.workGroups.get(ex.workGroup) ?? {};
  const h: Record<string, string> = {};
  if (wg.s3AclOption === 'BUCKET_OWNER_FULL_CONTROL') h['x-amz-acl'] = 'bucket-owner-full-control';
  if (wg.encryption?.option === 'SSE_KMS') {
    h['x-amz-server-side-encryption'] = 'aws:kms';
    if (wg.encryption.kmsKey) h['x-amz-server-side-encryption-aws-kms-key-id'] = wg.encryption.kmsKey;
  } else if (wg.encryption?.option === 'SSE_S3') {
    h['x-amz-server-side-encryption'] = 'AES256';
  }
  return h;
}

/**
 * A write Athena makes with the caller's identity: s3:PutObject (with the request's ACL and
 * encryption headers as condition keys), s3:PutObjectAcl when a canned ACL is sent, and
 * kms:GenerateDataKey on the SSE-KMS key. Athena's error when it is denied.
 */
export function authorizeWrite(ctx: AthenaContext, ex: Execution, bucket: string, key: string): void {
  if (!ctx.opts.iam || !ex.principal) return;
  const h = writeHeaders(ctx, ex);
  const objectArn = `arn:aws:s3:::${bucket}/${key}`;
  const context: Record<string, string> = {};
  if (h['x-amz-acl']) context['s3:x-amz-acl'] = h['x-amz-acl'];
  if (h['x-amz-server-side-encryption']) context['s3:x-amz-server-side-encryption'] = h['x-amz-server-side-encryption'];
  if (h['x-amz-server-side-encryption-aws-kms-key-id']) context['s3:x-amz-server-side-encryption-aws-kms-key-id'] = h['x-amz-server-side-encryption-aws-kms-key-id'];
  let denied = viaAthena(ctx, ex, 's3:PutObject', objectArn, context);
  if (!denied && h['x-amz-acl']) denied = viaAthena(ctx, ex, 's3:PutObjectAcl', objectArn, context);
  const keyId = h['x-amz-server-side-encryption-aws-kms-key-id'];
  if (!denied && keyId) denied = kmsViaS3(ctx, ex, 'kms:GenerateDataKey', kmsKeyArnOf(keyId, { region: ctx.region, account: ex.principal.account }), objectArn);
  if (denied) throw writeDenied(bucket, key, denied.message);
}

/**
 * The result location, checked before the query runs as Athena does: s3:GetBucketLocation on
 * its bucket and the write of the result file (s3:PutObject with the workgroup's ACL and key).
 */
export function authorizeOutput(ctx: AthenaContext, ex: Execution): void {
  if (!ctx.opts.iam || !ex.principal) return;
  const { bucket, key } = parseS3Uri(ex.outputLocation);
  const denied = viaAthena(ctx, ex, 's3:GetBucketLocation', `arn:aws:s3:::${bucket}`);
  if (denied) throw writeDenied(bucket, key, denied.message);
  authorizeWrite(ctx, ex, bucket, `${key}${ex.id}${ex.substatementType === 'UNLOAD' ? '-manifest.csv' : '.csv'}`);
}
