/**
 * The options of the local Athena (start, faults, IAM, workgroups) and the context its protocol
 * layer and its engine share: the registered tables and workgroups and the faults in force.
 */
import type { IamPolicies } from '../iam';
import type { LocalCredentials } from '../iam/credentials';
import type { RegisteredTable } from './engine/catalog';

export interface AthenaFaultOptions {
  /** The first N StartQueryExecution calls fail with TooManyRequestsException. */
  throttleFirstN?: number;
  /** Probability (0..1) that a StartQueryExecution call is throttled (seeded PRNG). */
  throttleRate?: number;
  /** Queries whose text matches end FAILED. */
  failQueriesMatching?: RegExp;
  /** The next N queries end FAILED. */
  failNextN?: number;
  /** Injected failures are retryable system errors (default: non-retryable user errors). */
  failRetryable?: boolean;
  /** Seed of the PRNG behind throttleRate (default 1). */
  seed?: number;
}

export interface LocalAthenaOptions {
  s3: { endpoint: string; rootDir: string /* LocalS3 storage root: objects at <rootDir>/<bucket>/<key> */ };
  workDir: string;
  host?: string;
  port?: number;
  region?: string;
  faults?: AthenaFaultOptions;
  /**
   * Keep a columnar (Parquet) copy of every JSON data file a query reads, made on first read with
   * the table's own reader, and let later queries read the copy while the file is unchanged
   * (inode, size and mtime). Results are identical; only files scanned many times repay the copy
   * (docs/local-athena.md). DataScannedInBytes still counts the JSON bytes, as Athena bills them.
   * @default false
   */
  jsonCache?: boolean;
  /**
   * Authorize as Athena does (docs/cloud-fidelity.md): the caller is the principal its SigV4 access
   * key names; every API call needs its athena: action on the workgroup; a query then acts with the
   * caller's identity (aws:CalledVia athena.amazonaws.com): glue:GetDatabase/GetTable (and
   * GetPartitions without partition projection) on the catalog, database and table, s3:ListBucket
   * and s3:GetObject (+ kms:Decrypt) on what it reads, s3:GetBucketLocation and s3:PutObject (+ the
   * workgroup's ACL and KMS key) where it writes. A denial fails the query as Athena does. Without
   * it, nothing is authorized.
   */
  iam?: AthenaIam;
}

/** IAM enforcement of the local Athena. */
export interface AthenaIam {
  readonly policies: IamPolicies;
  readonly credentials: LocalCredentials;
  /**
   * The SSE-KMS key (ARN) an object is encrypted with, for the kms:Decrypt a read needs
   * (e.g. the bucket's default encryption key); undefined: not KMS-encrypted.
   */
  readonly objectKmsKey?: (bucket: string, key: string) => string | undefined;
}

/** Workgroup settings the local Athena honours (`WorkGroupConfiguration` of the template). */
export interface WorkGroupSettings {
  outputLocation?: string;
  enforce?: boolean;
  bytesScannedCutoffPerQuery?: number;
  /** `AclConfiguration.S3AclOption`: results are written with this canned ACL (x-amz-acl). */
  s3AclOption?: string;
  /** `EncryptionConfiguration`: results are written SSE_S3 or SSE_KMS (with this key). */
  encryption?: { option: string; kmsKey?: string };
}

/** What the protocol layer and the engine share: the options, the catalog, the workgroups, the faults. */
export interface AthenaContext {
  readonly opts: LocalAthenaOptions;
  /** `opts.region`, default us-east-1. */
  readonly region: string;
  /** `<database>.<table>` (lower case) → the registered Glue table. */
  readonly tables: Map<string, RegisteredTable>;
  /** Workgroup name → settings; `primary` exists from the start. */
  readonly workGroups: Map<string, WorkGroupSettings>;
  /** The fault options in force (setFaults replaces them). */
  faults: AthenaFaultOptions;
}
