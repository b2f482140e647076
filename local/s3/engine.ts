/**
 * The engine of the local S3 that every operation works with: the store, the bucket settings
 * (Object Ownership, default encryption), the listeners, and IAM authorization as S3 applies it to
 * stored state (a bucket that does not exist, a missing key, the KMS key of an object).
 */
import type { IncomingMessage } from 'node:http';
import { accessDenied, ACL_HEADERS, bucketArn, S3Authorizer, type BucketSecurity, type Permission } from './authz';
import { invalidArgument, noSuchKey, S3Error } from './errors';
import type { Notifier } from './notices';
import { header, type Ctx } from './request';
import type { S3Store } from './store';
import type { ObjectEncryption, ObjectMeta } from './store-types';
import { drain } from '../http';
import { requestAccessKeyId } from '../iam/credentials';
import { kmsKeyArnOf } from '../iam/kms';

export class S3Engine {
  private readonly bucketSecurity = new Map<string, BucketSecurity>();

  constructor(
    readonly store: S3Store,
    readonly notices: Notifier,
    readonly authz: S3Authorizer | undefined,
    /** `http://host:port` of the endpoint (the Location of a completed upload). */
    private readonly endpointOf: () => string,
  ) {}

  get endpoint(): string {
    return this.endpointOf();
  }

  setBucketSecurity(bucket: string, security: BucketSecurity): void {
    this.bucketSecurity.set(bucket, security);
  }

  securityOf(bucket: string): BucketSecurity | undefined {
    return this.bucketSecurity.get(bucket);
  }

  /**
   * Throws AccessDenied unless the caller has every permission (no-op without IAM enforcement). As
   * on S3, a request to a bucket that does not exist is NoSuchBucket whoever makes it.
   */
  async authorize(ctx: Ctx, permissions: ReadonlyArray<Permission | undefined>): Promise<void> {
    if (!this.authz || !ctx.caller) return;
    for (const p of permissions) {
      if (p === undefined) continue;
      const denied = this.authz.denial(ctx.caller, p);
      if (denied === null) continue;
      if (ctx.bucket !== undefined && ctx.op !== 'CreateBucket' && ctx.op !== 'ListBuckets') {
        await drain(ctx.req);
        await this.store.requireBucket(ctx.bucket);
      }
      throw accessDenied(denied);
    }
  }

  /**
   * A key that does not exist: 404 NoSuchKey for a caller allowed s3:ListBucket on the bucket, else
   * 403 AccessDenied, so that a caller who may not list the bucket cannot learn which keys exist.
   */
  missingKey(ctx: Ctx, bucket: string, key: string): S3Error {
    if (!this.authz || !ctx.caller) return noSuchKey(key);
    const denied = this.authz.denial(ctx.caller, { action: 's3:ListBucket', resource: bucketArn(bucket) });
    return denied === null ? noSuchKey(key) : accessDenied(denied);
  }

  /** Tells the 'accessDenied' listeners about a refused request (IAM enforcement only). */
  noteDenied(ctx: Ctx | undefined, code: string, message: string, key = ctx?.key): void {
    if (!this.authz || !this.notices.listens('accessDenied')) return;
    const principal = ctx?.caller?.principal.arn ?? (ctx ? requestAccessKeyId(ctx.req) : undefined) ?? 'anonymous';
    this.notices.denied({ operation: ctx?.op ?? 'unknown', code, message, principal, bucket: ctx?.bucket, key });
  }

  /** The KMS permission reading or writing an object of this encryption needs (undefined: none). */
  kmsPermission(action: 'kms:GenerateDataKey' | 'kms:Decrypt', sse: ObjectEncryption | undefined, bucket: string, key: string): Permission | undefined {
    return this.authz?.kmsPermission(action, sse, bucket, key);
  }

  /**
   * The encryption of a new object: the request's x-amz-server-side-encryption headers, else the
   * bucket's default encryption (undefined when neither is set).
   */
  writeEncryption(req: IncomingMessage, bucket: string): ObjectEncryption | undefined {
    const algorithm = header(req, 'x-amz-server-side-encryption');
    const keyId = header(req, 'x-amz-server-side-encryption-aws-kms-key-id');
    const bucketKey = header(req, 'x-amz-server-side-encryption-bucket-key-enabled');
    const env = { account: this.authz?.account ?? '000000000000', region: this.authz?.region ?? 'us-east-1' };
    const byDefault = this.bucketSecurity.get(bucket)?.defaultEncryption;
    if (algorithm === undefined) {
      if (keyId !== undefined) {
        throw invalidArgument('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms',
          'x-amz-server-side-encryption', 'null');
      }
      return byDefault;
    }
    if (algorithm !== 'AES256' && algorithm !== 'aws:kms' && algorithm !== 'aws:kms:dsse') {
      throw invalidArgument('The encryption method specified is not supported', 'x-amz-server-side-encryption', algorithm);
    }
    if (algorithm === 'AES256') {
      if (keyId !== undefined) {
        throw invalidArgument('Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms',
          'x-amz-server-side-encryption', algorithm);
      }
      return { algorithm };
    }
    const kmsKeyArn = keyId !== undefined ? kmsKeyArnOf(keyId, env)
      : byDefault?.algorithm === algorithm && byDefault.kmsKeyArn ? byDefault.kmsKeyArn
        : kmsKeyArnOf('alias/aws/s3', env);
    const bucketKeyEnabled = bucketKey !== undefined ? bucketKey.toLowerCase() === 'true' : byDefault?.bucketKeyEnabled ?? false;
    return { algorithm, kmsKeyArn, bucketKeyEnabled };
  }

  /** A BucketOwnerEnforced bucket only accepts no ACL or bucket-owner-full-control (400 AccessControlListNotSupported). */
  checkAclSupported(req: IncomingMessage, bucket: string): void {
    if (this.bucketSecurity.get(bucket)?.objectOwnership !== 'BucketOwnerEnforced') return;
    const acl = header(req, 'x-amz-acl');
    const grants = ACL_HEADERS.filter((h) => h !== 'x-amz-acl' && header(req, h) !== undefined);
    if ((acl !== undefined && acl !== 'bucket-owner-full-control') || grants.length > 0) {
      throw new S3Error('AccessControlListNotSupported', 400, 'The bucket does not allow ACLs');
    }
  }

  /** The encryption of a stored object (an object written from outside the endpoint has the bucket default). */
  storedEncryption(bucket: string, meta: ObjectMeta): ObjectEncryption | undefined {
    return meta.sse ?? this.bucketSecurity.get(bucket)?.defaultEncryption;
  }
}
