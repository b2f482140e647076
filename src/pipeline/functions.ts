import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as athena from 'aws-cdk-lib/aws-athena';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { FIXED } from './defaults';
import { PipelineData, grantAthena, grantPrefixes } from './grants';
import type { PipelineSettings } from './settings';
import { LambdaAssetName, lambdaAssetPath } from '../assets';
import { CURATED_TABLE, ENV, PREFIX_ENV, QUERY_WAIT_SAFETY_MS, serviceNameOf, VALIDATED_TABLE } from '../contract';
import { FILE_SUMMARIES_FOLDER, METRICS_NAMESPACE, OBSERVABILITY_ENV } from '../contract/observability';

/** The pipeline's three Lambda functions. */
export interface PipelineFunctions {
  /** Stage 2: the validator (validation gate, expiring facilities, deleted files, the snapshot ticket). */
  readonly processorFunction: lambda.Function;
  /** Stages 1 and 3: the query runner. */
  readonly queryFunction: lambda.Function;
  /** Stage 4: the publisher. */
  readonly publishFunction: lambda.Function;
}

/** The environment every function shares: the runtime contract's variables (docs/design.md). */
function sharedEnvironment(settings: PipelineSettings, data: PipelineData, outputLocation: string): Record<string, string> {
  const p = settings.prefixes;
  return {
    [ENV.dataBucket]: data.bucket.bucketName,
    [PREFIX_ENV.rawPrefix]: p.raw,
    [PREFIX_ENV.validatedPrefix]: p.validated,
    [PREFIX_ENV.expiringPrefix]: p.expiring,
    [PREFIX_ENV.quarantinePrefix]: p.quarantine,
    [PREFIX_ENV.curatedPrefix]: p.curated,
    [PREFIX_ENV.resultsPrefix]: p.results,
    [PREFIX_ENV.productionPrefix]: p.production,
    [PREFIX_ENV.athenaResultsPrefix]: p.athenaResults,
    [ENV.glueDatabase]: data.databaseName,
    [ENV.validatedTable]: VALIDATED_TABLE,
    [ENV.curatedTable]: CURATED_TABLE,
    [ENV.athenaWorkgroup]: data.workGroupName,
    [ENV.athenaOutputLocation]: outputLocation,
    [ENV.expiryMonths]: String(settings.expiryMonths),
    [ENV.queryWaitSafetyMs]: String(QUERY_WAIT_SAFETY_MS),
    [ENV.logLevel]: settings.lambdaLogLevel,
    // The observability contract: the metrics' namespace and Pipeline dimension, and where the run reports go.
    [OBSERVABILITY_ENV.pipelineName]: settings.pipelineName,
    [OBSERVABILITY_ENV.metricsNamespace]: METRICS_NAMESPACE,
    [OBSERVABILITY_ENV.reportsPrefix]: p.reports,
  };
}

/** One function with its own KMS-encrypted log group and a role that writes only to that log group. */
function createFunction(scope: Construct, settings: PipelineSettings, key: kms.IKey, fn: {
  id: string; asset: LambdaAssetName; description: string; timeout: Duration; memorySize: number; environment: Record<string, string>;
}): lambda.Function {
  const logGroup = new logs.LogGroup(scope, `${fn.id}Logs`, {
    retention: settings.logRetention,
    encryptionKey: key,
    removalPolicy: settings.removalPolicy,
  });
  const role = new iam.Role(scope, `${fn.id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `medlaunch-elt ${fn.asset}`,
  });
  // Instead of AWSLambdaBasicExecutionRole: write only to the function's own log group.
  // logGroupArn (Fn::GetAtt Arn) already ends in ':*'; the streams' ARN is built from the name instead
  // (arn:...:log-group:<name>:log-stream:*), not appended to it.
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    resources: [logGroup.logGroupArn, Stack.of(scope).formatArn({
      service: 'logs', resource: 'log-group', resourceName: `${logGroup.logGroupName}:log-stream:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    })],
  }));
  return new lambda.Function(scope, fn.id, {
    description: fn.description,
    code: lambda.Code.fromAsset(lambdaAssetPath(fn.asset)),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    timeout: fn.timeout,
    memorySize: fn.memorySize,
    role,
    logGroup,
    tracing: lambda.Tracing.ACTIVE,
    environment: { ...fn.environment, [ENV.serviceName]: serviceNameOf(fn.asset) },
    environmentEncryption: key,
    // No async dead-letter queue: Step Functions invokes the functions synchronously (RequestResponse), so a
    // Lambda DLQ, which only receives failed asynchronous invocations, could never receive anything.
    // Failures reach the state machine's Retry/Catch instead (README, "Alerting").
    reservedConcurrentExecutions: settings.reservedConcurrentExecutions,
  });
}

/**
 * The validator, the query runner and the publisher (nodejs24.x, arm64, X-Ray, the contract's environment), each
 * granted only the prefixes it reads or writes. They depend on the workgroup, which their queries run in.
 */
export function createFunctions(scope: Construct, settings: PipelineSettings, opts: {
  data: PipelineData; outputLocation: string; workGroup: athena.CfnWorkGroup;
}): PipelineFunctions {
  const { data, workGroup } = opts;
  const environment = sharedEnvironment(settings, data, opts.outputLocation);
  const make = (id: string, asset: LambdaAssetName, description: string, timeout: Duration, memorySize: number) => {
    const fn = createFunction(scope, settings, data.key, { id, asset, description, timeout, memorySize, environment });
    fn.node.addDependency(workGroup);
    return fn;
  };
  const processorFunction = make('Processor', 'validator',
    'Stage 2: validates a raw file, writes validated, expiring and quarantined records', settings.processorTimeout, settings.processorMemorySize);
  const queryFunction = make('QueryRunner', 'query-runner',
    'Stages 1 and 3: runs the Athena facility extract and state counts', settings.queryTimeout, FIXED.queryRunnerMemorySize);
  const publishFunction = make('Publisher', 'publish-results',
    'Stage 4: publishes the state counts of a successful run to the production path', FIXED.publisherTimeout, FIXED.publisherMemorySize);

  // Least privilege: each function reaches only the prefixes it reads or writes.
  // The processor also writes and reads the snapshot tickets (<validated>_coordination/) and removes the outputs of
  // a deleted raw object (docs/runtime.md, "Coordinating a snapshot's files", "Deleted files").
  const p = settings.prefixes;
  grantPrefixes(data, processorFunction, {
    read: [p.raw],
    write: [p.validated, p.expiring, p.quarantine],
    delete: [p.validated, p.expiring, p.quarantine],
  });
  grantPrefixes(data, queryFunction, {
    read: [p.validated],
    write: [p.curated, p.results, p.athenaResults],
    delete: [p.curated],
  });
  grantAthena(data, queryFunction);
  // The publisher copies the results to production server-side (CopyObject: s3:GetObject on the results source,
  // s3:PutObject on the production target, the key's Decrypt and GenerateDataKey), reads the snapshot's file summaries
  // (<validated>_summaries/, written by the validator under its validated grant) and writes the run report next to
  // the production results; its verify step and conditional writes read production back (every written prefix is
  // also readable).
  grantPrefixes(data, publishFunction, { read: [p.results, `${p.validated}${FILE_SUMMARIES_FOLDER}`], write: [p.production, p.reports] });
  return { processorFunction, queryFunction, publishFunction };
}
