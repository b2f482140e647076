import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { CURATED_TABLE, VALIDATED_TABLE } from '../contract';

/** What a grant on the pipeline's data names: the bucket, its key, the Glue database and the Athena workgroup. */
export interface PipelineData {
  /** The pipeline construct (ARNs are formatted for its stack). */
  readonly scope: Construct;
  readonly bucket: s3.IBucket;
  readonly key: kms.IKey;
  readonly databaseName: string;
  readonly workGroupName: string;
}

/** The prefixes a grantee reads, writes and deletes under. */
export interface PrefixAccess {
  readonly read?: string[];
  readonly write?: string[];
  readonly delete?: string[];
}

/** Object-level access under prefixes, ListBucket on the bucket (404 for missing keys), and the key. */
export function grantPrefixes(data: PipelineData, grantee: iam.IGrantable, access: PrefixAccess): iam.Grant {
  const read = access.read ?? [];
  const write = access.write ?? [];
  const del = access.delete ?? [];
  const objects = (prefixes: string[]) => prefixes.map((x) => data.bucket.arnForObjects(`${x}*`));
  const all = [...new Set([...read, ...write])];
  const grant = iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectAttributes'],
    resourceArns: objects(all),
  });
  if (write.length > 0) {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resourceArns: objects(write),
    });
  }
  if (del.length > 0) {
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:DeleteObject'], resourceArns: objects(del) });
  }
  // s3:ListBucket on the bucket without an s3:prefix condition: a GET/HEAD/COPY of a missing key carries no
  // s3:prefix, and without ListBucket S3 answers it with 403 AccessDenied instead of 404 NoSuchKey (S3 API
  // reference, GetObject/HeadObject "Permissions"). The runtime treats only 404 as "absent" (watermarks,
  // partition claims, compare-and-swap writes), so this is the narrowest grant that works: it lists key
  // names, never reads an object (README, "Security").
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['s3:ListBucket'],
    resources: [data.bucket.bucketArn],
  }));
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['s3:GetBucketLocation'],
    resources: [data.bucket.bucketArn],
  }));
  // SSE-KMS: GenerateDataKey to write an object, Decrypt to read one (and to complete multipart uploads).
  if (write.length > 0) {
    data.key.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
  } else {
    data.key.grant(grantee, 'kms:Decrypt');
  }
  return grant;
}

/** Uploads under one prefix (`PutObject`, with the KMS key). */
export function grantUpload(data: PipelineData, grantee: iam.IGrantable, prefix: string): iam.Grant {
  const grant = iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
    resourceArns: [data.bucket.arnForObjects(`${prefix}*`)],
  });
  data.key.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
  return grant;
}

/** Athena on the workgroup and Glue read access to the database and its two tables. */
export function grantAthena(data: PipelineData, grantee: iam.IGrantable): void {
  const stack = Stack.of(data.scope);
  const workGroupArn = stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: data.workGroupName });
  iam.Grant.addToPrincipal({
    grantee,
    actions: [
      'athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution',
      'athena:GetWorkGroup',
    ],
    resourceArns: [workGroupArn],
  });
  // Athena reads and writes S3 with the caller's credentials (object actions come from grantPrefixes).
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:ListBucketMultipartUploads'],
    resourceArns: [data.bucket.bucketArn],
  });
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions'],
    resourceArns: [
      stack.formatArn({ service: 'glue', resource: 'catalog' }),
      stack.formatArn({ service: 'glue', resource: 'database', resourceName: data.databaseName }),
      stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${data.databaseName}/${VALIDATED_TABLE}` }),
      stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${data.databaseName}/${CURATED_TABLE}` }),
    ],
  });
}
