import { ArnFormat, Aws, Duration, Fn, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { AccreditationPipelineProps } from './accreditation-pipeline-props';
import { LambdaAssetName, lambdaAssetPath } from './assets';
import {
  CURATED_COLUMNS, CURATED_TABLE, DATA_FILE_EXTENSIONS, DEFAULT_PREFIXES, ENV, EXPIRY_MONTHS, PREFIX_ENV, QUERY_WAIT_SAFETY_MS,
  SNAPSHOT_PROJECTION_RANGE, VALIDATED_TABLE,
} from './contract';
import { NagAcknowledgement, acknowledge } from './nag';
import { glueColumnsFromSchema } from './schema/glue-columns';
import {
  PipelinePrefixes, validateDatabaseName, validateEmails, validateInteger, validateLogLevel, validatePrefixes,
  validateWorkGroupName,
} from './validation';

/** Errors of a Lambda invocation that are worth retrying (docs/design.md). */
const TRANSIENT_LAMBDA_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'TransientError',
];
/** A Lambda or Task timeout: retried a bounded number of times (the handlers are idempotent). */
const TIMEOUT_ERRORS = ['Sandbox.Timedout', 'States.Timeout'];
/** Error of an execution whose failure alert (NotifyFailure) could not be published. */
const ALERT_NOT_DELIVERED = 'AlertNotDelivered';
/**
 * Execution errors that never pass NotifyFailure: its own failure, and the two errors a Catch on States.ALL cannot
 * catch (Step Functions docs, "Handling errors": States.Runtime and States.DataLimitExceeded are terminal).
 */
const UNALERTED_ERRORS = [ALERT_NOT_DELIVERED, 'States.Runtime', 'States.DataLimitExceeded'];

/**
 * The rule's matcher on `detail.object.key`: keys under the raw prefix that end in a data file extension.
 * An event pattern ANDs fields but ORs the matchers of one field, so "prefix and suffix" on the same key is one
 * `wildcard` per extension (`<prefix>*<ext>`; `*` matches any characters, `/` included). Wildcards are
 * case-sensitive and EventBridge has no case-insensitive wildcard (`equals-ignore-case` combines only with
 * `prefix`/`suffix` of a whole field), so the rule matches lowercase extensions only (README, "Input files").
 */
function dataFileKeyPattern(rawPrefix: string): Array<{ wildcard: string }> {
  // A wildcard escapes `*` and `\` with a backslash (EventBridge event patterns, wildcard matching).
  const literal = rawPrefix.replace(/[\\*]/g, (c) => `\\${c}`);
  return DATA_FILE_EXTENSIONS.map((ext) => ({ wildcard: `${literal}*${ext}` }));
}

/**
 * The healthcare-accreditation ELT pipeline: an S3 data bucket whose "Object Created" and "Object Deleted"
 * events under the raw prefix start a Step Functions state machine that validates the file and finds
 * expiring facilities (Stage 2 Lambda; for a deleted file, removes its outputs), then, when it is the
 * snapshot's last file to finish (the snapshot ticket), refreshes the snapshot's Parquet extract
 * (Stage 1, Athena UNLOAD) and its accredited-facilities-per-state counts (Stage 3, Athena) in
 * parallel, publishes the counts to the production path (Stage 4) and alerts an SNS topic on any failure.
 *
 * @example
 * new AccreditationPipeline(stack, 'Pipeline', { alarmEmails: ['oncall@example.com'] });
 */
export class AccreditationPipeline extends Construct {
  /** The data bucket (raw input, validated, curated, results, production, Athena results). */
  public readonly bucket: s3.IBucket;
  /** The server access log bucket of the data bucket (undefined when `bucket` was imported). */
  public readonly accessLogsBucket?: s3.IBucket;
  /** The customer-managed KMS key of the pipeline's data, Athena results, logs, topic and queues. */
  public readonly encryptionKey: kms.IKey;
  /** The Glue database. */
  public readonly database: glue.CfnDatabase;
  /** The Glue table `validated_facilities` over the validated NDJSON. */
  public readonly validatedTable: glue.CfnTable;
  /** The Glue table `facility_metrics` over the Stage 1 Parquet extract. */
  public readonly curatedTable: glue.CfnTable;
  /** The Athena workgroup (engine v3, enforced configuration, KMS-encrypted results). */
  public readonly workGroup: athena.CfnWorkGroup;
  /** Name of the Glue database. */
  public readonly databaseName: string;
  /** Name of the Athena workgroup. */
  public readonly workGroupName: string;
  /** The Stage 2 processor (validation gate, expiring facilities, deleted files, the snapshot ticket). */
  public readonly processorFunction: lambda.Function;
  /** The query runner (Stage 1 extract, Stage 3 state counts). */
  public readonly queryFunction: lambda.Function;
  /** The Stage 4 publisher. */
  public readonly publishFunction: lambda.Function;
  /** The Standard state machine run for every new or deleted raw object. */
  public readonly stateMachine: sfn.StateMachine;
  /** The EventBridge rule that starts the state machine. */
  public readonly rule: events.Rule;
  /** The SNS topic of failure alerts and alarm actions. */
  public readonly alertTopic: sns.ITopic;
  /** The dead-letter queue of the EventBridge rule target. */
  public readonly ruleDeadLetterQueue: sqs.Queue;
  /**
   * Every dead-letter queue: only the rule target's (`ruleDeadLetterQueue`).
   *
   * @deprecated the functions have no asynchronous dead-letter queues (Step Functions invokes them
   * synchronously, so such queues could never receive anything); use `ruleDeadLetterQueue`.
   */
  public readonly dlqs: sqs.Queue[];
  /**
   * Alarms on executions that failed without their NotifyFailure alert: NotifyFailure itself failed
   * (`AlertNotDelivered`), or an error no Catch can catch (`States.Runtime`, `States.DataLimitExceeded`).
   * Counted by a metric filter on the state machine's log group.
   */
  public readonly failuresNotAlertedAlarm: cloudwatch.Alarm;
  /**
   * The same alarm as `failuresNotAlertedAlarm`.
   *
   * @deprecated every caught failure is alerted once by NotifyFailure; an alarm on all failed executions would
   * alert it twice. Use `failuresNotAlertedAlarm`.
   */
  public readonly executionsFailedAlarm: cloudwatch.Alarm;
  /** Alarms on timed-out executions. */
  public readonly executionsTimedOutAlarm: cloudwatch.Alarm;
  /** Alarms on aborted executions. */
  public readonly executionsAbortedAlarm: cloudwatch.Alarm;
  /**
   * Prefix of every alarm name (`medlaunch-elt-<path-derived>-`). The alert topic and the key let
   * `cloudwatch.amazonaws.com` act for alarms of this name only; allow the same on an `alertTopic` you bring.
   */
  public readonly alarmNamePrefix: string;
  /**
   * Every alarm (failures not alerted, timed-out and aborted executions, rule DLQ depth, rule events lost);
   * each notifies `alertTopic`.
   */
  public readonly alarms: cloudwatch.Alarm[];
  /** The log group of the state machine (level ALL, KMS-encrypted). */
  public readonly stateMachineLogGroup: logs.LogGroup;
  /** Raw input prefix (`<rawPrefix><YYYY-MM-DD>/…`). */
  public readonly rawPrefix: string;
  /** Validated records prefix. */
  public readonly validatedPrefix: string;
  /** Expiring facilities prefix. */
  public readonly expiringPrefix: string;
  /** Quarantine prefix. */
  public readonly quarantinePrefix: string;
  /** Stage 1 extract prefix. */
  public readonly curatedPrefix: string;
  /** Stage 3 results prefix. */
  public readonly resultsPrefix: string;
  /** Stage 4 production prefix. */
  public readonly productionPrefix: string;
  /** Athena query results prefix. */
  public readonly athenaResultsPrefix: string;
  /** `s3://<bucket>/<athenaResultsPrefix>`: the workgroup's output location. */
  public readonly athenaOutputLocation: string;

