/**
 * IAM authorization of the local S3 endpoint: who signed a request (SigV4 access key → principal),
 * and whether the identity policies, the bucket policy and (for SSE-KMS objects) the key policy let
 * that principal do what the request does. See docs/local-s3.md ("IAM enforcement").
 */
import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors';
import { parseSigV4, verifySigV4 } from './sigv4';
import type { ObjectEncryption } from './store';
import type { LocalCredentials } from '../iam/credentials';
import type { AuthorizationRequest, ConditionValue, IamPolicies, Principal } from '../iam/index';
import { kmsKeyArnOf } from '../iam/kms';

export type { ObjectEncryption } from './store';

/** The bucket settings that change what S3 authorizes and records. */
export interface BucketSecurity {
  /** S3 Object Ownership; `BucketOwnerEnforced` disables ACLs (ACL headers other than bucket-owner-full-control are refused). */
  readonly objectOwnership?: 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter';
  /** Default encryption of new objects. */
  readonly defaultEncryption?: ObjectEncryption;
}

/** IAM enforcement settings of the local S3 endpoint. */
export interface S3IamOptions {
  /** The policies of the deployed template. */
  readonly policies: IamPolicies;
  /** The credentials the local principals were given (maps access key ids back to principals). */
  readonly credentials: LocalCredentials;
  /** Region in kms:ViaService (`s3.<region>.amazonaws.com`), default us-east-1. */
  readonly region?: string;
  /** Verify each request's SigV4 signature with the principal's secret (default true). */
  readonly verifySignatures?: boolean;
}

/** The authenticated caller of one request. */
export interface S3Caller {
  readonly principal: Principal;
  /** s3:authType */
  readonly authType: 'REST-HEADER' | 'REST-QUERY-STRING';
}

/** One permission a request needs. */
export interface Permission {
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, ConditionValue | undefined>>;
}

export const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;
export const objectArn = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;

/** Canned ACL and grant headers of PutObject / CopyObject / CreateMultipartUpload. */
export const ACL_HEADERS = ['x-amz-acl', 'x-amz-grant-full-control', 'x-amz-grant-read', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp'];

/** An S3 AccessDenied error (HTTP 403) with the AWS-style message of the evaluator. */
export function accessDenied(message = 'Access Denied'): S3Error {
  return new S3Error('AccessDenied', 403, message);
}

/** `{algorithm, kmsKeyArn, bucketKeyEnabled}` of a bucket's `BucketEncryption` CloudFormation property. */
export function bucketSecurityOf(properties: Record<string, any>, env: { account: string; region: string }): BucketSecurity {
  const rule = properties.BucketEncryption?.ServerSideEncryptionConfiguration?.[0];
  const byDefault = rule?.ServerSideEncryptionByDefault;
  const ownership = properties.OwnershipControls?.Rules?.[0]?.ObjectOwnership;
  return {
    objectOwnership: ownership,
    defaultEncryption: byDefault?.SSEAlgorithm ? {
      algorithm: byDefault.SSEAlgorithm,
      kmsKeyArn: byDefault.KMSMasterKeyID ? kmsKeyArnOf(String(byDefault.KMSMasterKeyID), env) : undefined,
      bucketKeyEnabled: rule.BucketKeyEnabled === true || rule.BucketKeyEnabled === 'true',
    } : undefined,
  };
}

/** The AWS managed key of S3 (its key policy lets every principal of the account use it through S3). */
function isAwsManagedS3Key(arn: string | undefined): boolean {
  return arn === undefined || arn.endsWith(':alias/aws/s3');
}

/** Authenticates and authorizes requests of the local S3 endpoint against the template's policies. */
export class S3Authorizer {
  readonly region: string;

  constructor(private readonly opts: S3IamOptions) {
    this.region = opts.region ?? 'us-east-1';
  }

  get account(): string {
    return this.opts.credentials.account;
  }

  /**
   * The caller of a request: its access key must be one the local credentials issued (403
   * InvalidAccessKeyId), its signature made with that key's secret (403 SignatureDoesNotMatch), and
   * a role's session token the one issued with it (400 InvalidToken). An unsigned request is an
   * anonymous one, which no policy of the template allows (403 AccessDenied).
   */
  authenticate(req: IncomingMessage, query: URLSearchParams): S3Caller {
    const sig = parseSigV4(req, query);
    if (!sig) throw accessDenied();
    const record = this.opts.credentials.lookup(sig.accessKeyId);
    if (!record) {
      throw new S3Error('InvalidAccessKeyId', 403, 'The AWS Access Key Id you provided does not exist in our records.',
        { AWSAccessKeyId: sig.accessKeyId });
    }
    if (this.opts.verifySignatures ?? true) verifySigV4(req, sig, record.secretAccessKey);
    if (record.sessionToken !== undefined && sig.sessionToken !== record.sessionToken) {
      throw new S3Error('InvalidToken', 400, 'The provided token is malformed or otherwise invalid.');
    }
    return { principal: record.principal, authType: sig.presigned ? 'REST-QUERY-STRING' : 'REST-HEADER' };
  }


  /**
   * The KMS permission S3 needs for an SSE-KMS object (kms:GenerateDataKey to write, kms:Decrypt to
   * read), with the context S3 calls KMS with: kms:ViaService s3.<region>.amazonaws.com and the
   * encryption context aws:s3:arn = the bucket ARN with an S3 Bucket Key, else the object ARN.
   * Undefined when the object is not SSE-KMS or uses the AWS managed key.
   */
  kmsPermission(action: 'kms:GenerateDataKey' | 'kms:Decrypt', sse: ObjectEncryption | undefined, bucket: string, key: string): Permission | undefined {
    if (!sse || (sse.algorithm !== 'aws:kms' && sse.algorithm !== 'aws:kms:dsse') || isAwsManagedS3Key(sse.kmsKeyArn)) return undefined;
    const contextArn = sse.bucketKeyEnabled ? bucketArn(bucket) : objectArn(bucket, key);
    return {
      action,
      resource: sse.kmsKeyArn!,
      context: {
        'kms:ViaService': `s3.${this.region}.amazonaws.com`,
        'kms:CallerAccount': this.account,
        'kms:EncryptionContext:aws:s3:arn': contextArn,
        'kms:EncryptionContextKeys': ['aws:s3:arn'],
      },
    };
  }

  /**
   * null when the permission is allowed, else the AccessDenied message (the evaluator's AWS-style
   * wording). Evaluated for every request (the evaluator caches the statements that can apply per
   * principal and action; a decision is not cached, since it can depend on the time of the request).
   */
  denial(caller: S3Caller, p: Permission): string | null {
    const context: Record<string, ConditionValue | undefined> = {
      's3:authType': caller.authType,
      's3:signatureversion': 'AWS4-HMAC-SHA256',
      's3:TlsVersion': 1.2,
      ...(p.resource.startsWith('arn:aws:s3:::') ? { 's3:ResourceAccount': this.account } : {}),
      ...(p.context ?? {}),
    };
    const request: AuthorizationRequest = { principal: caller.principal, action: p.action, resource: p.resource, context };
    return this.opts.policies.denial(request)?.message ?? null;
  }
}
