import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { PipelineSettings } from './settings';

/**
 * The Athena workgroup: engine v3, enforced configuration, KMS-encrypted results at `outputLocation`, a
 * per-query scan cutoff. Always deleted with the stack (fixed name, no data: README, "Removal").
 */
export function createWorkGroup(scope: Construct, settings: PipelineSettings, opts: { outputLocation: string; key: kms.IKey }): athena.CfnWorkGroup {
  const workGroup = new athena.CfnWorkGroup(scope, 'WorkGroup', {
    name: settings.workGroupName,
    description: 'medlaunch-elt: Stage 1 extract and Stage 3 state counts',
    state: 'ENABLED',
    // DeleteWorkGroup refuses a workgroup that holds query executions unless it is recursive (Athena API
    // Reference, DeleteWorkGroup): after the first run it always does. Query results stay in S3.
    recursiveDeleteOption: true,
    workGroupConfiguration: {
      engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
      enforceWorkGroupConfiguration: true,
      publishCloudWatchMetricsEnabled: true,
      requesterPaysEnabled: false,
      bytesScannedCutoffPerQuery: settings.bytesScannedCutoffPerQuery,
      resultConfiguration: {
        outputLocation: opts.outputLocation,
        encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: opts.key.keyArn },
        expectedBucketOwner: Aws.ACCOUNT_ID,
        // No AclConfiguration: with it Athena sends x-amz-acl on every result and UNLOAD file (Athena API
        // Reference, AclConfiguration), which needs s3:PutObjectAcl and does nothing on a BucketOwnerEnforced
        // bucket (ACLs disabled; the bucket owner owns every object).
      },
    },
  });
  workGroup.applyRemovalPolicy(RemovalPolicy.DESTROY);
  return workGroup;
}