  private readonly prefixes: PipelinePrefixes;

  constructor(scope: Construct, id: string, props: AccreditationPipelineProps = {}) {
    super(scope, id);

    // ---------------------------------------------------------------- props and their rules
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (removalPolicy !== RemovalPolicy.RETAIN && removalPolicy !== RemovalPolicy.DESTROY) {
      throw new Error(`removalPolicy must be RETAIN or DESTROY (got ${removalPolicy})`);
    }
    const destroy = removalPolicy === RemovalPolicy.DESTROY;
    if (props.bucket && destroy) {
      throw new Error('removalPolicy DESTROY cannot be combined with an imported bucket: the construct never deletes a bucket it does not own');
    }
    if (props.bucket?.encryptionKey && props.encryptionKey && props.bucket.encryptionKey !== props.encryptionKey) {
      throw new Error('encryptionKey must be the key of the given bucket (bucket.encryptionKey) when the bucket carries one');
    }
    if (props.alertTopic && (props.alarmEmails?.length ?? 0) > 0) {
      throw new Error('alarmEmails subscribes the topic the construct creates; it cannot be combined with alertTopic (subscribe your own topic yourself)');
    }
    this.prefixes = {
      raw: props.rawPrefix ?? DEFAULT_PREFIXES.rawPrefix,
      validated: props.validatedPrefix ?? DEFAULT_PREFIXES.validatedPrefix,
      expiring: props.expiringPrefix ?? DEFAULT_PREFIXES.expiringPrefix,
      quarantine: props.quarantinePrefix ?? DEFAULT_PREFIXES.quarantinePrefix,
      curated: props.curatedPrefix ?? DEFAULT_PREFIXES.curatedPrefix,
      results: props.resultsPrefix ?? DEFAULT_PREFIXES.resultsPrefix,
      production: props.productionPrefix ?? DEFAULT_PREFIXES.productionPrefix,
      athenaResults: props.athenaResultsPrefix ?? DEFAULT_PREFIXES.athenaResultsPrefix,
    };
    validatePrefixes(this.prefixes);
    const p = this.prefixes;
    this.rawPrefix = p.raw;
    this.validatedPrefix = p.validated;
    this.expiringPrefix = p.expiring;
    this.quarantinePrefix = p.quarantine;
    this.curatedPrefix = p.curated;
    this.resultsPrefix = p.results;
    this.productionPrefix = p.production;
    this.athenaResultsPrefix = p.athenaResults;

    const expiryMonths = validateInteger('expiryMonths', props.expiryMonths ?? EXPIRY_MONTHS.default, EXPIRY_MONTHS.min, EXPIRY_MONTHS.max);
    const maxQueryPolls = validateInteger('maxQueryPolls', props.maxQueryPolls ?? 40, 1, 1000);
    const bytesCutoff = validateInteger('bytesScannedCutoffPerQuery', props.bytesScannedCutoffPerQuery ?? 10 * 1024 ** 3,
      10_000_000, Number.MAX_SAFE_INTEGER);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const logLevel = validateLogLevel(props.lambdaLogLevel ?? 'INFO');
    const reserved = props.reservedConcurrentExecutions === undefined
      ? undefined : validateInteger('reservedConcurrentExecutions', props.reservedConcurrentExecutions, 1, 100_000);
    const processorTimeout = props.processorTimeout ?? Duration.minutes(10);
    validateInteger('processorTimeout (seconds)', processorTimeout.toSeconds(), 10, 900);
    const processorMemory = validateInteger('processorMemorySize', props.processorMemorySize ?? 1024, 128, 10240);
    const queryTimeout = props.queryTimeout ?? Duration.minutes(2);
    validateInteger('queryTimeout (seconds)', queryTimeout.toSeconds(), QUERY_WAIT_SAFETY_MS / 1000 + 20, 900);
    const pollInterval = props.queryPollInterval ?? Duration.seconds(15);
    validateInteger('queryPollInterval (seconds)', pollInterval.toSeconds(), 1, 3600);
    const machineTimeout = props.stateMachineTimeout ?? Duration.hours(3);
    validateInteger('stateMachineTimeout (seconds)', machineTimeout.toSeconds(), 60, 365 * 24 * 3600);
    // pendingInputWindow is deprecated and ignored (the ticket replaced the pending-input wait).
    const quietPeriod = props.snapshotQuietPeriod ?? Duration.seconds(30);
    validateInteger('snapshotQuietPeriod (seconds)', quietPeriod.toSeconds(), 1, 3600);
    if (quietPeriod.toSeconds() >= machineTimeout.toSeconds()) {
      throw new Error(`snapshotQuietPeriod (${quietPeriod.toSeconds()} s) must be shorter than stateMachineTimeout (${machineTimeout.toSeconds()} s)`);
    }
    const resultsExpiration = props.athenaResultsExpiration ?? Duration.days(7);
    validateInteger('athenaResultsExpiration (days)', resultsExpiration.toDays(), 1, 3650);
    // Well above the longest execution that could still promote a staging folder: twice stateMachineTimeout, at least 7 days.
    const stagingExpiration = Duration.days(Math.max(7, Math.ceil((2 * machineTimeout.toSeconds()) / 86_400)));
    const emails = validateEmails(props.alarmEmails ?? []);
    const derived = Names.uniqueResourceName(this, { maxLength: 60, separator: '_' }).toLowerCase().replace(/[^a-z0-9_]/g, '_');
    this.databaseName = validateDatabaseName(props.databaseName ?? `medlaunch_elt_${derived}`);
    this.workGroupName = validateWorkGroupName(props.workGroupName ?? `medlaunch-elt-${derived.replace(/_/g, '-')}`);
    // Every alarm is named <alarmNamePrefix><what>, so the topic and key policies can let CloudWatch act for
    // exactly these alarms (aws:SourceArn); alarms are deleted with the stack, so the names never block a redeploy.
    this.alarmNamePrefix = `medlaunch-elt-${derived.replace(/_/g, '-')}-`;
    const alarmArnPattern = Stack.of(this).formatArn({
      service: 'cloudwatch', resource: 'alarm', resourceName: `${this.alarmNamePrefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    // ---------------------------------------------------------------- encryption key
    const key = props.encryptionKey ?? props.bucket?.encryptionKey ?? new kms.Key(this, 'Key', {
      description: `medlaunch-elt pipeline ${this.node.path}: data, logs, alerts and queues`,
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(30),
    });
    this.encryptionKey = key;
    if (key instanceof kms.Key) this.allowServicesToUseKey(key, alarmArnPattern);

    // ---------------------------------------------------------------- storage
    if (props.bucket) {
      this.bucket = props.bucket;
    } else {
      const accessLogs = new s3.Bucket(this, 'AccessLogsBucket', {
        // S3 server access logs can only be delivered to SSE-S3 buckets.
        // Object ownership is left to CDK: ObjectWriter with the log-delivery ACL, or a bucket
        // policy for the logging service under @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy.
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        versioned: true,
        removalPolicy,
        autoDeleteObjects: destroy,
        lifecycleRules: [
          { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
          { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(90) },
        ],
      });
      this.accessLogsBucket = accessLogs;
      this.bucket = new s3.Bucket(this, 'DataBucket', {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: key,
        bucketKeyEnabled: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        versioned: true,
        eventBridgeEnabled: true,
        serverAccessLogsBucket: accessLogs,
        serverAccessLogsPrefix: 'data-bucket/',
        removalPolicy,
        autoDeleteObjects: destroy,
        lifecycleRules: [
          { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
          { id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(90) },
          // Deleting an object of a versioned bucket leaves a delete marker; once its noncurrent versions have
          // expired it is an "expired object delete marker" that S3 removes only when a rule says so (S3 User
          // Guide, lifecycle configuration elements). Athena results expiry and the _staging/ churn create many.
          { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
          {
            id: 'expire-athena-query-results',
            prefix: p.athenaResults,
            expiration: resultsExpiration,
            noncurrentVersionExpiration: Duration.days(1),
          },
          {
            // A computation's UNLOAD staging folder is deleted when it is promoted; one abandoned by an execution that
            // timed out or was stopped expires here, long after any execution that could still promote it has ended.
            id: 'expire-abandoned-staging',
            prefix: `${p.curated}_staging/`,
            expiration: stagingExpiration,
            noncurrentVersionExpiration: Duration.days(1),
          },
        ],
      });
    }
    const bucketName = this.bucket.bucketName;
    this.athenaOutputLocation = `s3://${bucketName}/${p.athenaResults}`;

    // ---------------------------------------------------------------- Glue catalog
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: this.databaseName,
        description: 'medlaunch-elt: validated facility records and their Stage 1 extract',
      },
    });
    // The catalog and the workgroup hold no data (the data is in S3) but have fixed names: they are always deleted
    // with the stack, so deleting the stack and deploying it again never meets "already exists" (README, "Removal").
    this.database.applyRemovalPolicy(RemovalPolicy.DESTROY);
    const projection = (prefix: string): Record<string, string> => ({
      'projection.enabled': 'true',
      'projection.snapshot_date.type': 'date',
      'projection.snapshot_date.format': 'yyyy-MM-dd',
      'projection.snapshot_date.range': SNAPSHOT_PROJECTION_RANGE,
      'projection.snapshot_date.interval': '1',
      'projection.snapshot_date.interval.unit': 'DAYS',
      'storage.location.template': `s3://${bucketName}/${prefix}snapshot_date=\${snapshot_date}/`,
    });
    this.validatedTable = new glue.CfnTable(this, 'ValidatedTable', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: this.databaseName,
      tableInput: {
        name: VALIDATED_TABLE,
        description: 'Every valid facility record (Stage 2 output), NDJSON, one partition per snapshot',
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'json', EXTERNAL: 'TRUE', ...projection(p.validated) },
        partitionKeys: [{ name: 'snapshot_date', type: 'string' }],
        storageDescriptor: {
          location: `s3://${bucketName}/${p.validated}`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: {
            serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
            parameters: { 'ignore.malformed.json': 'FALSE', 'case.insensitive': 'TRUE', 'dots.in.keys': 'FALSE' },
          },
          columns: glueColumnsFromSchema().map((c) => ({ name: c.name, type: c.type })),
        },
      },
    });
    this.validatedTable.addDependency(this.database);
    this.validatedTable.applyRemovalPolicy(RemovalPolicy.DESTROY);
    this.curatedTable = new glue.CfnTable(this, 'CuratedTable', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: this.databaseName,
      tableInput: {
        name: CURATED_TABLE,
        description: 'Stage 1 facility extract, Parquet, one partition per snapshot',
        tableType: 'EXTERNAL_TABLE',
        parameters: { 'classification': 'parquet', 'EXTERNAL': 'TRUE', 'parquet.compression': 'SNAPPY', ...projection(p.curated) },
        partitionKeys: [{ name: 'snapshot_date', type: 'string' }],
        storageDescriptor: {
          location: `s3://${bucketName}/${p.curated}`,
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          columns: CURATED_COLUMNS.map((c) => ({ name: c.name, type: c.type })),
        },
      },
    });
    this.curatedTable.addDependency(this.database);
    this.curatedTable.applyRemovalPolicy(RemovalPolicy.DESTROY);

    // ---------------------------------------------------------------- Athena workgroup
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
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
        bytesScannedCutoffPerQuery: bytesCutoff,
        resultConfiguration: {
          outputLocation: this.athenaOutputLocation,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: key.keyArn },
          expectedBucketOwner: Aws.ACCOUNT_ID,
          // No AclConfiguration: with it Athena sends x-amz-acl on every result and UNLOAD file (Athena API
          // Reference, AclConfiguration), which needs s3:PutObjectAcl and does nothing on a BucketOwnerEnforced
          // bucket (ACLs disabled; the bucket owner owns every object).
        },
      },
    });
    this.workGroup.applyRemovalPolicy(RemovalPolicy.DESTROY);

    // ---------------------------------------------------------------- Lambda functions
    const environment: Record<string, string> = {
      [ENV.dataBucket]: bucketName,
      [PREFIX_ENV.rawPrefix]: p.raw,
      [PREFIX_ENV.validatedPrefix]: p.validated,
      [PREFIX_ENV.expiringPrefix]: p.expiring,
      [PREFIX_ENV.quarantinePrefix]: p.quarantine,
      [PREFIX_ENV.curatedPrefix]: p.curated,
      [PREFIX_ENV.resultsPrefix]: p.results,
      [PREFIX_ENV.productionPrefix]: p.production,
      [PREFIX_ENV.athenaResultsPrefix]: p.athenaResults,
      [ENV.glueDatabase]: this.databaseName,
      [ENV.validatedTable]: VALIDATED_TABLE,
      [ENV.curatedTable]: CURATED_TABLE,
      [ENV.athenaWorkgroup]: this.workGroupName,
      [ENV.athenaOutputLocation]: this.athenaOutputLocation,
      [ENV.expiryMonths]: String(expiryMonths),
      [ENV.queryWaitSafetyMs]: String(QUERY_WAIT_SAFETY_MS),
      [ENV.logLevel]: logLevel,
    };
    const makeFunction = (fnId: string, asset: LambdaAssetName, description: string, timeout: Duration, memorySize: number) => {
      const logGroup = new logs.LogGroup(this, `${fnId}Logs`, {
        retention: logRetention,
        encryptionKey: key,
        removalPolicy,
      });
      const role = new iam.Role(this, `${fnId}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `medlaunch-elt ${asset}`,
      });
      // Instead of AWSLambdaBasicExecutionRole: write only to the function's own log group.
      // logGroupArn (Fn::GetAtt Arn) already ends in ':*'; the streams' ARN is built from the name instead
      // (arn:...:log-group:<name>:log-stream:*), not appended to it.
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn, Stack.of(this).formatArn({
          service: 'logs', resource: 'log-group', resourceName: `${logGroup.logGroupName}:log-stream:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        })],
      }));
      const fn = new lambda.Function(this, fnId, {
        description,
        code: lambda.Code.fromAsset(lambdaAssetPath(asset)),
        handler: 'index.handler',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        timeout,
        memorySize,
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        environment: { ...environment, [ENV.serviceName]: `medlaunch-elt-${asset}` },
        environmentEncryption: key,
        // No async dead-letter queue: Step Functions invokes the functions synchronously (RequestResponse), so a
        // Lambda DLQ, which only receives failed asynchronous invocations, could never receive anything.
        // Failures reach the state machine's Retry/Catch instead (README, "Alerting").
        reservedConcurrentExecutions: reserved,
      });
      fn.node.addDependency(this.workGroup);
      return fn;
    };
    this.processorFunction = makeFunction('Processor', 'validator',
      'Stage 2: validates a raw file, writes validated, expiring and quarantined records', processorTimeout, processorMemory);
    this.queryFunction = makeFunction('QueryRunner', 'query-runner',
      'Stages 1 and 3: runs the Athena facility extract and state counts', queryTimeout, 512);
    this.publishFunction = makeFunction('Publisher', 'publish-results',
      'Stage 4: publishes the state counts of a successful run to the production path', Duration.minutes(1), 256);

    // Least privilege: each function reaches only the prefixes it reads or writes.
    // The processor also writes and reads the snapshot tickets (<validated>_coordination/) and removes the outputs of
    // a deleted raw object (docs/runtime.md, "Coordinating a snapshot's files", "Deleted files").
    this.grantPrefixes(this.processorFunction, {
      read: [p.raw],
      write: [p.validated, p.expiring, p.quarantine],
      delete: [p.validated, p.expiring, p.quarantine],
    });
    this.grantPrefixes(this.queryFunction, {
      read: [p.validated],
      write: [p.curated, p.results, p.athenaResults],
      delete: [p.curated],
    });
    this.grantAthena(this.queryFunction);
    this.grantPrefixes(this.publishFunction, { read: [p.results], write: [p.production] });

    // ---------------------------------------------------------------- alerting
    if (props.alertTopic) {
      this.alertTopic = props.alertTopic;
    } else {
      const topic = new sns.Topic(this, 'AlertTopic', {
        displayName: 'medlaunch-elt pipeline alerts',
        masterKey: key,
        enforceSSL: true,
      });
      for (const email of emails) topic.addSubscription(new subs.EmailSubscription(email));
      // enforceSSL makes CDK write an AWS::SNS::TopicPolicy, which replaces the topic's default policy: without
      // this statement CloudWatch could not publish and no alarm would ever notify. Scoped as the SNS docs
      // recommend against the confused deputy: this account, and only this construct's alarms.
      topic.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: { 'aws:SourceArn': alarmArnPattern },
        },
      }));
      this.alertTopic = topic;
    }

    // ---------------------------------------------------------------- state machine
    // Under /aws/vendedlogs/ (Step Functions docs, "Avoiding CloudWatch Logs resource policy size restrictions"),
    // ending in the stack's id (a new UUID for every created stack): a log group RETAINed from a deleted stack never
    // collides with the next deployment's.
    const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
    this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      logGroupName: `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}-${stackUuid}`,
      retention: logRetention,
      encryptionKey: key,
      removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      comment: 'medlaunch-elt: Stage 2 on the new object, then Stage 1 and Stage 3 for its snapshot, then Stage 4',
      definitionBody: sfn.DefinitionBody.fromChainable(
        this.buildDefinition(processorTimeout, queryTimeout, pollInterval, maxQueryPolls, quietPeriod)),
      timeout: machineTimeout,
      tracingEnabled: true,
      logs: { destination: this.stateMachineLogGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      removalPolicy,
    });

    // Publishing to a KMS-encrypted topic needs the topic's key.
    const topicKey = props.alertTopic ? props.alertTopic.masterKey : key;
    topicKey?.grant(this.stateMachine, 'kms:Decrypt', 'kms:GenerateDataKey');

    // ---------------------------------------------------------------- EventBridge rule
    this.ruleDeadLetterQueue = this.createQueue('RuleDlq', removalPolicy);
    this.rule = new events.Rule(this, 'ObjectCreatedRule', {
      description: `Starts the medlaunch-elt state machine for every data file (${DATA_FILE_EXTENSIONS.join(', ')}) created or deleted under ${p.raw}`,
      eventPattern: {
        source: ['aws.s3'],
        // "Object Deleted" covers DeleteObject (deletion-type "Permanently Deleted" or "Delete Marker Created") and
        // lifecycle expiration (S3 User Guide, "Using EventBridge").
        detailType: ['Object Created', 'Object Deleted'],
        detail: {
          bucket: { name: [bucketName] },
          object: { key: dataFileKeyPattern(p.raw) },
        },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine, {
        deadLetterQueue: this.ruleDeadLetterQueue,
        retryAttempts: 10,
        maxEventAge: Duration.hours(6),
      })],
    });
    this.dlqs = [this.ruleDeadLetterQueue];

    // ---------------------------------------------------------------- alarms
    const action = new cwActions.SnsAction(this.alertTopic);
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        alarmName: `${this.alarmNamePrefix}${alarmId.replace(/Alarm$/, '')}`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      return a;
    };
    const period = Duration.minutes(5);
    // One failure, one alert (README, "Alerting"). NotifyFailure (execution, object, error, cause) is THE alert of
    // every failure the definition catches; alarms cover only what it cannot: failures that never reached it or
    // where it failed itself, timeouts, aborts, and events that never started an execution. Lambda errors are not
    // alarmed: a retried error that then succeeds must not page, and one that is not retried reaches NotifyFailure.
    const notAlerted = new logs.MetricFilter(this, 'FailuresNotAlertedFilter', {
      logGroup: this.stateMachineLogGroup,
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$.type', '=', 'ExecutionFailed'),
        logs.FilterPattern.any(...UNALERTED_ERRORS.map((e) => logs.FilterPattern.stringValue('$.details.error', '=', e))),
      ),
      metricNamespace: 'medlaunch-elt',
      metricName: `${this.alarmNamePrefix}FailuresNotAlerted`,
      metricValue: '1',
    });
    this.failuresNotAlertedAlarm = alarm('FailuresNotAlertedAlarm', notAlerted.metric({ period, statistic: 'Sum' }),
      `An execution failed without its NotifyFailure alert (${UNALERTED_ERRORS.join(', ')}): see the state machine's executions and log group`);
    this.executionsFailedAlarm = this.failuresNotAlertedAlarm;
    this.executionsTimedOutAlarm = alarm('ExecutionsTimedOutAlarm',
      this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }), 'A pipeline execution timed out (stateMachineTimeout); no NotifyFailure alert was sent');
    this.executionsAbortedAlarm = alarm('ExecutionsAbortedAlarm',
      this.stateMachine.metricAborted({ period, statistic: 'Sum' }), 'A pipeline execution was aborted (stopped); no NotifyFailure alert was sent');
    const ruleDlqAlarm = alarm('RuleDlqDepthAlarm', this.ruleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      'The dead-letter queue of the EventBridge rule holds events that never started an execution');
    // A target invocation that failed permanently lands in the DLQ (the alarm above) or, when even that fails, is
    // counted here (EventBridge metrics, InvocationsFailedToBeSentToDlq): the two never count the same event.
    const lostEvents = alarm('RuleEventsLostAlarm', new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'InvocationsFailedToBeSentToDlq',
      dimensionsMap: { RuleName: this.rule.ruleName },
      period,
      statistic: 'Sum',
    }), 'The EventBridge rule could neither start an execution nor put the event in its dead-letter queue: the object was not processed');
    this.alarms = [this.failuresNotAlertedAlarm, this.executionsTimedOutAlarm, this.executionsAbortedAlarm, ruleDlqAlarm, lostEvents];

    this.acknowledgeNagFindings(reserved !== undefined);
  }

  /**
   * Lets `grantee` upload raw input files (`PutObject` under the raw prefix, with the KMS key).
   */
  public grantWriteRaw(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resourceArns: [this.bucket.arnForObjects(`${this.prefixes.raw}*`)],
    });
    this.encryptionKey.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
    return grant;
  }

  /**
   * Lets `grantee` read the Stage 3 results and the published production results.
   *
   * Includes `s3:ListBucket` on the bucket (no prefix condition), so a GET or HEAD of a key that does not
   * exist yet answers 404 rather than 403; the grantee can list key names of the bucket, never read other objects.
   */
  public grantReadResults(grantee: iam.IGrantable): iam.Grant {
    const grant = this.grantPrefixes(grantee, { read: [this.prefixes.results, this.prefixes.production] });
    return grant;
  }

  /**
   * Lets `grantee` run Athena queries in the pipeline's workgroup over its two tables
   * (the data they read, the query results location and the KMS key included).
   *
   * Like `grantReadResults`, includes `s3:ListBucket` on the bucket, so missing keys answer 404.
   */
  public grantRunQueries(grantee: iam.IGrantable): iam.Grant {
    const grant = this.grantPrefixes(grantee, {
      read: [this.prefixes.validated, this.prefixes.curated],
      write: [this.prefixes.athenaResults],
    });
    this.grantAthena(grantee);
    return grant;
  }

  /** Object-level access under prefixes, ListBucket on the bucket (404 for missing keys), and the key. */
  private grantPrefixes(grantee: iam.IGrantable, access: { read?: string[]; write?: string[]; delete?: string[] }): iam.Grant {
    const read = access.read ?? [];
    const write = access.write ?? [];
    const del = access.delete ?? [];
    const objects = (prefixes: string[]) => prefixes.map((x) => this.bucket.arnForObjects(`${x}*`));
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
      resources: [this.bucket.bucketArn],
    }));
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:GetBucketLocation'],
      resources: [this.bucket.bucketArn],
    }));
    // SSE-KMS: GenerateDataKey to write an object, Decrypt to read one (and to complete multipart uploads).
    if (write.length > 0) {
      this.encryptionKey.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
    } else {
      this.encryptionKey.grant(grantee, 'kms:Decrypt');
    }
    return grant;
  }

  /** Athena on the workgroup and Glue read access to the database and its two tables. */
  private grantAthena(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    const workGroupArn = stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroupName });
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
      resourceArns: [this.bucket.bucketArn],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions'],
      resourceArns: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${VALIDATED_TABLE}` }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${CURATED_TABLE}` }),
      ],
    });
  }

  /**
   * cdk-nag (AwsSolutions, HIPAA Security) findings that are deliberate, each recorded on its one
   * resource with the reason (listed in docs/construct.md, "Compliance").
   */
  private acknowledgeNagFindings(hasReservedConcurrency: boolean): void {
    const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    const prefixObjects = {
      id: 'AwsSolutions-IAM5',
      reason: 'Object-level S3 actions are scoped to the pipeline prefixes the role reads or writes (<bucket>/<prefix>*), the narrowest grant for keys that are only known at run time.',
      appliesTo: Object.values(this.prefixes).map((x) => ({ regex: `/^Resource::.+\\/${escape(x)}\\*$/` })),
    };
    const inline = {
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason: 'The policy belongs to exactly one role, is generated from least-privilege grants and is created and deleted with it; a customer-managed policy would add no control.',
    };
    for (const fn of [this.processorFunction, this.queryFunction, this.publishFunction]) {
      const policy = fn.role!.node.tryFindChild('DefaultPolicy');
      if (policy) {
        acknowledge(policy, [
          {
            id: 'AwsSolutions-IAM5',
            reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (Resource "*") and are needed for active X-Ray tracing.',
            appliesTo: ['Resource::*'],
          },
          {
            id: 'AwsSolutions-IAM5',
            reason: 'Log streams are created by the Lambda service with run-time names; the grant is limited to the streams of the function\'s own log group.',
            appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:logs:.+:log-group:<[^>]+>:log-stream:\\*$/' }],
          },
          prefixObjects,
          inline,
        ]);
      }
      const rules: NagAcknowledgement[] = [{
        id: 'HIPAA.Security-LambdaInsideVPC',
        reason: 'The functions call only regional AWS APIs (S3, Athena, Glue, SNS) over TLS with IAM authentication and reach no private network resources; a VPC would add NAT or endpoints without reducing exposure.',
      }, {
        id: 'HIPAA.Security-LambdaDLQ',
        reason: 'Step Functions invokes the function synchronously; a Lambda dead-letter queue only receives failed asynchronous invocations and would stay empty. Every failure reaches the state machine (Retry, then Catch to the NotifyFailure alert).',
      }];
      if (!hasReservedConcurrency) {
        rules.push({
          id: 'HIPAA.Security-LambdaConcurrency',
          reason: 'Reserved concurrency is opt-in (prop reservedConcurrentExecutions): reserving it by default fails in accounts with a low concurrency quota. Executions are bounded by the EventBridge rule and the state machine.',
        });
      }
      acknowledge(fn, rules);
    }
    const smPolicy = this.stateMachine.role.node.tryFindChild('DefaultPolicy');
    if (smPolicy) {
      acknowledge(smPolicy, [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'Step Functions needs Resource "*" for X-Ray (xray:PutTraceSegments, GetSamplingRules) and for CloudWatch Logs delivery (logs:CreateLogDelivery and related actions have no resource-level permissions).',
          appliesTo: ['Resource::*'],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'lambda:InvokeFunction on <function ARN>:* covers the versions and aliases of the pipeline\'s own three functions only (CDK LambdaInvoke grant).',
          appliesTo: [{ regex: '/^Resource::<.+\\.Arn>:\\*$/' }],
        },
        inline,
      ]);
    }
    const eventsRole = this.stateMachine.node.tryFindChild('EventsRole');
    const eventsPolicy = eventsRole?.node.tryFindChild('DefaultPolicy');
    if (eventsPolicy) acknowledge(eventsPolicy, [inline]);
    acknowledge(this.ruleDeadLetterQueue, [{
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge rule target; it is alarmed on depth.',
    }]);
    const replication = {
      id: 'HIPAA.Security-S3BucketReplicationEnabled',
      reason: 'Cross-region replication is an account-level disaster-recovery decision (destination bucket, region, key); the bucket is versioned so replication can be added without changes here.',
    };
    if (this.bucket instanceof s3.Bucket && this.bucket.node.scope === this) acknowledge(this.bucket, [replication]);
    if (this.accessLogsBucket) {
      acknowledge(this.accessLogsBucket, [
        replication,
        {
          id: 'HIPAA.Security-S3DefaultEncryptionKMS',
          reason: 'S3 server access logs can only be delivered to a bucket with SSE-S3 default encryption (SSE-KMS is not supported for the log target); the logs hold request metadata, not records.',
        },
        {
          id: 'AwsSolutions-S1',
          reason: 'This is the server access log bucket itself; logging it to itself would loop.',
        },
      ]);
    }
    // The stack-wide handler that CDK adds to turn on EventBridge notifications of the data bucket.
    const stack = Stack.of(this);
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
      const role = child.node.tryFindChild('Role');
      if (role) {
        acknowledge(role, [{
          id: 'AwsSolutions-IAM4',
          reason: 'CDK-owned singleton that calls PutBucketNotificationConfiguration once per deployment; it uses AWSLambdaBasicExecutionRole for its own logs.',
          appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
        }]);
        const policy = role.node.tryFindChild('DefaultPolicy');
        if (policy) acknowledge(policy, [inline]);
      }
    }
  }

  /** A KMS-encrypted SQS dead-letter queue that only accepts TLS requests. */
  private createQueue(queueId: string, removalPolicy: RemovalPolicy): sqs.Queue {
    return new sqs.Queue(this, queueId, {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.encryptionKey,
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
  }

  /** Key policy statements for the services that encrypt with the key on the pipeline's behalf. */
  private allowServicesToUseKey(key: kms.Key, alarmArnPattern: string): void {
    const stack = Stack.of(this);
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchLogs',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: { 'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
      },
    }));
    // EventBridge writes to the KMS-encrypted rule DLQ.
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowEventBridge',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }));
    // CloudWatch alarms publish to the KMS-encrypted alert topic (SNS docs, "Enable compatibility between event
    // sources from AWS services and encrypted topics"): only this construct's alarms.
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarms',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': alarmArnPattern },
      },
    }));
  }

  /** The Stage 4 state machine (docs/design.md, "Handlers and the state machine"). */
  private buildDefinition(processorTimeout: Duration, queryTimeout: Duration, pollInterval: Duration, maxPolls: number,
    quietPeriod: Duration): sfn.IChainable {
    const retryTransient = (task: tasks.LambdaInvoke) => task.addRetry({
      errors: TRANSIENT_LAMBDA_ERRORS,
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
      maxDelay: Duration.seconds(60),
      jitterStrategy: sfn.JitterType.FULL,
    }).addRetry({
      // A timed-out invocation is retried too: every handler is idempotent (Stage 2 output keys derive from the
      // input key, queries carry an idempotency token, publishing is a compare-and-swap on watermarks).
      errors: TIMEOUT_ERRORS,
      interval: Duration.seconds(5),
      maxAttempts: 2,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    const slack = Duration.seconds(60);
    const invoke = (stateId: string, fn: lambda.IFunction, payload: sfn.TaskInput, timeout: Duration, comment: string,
      output: { resultSelector?: Record<string, unknown>; resultPath?: string; outputPath?: string }) => {
      const task = new tasks.LambdaInvoke(this, stateId, {
        lambdaFunction: fn,
        payload,
        comment,
        retryOnServiceExceptions: false,
        payloadResponseOnly: false,
        taskTimeout: sfn.Timeout.duration(timeout.plus(slack)),
        ...output,
      });
      retryTransient(task);
      return task;
    };

    // Failure path: every Catch puts {Error, Cause} at $.error; $.object names the object.
    const failed = new sfn.Fail(this, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const notify = new tasks.SnsPublish(this, 'NotifyFailure', {
      comment: 'Alert: which execution failed, on which object, with which error',
      topic: this.alertTopic,
      subject: 'medlaunch-elt: a pipeline execution failed',
      message: sfn.TaskInput.fromObject({
        execution: sfn.JsonPath.executionId,
        executionName: sfn.JsonPath.executionName,
        stateMachine: sfn.JsonPath.stateMachineName,
        startTime: sfn.JsonPath.executionStartTime,
        bucket: sfn.JsonPath.stringAt('$.object.bucket'),
        key: sfn.JsonPath.stringAt('$.object.key'),
        object: sfn.JsonPath.format('s3://{}/{}', sfn.JsonPath.stringAt('$.object.bucket'), sfn.JsonPath.stringAt('$.object.key')),
        error: sfn.JsonPath.stringAt('$.error.Error'),
        cause: sfn.JsonPath.stringAt('$.error.Cause'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(60)),
    });
    notify.addRetry({
      errors: ['SNS.InternalErrorException', 'SNS.ThrottledException', 'SNS.KMSThrottlingException', 'SNS.SdkClientException', 'States.Timeout'],
      interval: Duration.seconds(2),
      maxAttempts: 5,
      backoffRate: 2,
      maxDelay: Duration.seconds(30),
      jitterStrategy: sfn.JitterType.FULL,
    });
    // If the alert itself cannot be published (retries exhausted, KMS or policy broken), the execution fails with a
    // fixed error name that the FailuresNotAlerted alarm counts: the failure is then reported by the alarm instead.
    const alertNotDelivered = new sfn.Fail(this, 'AlertNotDelivered', {
      comment: 'NotifyFailure could not publish: the FailuresNotAlerted alarm reports this execution',
      error: ALERT_NOT_DELIVERED,
      causePath: '$.alertError.Cause',
    });
    notify.addCatch(alertNotDelivered, { errors: ['States.ALL'], resultPath: '$.alertError' });
    notify.next(failed);

    // 0. Only S3 "Object Created" / "Object Deleted" events (as the rule sends them) and manual {bucket, key} starts.
    const reject = new sfn.Pass(this, 'RejectInput', {
      comment: 'The input does not name a bucket and key: alert without processing',
      parameters: {
        'object': { bucket: 'unknown', key: 'unknown' },
        'input.$': '$',
        'error': { Error: 'InvalidEventError', Cause: 'the execution input is not an S3 "Object Created" or "Object Deleted" event (detail.bucket.name, detail.object.key)' },
      },
    });
    reject.next(notify);
    const describe = new sfn.Pass(this, 'DescribeObject', {
      comment: 'Names the object of the EventBridge event for the rest of the run and for alerts',
      parameters: { 'bucket.$': '$.detail.bucket.name', 'key.$': '$.detail.object.key' },
      resultPath: '$.object',
    });
    const describeManual = new sfn.Pass(this, 'DescribeManualObject', {
      comment: 'Names the object of a manual start {bucket, key} (a re-run of one file)',
      parameters: { 'bucket.$': '$.bucket', 'key.$': '$.key' },
      resultPath: '$.object',
    });

    // After Stage 2, a failure of a later state is kept at $.laterError: the alert names the first error of the
    // execution (Stage 2's, when it failed and the execution still coordinated its snapshot).
    const laterError = new sfn.Pass(this, 'UseLaterError', {
      comment: 'No earlier error: the alert names the error of the coordination or refresh state',
      parameters: { 'Error.$': '$.laterError.Error', 'Cause.$': '$.laterError.Cause' },
      resultPath: '$.error',
    });
    laterError.next(notify);
    const alertWhich = new sfn.Choice(this, 'AlertWhichError')
      .when(sfn.Condition.isPresent('$.error'), notify)
      .otherwise(laterError);
    const catchLater = (state: tasks.LambdaInvoke | sfn.Parallel) => state.addCatch(alertWhich, { errors: ['States.ALL'], resultPath: '$.laterError' });

    // 1. Stage 2 on the object: validate a created one, remove the outputs of a deleted one (the handler dispatches).
    const processObject = invoke('ProcessObject', this.processorFunction,
      sfn.TaskInput.fromJsonPathAt('$'),
      processorTimeout, 'Stage 2: validate the file (write validated/expiring/quarantine), or remove the outputs of a deleted file',
      { resultSelector: { 'summary.$': '$.Payload' }, resultPath: '$.process' });

    // 2. The snapshot's ticket (docs/runtime.md, "Coordinating a snapshot's files"): written after Stage 2 (also when
    // Stage 2 failed: a failed file never holds its snapshot back), read back after the quiet period. Only the
    // execution it then names refreshes the snapshot; the others end superseded.
    const ticketPayload = (op: 'claim' | 'check') => sfn.TaskInput.fromObject({
      'coordination': op,
      'bucket.$': '$.object.bucket',
      'object.$': '$.object.key',
      'execution.$': '$$.Execution.Id',
    });
    const claim = invoke('ClaimSnapshot', this.processorFunction, ticketPayload('claim'), Duration.seconds(30),
      'Write the snapshot ticket naming this execution (one PutObject)',
      { resultSelector: { 'bucket.$': '$.Payload.bucket', 'key.$': '$.Payload.object', 'snapshotDate.$': '$.Payload.snapshotDate' }, resultPath: '$.snapshot' });
    catchLater(claim);
    processObject.addCatch(claim, { errors: ['States.ALL'], resultPath: '$.error' });
    const quiet = new sfn.Wait(this, 'WaitQuietPeriod', {
      comment: 'Let the snapshot\'s other files finish: a later file\'s execution takes the ticket over',
      time: sfn.WaitTime.duration(quietPeriod),
    });
    const readTicket = invoke('ReadTicket', this.processorFunction, ticketPayload('check'), Duration.seconds(30),
      'Read the snapshot ticket back (one GetObject): does it still name this execution?',
      { resultSelector: { 'latest.$': '$.Payload.latest', 'ticket.$': '$.Payload' }, resultPath: '$.ticket' });
    catchLater(readTicket);

    // 3. Stage 1 and Stage 3 for the snapshot, each a start/poll loop with a cap.
    const queryBranch = (name: string, query: string, label: string) => {
      const start = invoke(`Start${name}`, this.queryFunction, sfn.TaskInput.fromObject({
        query,
        'bucket.$': '$.snapshot.bucket',
        'key.$': '$.snapshot.key',
        'snapshotDate.$': '$.snapshot.snapshotDate',
        'asOf.$': '$.options.asOf',
        'polls': 0,
      }), queryTimeout, `Start the ${label} query`, { outputPath: '$.Payload' });
      const poll = invoke(`Poll${name}`, this.queryFunction, sfn.TaskInput.fromJsonPathAt('$'), queryTimeout,
        `Check the ${label} query again (the QueryStatus carries queryExecutionId and polls)`, { outputPath: '$.Payload' });
      const wait = new sfn.Wait(this, `WaitFor${name}`, { time: sfn.WaitTime.duration(pollInterval) });
      const tooMany = new sfn.Fail(this, `${name}PollLimitExceeded`, {
        error: 'QueryPollLimitExceeded',
        cause: `the ${label} query did not finish within ${maxPolls} calls of the query runner`,
      });
      const ready = new sfn.Succeed(this, `${name}Ready`);
      const isDone = new sfn.Choice(this, `Is${name}Done`)
        .when(sfn.Condition.booleanEquals('$.done', true), ready)
        .when(sfn.Condition.numberGreaterThanEquals('$.polls', maxPolls), tooMany)
        .otherwise(wait.next(poll));
      poll.next(isDone);
      return start.next(isDone);
    };
    const refresh = new sfn.Parallel(this, 'RefreshSnapshot', {
      comment: 'Stage 1 (facility extract) and Stage 3 (state counts) for the snapshot of the object',
      resultSelector: { 'extract.$': '$[0]', 'stateCounts.$': '$[1]' },
      resultPath: '$.refresh',
    })
      .branch(queryBranch('Extract', 'facility_extract', 'Stage 1 facility extract'))
      .branch(queryBranch('StateCounts', 'state_counts', 'Stage 3 state counts'));
    catchLater(refresh);

    // 4. Stage 4.
    const publish = invoke('PublishResults', this.publishFunction, sfn.TaskInput.fromObject({
      'bucket.$': '$.snapshot.bucket',
      'snapshotDate.$': '$.snapshot.snapshotDate',
      'results.$': '$.refresh.stateCounts',
    }), Duration.minutes(1), 'Stage 4: publish the state counts to the production path',
    { resultSelector: { 'published.$': '$.Payload' }, resultPath: '$.publish' });
    catchLater(publish);

    // 5. The end: an execution whose Stage 2 failed alerts (once) after coordinating; the others succeed.
    const stage2Failed = sfn.Condition.isPresent('$.error');
    const afterPublish = new sfn.Choice(this, 'AfterRefresh')
      .when(stage2Failed, notify)
      .otherwise(new sfn.Succeed(this, 'Done'));
    const superseded = new sfn.Choice(this, 'AfterSuperseded')
      .when(stage2Failed, notify)
      .otherwise(new sfn.Succeed(this, 'Superseded', {
        comment: 'superseded: a later file\'s execution holds the ticket and refreshes this snapshot',
      }));
    const isLatest = new sfn.Choice(this, 'IsLatestTicket', { comment: 'Only the execution the ticket names refreshes the snapshot' })
      .when(sfn.Condition.booleanEquals('$.ticket.latest', true), refresh.next(publish).next(afterPublish))
      .otherwise(superseded);

    processObject.next(claim).next(quiet).next(readTicket).next(isLatest);
    const names = (bucketPath: string, keyPath: string) => sfn.Condition.and(
      sfn.Condition.isPresent(bucketPath), sfn.Condition.isString(bucketPath),
      sfn.Condition.isPresent(keyPath), sfn.Condition.isString(keyPath),
    );
    // The as-of date of the run (README, "Semantics"): a manual start may name one (`asOf`), which the queries of
    // the refresh use as Stage 2 does; otherwise null, and each stage uses its default (AS_OF_DATE, else the
    // snapshot date).
    const defaultAsOf = new sfn.Pass(this, 'DefaultAsOf', {
      comment: 'No as-of date named: every stage uses its default',
      result: sfn.Result.fromObject({ asOf: null }),
      resultPath: '$.options',
    });
    const namedAsOf = new sfn.Pass(this, 'NamedAsOf', {
      comment: 'The manual start names an as-of date: the refresh queries use it too',
      parameters: { 'asOf.$': '$.asOf' },
      resultPath: '$.options',
    });
    defaultAsOf.next(processObject);
    namedAsOf.next(processObject);
    const manualAsOf = new sfn.Choice(this, 'HasAsOf')
      .when(sfn.Condition.isPresent('$.asOf'), namedAsOf)
      .otherwise(defaultAsOf);
    return new sfn.Choice(this, 'CheckInput')
      .when(names('$.detail.bucket.name', '$.detail.object.key'), describe.next(defaultAsOf))
      .when(names('$.bucket', '$.key'), describeManual.next(manualAsOf))
      .otherwise(reject);
  }
}
