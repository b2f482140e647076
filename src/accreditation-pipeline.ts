import type * as athena from 'aws-cdk-lib/aws-athena';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as glue from 'aws-cdk-lib/aws-glue';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { AccreditationPipelineProps } from './accreditation-pipeline-props';
import { createAlertTopic, grantAlertKey } from './pipeline/alerting';
import { createCatalog } from './pipeline/catalog';
import { createDashboard } from './pipeline/dashboard';
import { createFunctions } from './pipeline/functions';
import { PipelineData, grantAthena, grantPrefixes, grantUpload } from './pipeline/grants';
import { createAlarms, createDataAlarms } from './pipeline/monitoring';
import { acknowledgeNagFindings } from './pipeline/nag-acknowledgements';
import { createWorkGroup } from './pipeline/query-engine';
import { resolveSettings } from './pipeline/settings';
import { createStateMachine } from './pipeline/state-machine';
import { createEncryptionKey, createStorage } from './pipeline/storage';
import { createTrigger } from './pipeline/trigger';
import type { PipelinePrefixes } from './validation';

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
  /**
   * The pipeline's name (`medlaunch-elt-<path-derived>`): the `Pipeline` dimension of its metrics (`PIPELINE_NAME`)
   * and the start of its alarm names.
   */
  public readonly pipelineName: string;
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
  /** Alarms when the quarantine rate exceeds `quarantineRateWarningPercent` (undefined when that is 0). */
  public readonly quarantineRateWarningAlarm?: cloudwatch.Alarm;
  /** Alarms when the quarantine rate exceeds `quarantineRateErrorPercent` (undefined when that is 0). */
  public readonly quarantineRateErrorAlarm?: cloudwatch.Alarm;
  /** Alarms when no snapshot was published within `freshnessThreshold` (undefined unless it is set). */
  public readonly freshnessAlarm?: cloudwatch.Alarm;
  /** Alarms when the records read leave their anomaly detection band (undefined when `recordVolumeAnomalyStdDevs` is 0). */
  public readonly recordVolumeAnomalyAlarm?: cloudwatch.Alarm;
  /** Alarms on failed Athena queries (undefined when `failedQueriesThreshold` is 0). */
  public readonly queriesFailedAlarm?: cloudwatch.Alarm;
  /**
   * Every alarm (failures not alerted, timed-out and aborted executions, rule DLQ depth, rule events lost, and the
   * data alarms that are on); each notifies `alertTopic`.
   */
  public readonly alarms: cloudwatch.Alarm[];
  /** The CloudWatch dashboard (undefined when `enableDashboard` is false). */
  public readonly dashboard?: cloudwatch.Dashboard;
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
  /** Run reports prefix (`<reportsPrefix>snapshot_date=<d>/report.json`). */
  public readonly reportsPrefix: string;
  /** `s3://<bucket>/<athenaResultsPrefix>`: the workgroup's output location. */
  public readonly athenaOutputLocation: string;

  private readonly prefixes: PipelinePrefixes;
  private readonly data: PipelineData;

  constructor(scope: Construct, id: string, props: AccreditationPipelineProps = {}) {
    super(scope, id);
    // Props against their defaults (src/pipeline/defaults.ts, src/contract), and the names derived from the path.
    const settings = resolveSettings(this, props);
    const p = settings.prefixes;
    this.prefixes = p;
    [this.rawPrefix, this.validatedPrefix, this.expiringPrefix, this.quarantinePrefix] = [p.raw, p.validated, p.expiring, p.quarantine];
    [this.curatedPrefix, this.resultsPrefix, this.productionPrefix, this.athenaResultsPrefix] = [p.curated, p.results, p.production, p.athenaResults];
    this.reportsPrefix = p.reports;
    const { databaseName, workGroupName, pipelineName, alarmNamePrefix } = settings;
    [this.databaseName, this.workGroupName, this.pipelineName, this.alarmNamePrefix] = [databaseName, workGroupName, pipelineName, alarmNamePrefix];

    // Storage: the key, the data bucket and its access log bucket.
    const key = createEncryptionKey(this, settings, props);
    const { bucket, accessLogsBucket } = createStorage(this, settings, key, props.bucket);
    [this.encryptionKey, this.bucket, this.accessLogsBucket] = [key, bucket, accessLogsBucket];
    this.data = { scope: this, bucket, key, databaseName, workGroupName };
    this.athenaOutputLocation = `s3://${bucket.bucketName}/${p.athenaResults}`;

    // Catalog and query engine.
    const catalog = createCatalog(this, { databaseName, bucketName: bucket.bucketName, prefixes: p });
    [this.database, this.validatedTable, this.curatedTable] = [catalog.database, catalog.validatedTable, catalog.curatedTable];
    const workGroup = createWorkGroup(this, settings, { outputLocation: this.athenaOutputLocation, key });
    this.workGroup = workGroup;

    // The three functions, the alert topic, and the state machine that runs the one and alerts the other.
    const functions = createFunctions(this, settings, { data: this.data, outputLocation: this.athenaOutputLocation, workGroup });
    ({ processorFunction: this.processorFunction, queryFunction: this.queryFunction, publishFunction: this.publishFunction } = functions);
    const alertTopic = createAlertTopic(this, settings, key, props.alertTopic);
    const { stateMachine, stateMachineLogGroup } = createStateMachine(this, settings, key, { ...functions, alertTopic });
    grantAlertKey(stateMachine, key, props.alertTopic);
    [this.alertTopic, this.stateMachine, this.stateMachineLogGroup] = [alertTopic, stateMachine, stateMachineLogGroup];

    // The trigger: the bucket's events start the state machine.
    const { rule, ruleDeadLetterQueue } = createTrigger(this, settings, { bucket, key, stateMachine });
    [this.rule, this.ruleDeadLetterQueue, this.dlqs] = [rule, ruleDeadLetterQueue, [ruleDeadLetterQueue]];

    // Monitoring: alarms on what NotifyFailure cannot alert, alarms on the data, and the dashboard.
    const alarms = createAlarms(this, alarmNamePrefix, { alertTopic, stateMachine, stateMachineLogGroup, rule, ruleDeadLetterQueue });
    [this.failuresNotAlertedAlarm, this.executionsFailedAlarm] = [alarms.failuresNotAlertedAlarm, alarms.failuresNotAlertedAlarm];
    [this.executionsTimedOutAlarm, this.executionsAbortedAlarm] = [alarms.executionsTimedOutAlarm, alarms.executionsAbortedAlarm];
    const data = createDataAlarms(this, settings, alertTopic);
    [this.quarantineRateWarningAlarm, this.quarantineRateErrorAlarm] = [data.quarantineRateWarningAlarm, data.quarantineRateErrorAlarm];
    [this.freshnessAlarm, this.recordVolumeAnomalyAlarm] = [data.freshnessAlarm, data.recordVolumeAnomalyAlarm];
    this.queriesFailedAlarm = data.queriesFailedAlarm;
    this.alarms = [...Object.values(alarms), ...Object.values(data).filter((a): a is cloudwatch.Alarm => a !== undefined)];
    if (settings.monitoring.enableDashboard) this.dashboard = createDashboard(this, settings, { ...functions, stateMachine, alarms: this.alarms });

    acknowledgeNagFindings(this, settings, { ...functions, bucket, accessLogsBucket, stateMachine, ruleDeadLetterQueue });
  }

  /**
   * Lets `grantee` upload raw input files (`PutObject` under the raw prefix, with the KMS key).
   */
  public grantWriteRaw(grantee: iam.IGrantable): iam.Grant {
    return grantUpload(this.data, grantee, this.prefixes.raw);
  }

  /**
   * Lets `grantee` read the Stage 3 results, the published production results, the run reports and the expiring
   * facilities: everything `medlaunch-elt report` reads from the bucket.
   *
   * Includes `s3:ListBucket` on the bucket (no prefix condition), so a GET or HEAD of a key that does not
   * exist yet answers 404 rather than 403; the grantee can list key names of the bucket, never read other objects.
   */
  public grantReadResults(grantee: iam.IGrantable): iam.Grant {
    const p = this.prefixes;
    return grantPrefixes(this.data, grantee, { read: [p.results, p.production, p.reports, p.expiring] });
  }

  /**
   * Lets `grantee` run Athena queries in the pipeline's workgroup over its two tables
   * (the data they read, the query results location and the KMS key included).
   *
   * Like `grantReadResults`, includes `s3:ListBucket` on the bucket, so missing keys answer 404.
   */
  public grantRunQueries(grantee: iam.IGrantable): iam.Grant {
    const grant = grantPrefixes(this.data, grantee, {
      read: [this.prefixes.validated, this.prefixes.curated],
      write: [this.prefixes.athenaResults],
    });
    grantAthena(this.data, grantee);
    return grant;
  }
}
