import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import type { PipelineFunctions } from './functions';
import type { PipelineSettings } from './settings';
import { QUERY_NAMES, TICKET_OPERATIONS } from '../contract';

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
export const UNALERTED_ERRORS = [ALERT_NOT_DELIVERED, 'States.Runtime', 'States.DataLimitExceeded'];

/** What the definition's states call: the three functions and the alert topic. */
export interface DefinitionTargets extends PipelineFunctions {
  readonly alertTopic: sns.ITopic;
}

/** The output fields of a Lambda task (JSONPath). */
interface TaskOutput {
  readonly resultSelector?: Record<string, unknown>;
  readonly resultPath?: string;
  readonly outputPath?: string;
}

/** Time a Lambda task waits beyond the function's timeout before Step Functions times it out. */
const TASK_TIMEOUT_SLACK = Duration.seconds(60);

/** A synchronous Lambda task with the retries of every task: transient errors, then a bounded retry of timeouts. */
function lambdaTask(scope: Construct, stateId: string, fn: lambda.IFunction, payload: sfn.TaskInput, timeout: Duration,
  comment: string, output: TaskOutput): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, stateId, {
    lambdaFunction: fn,
    payload,
    comment,
    retryOnServiceExceptions: false,
    payloadResponseOnly: false,
    taskTimeout: sfn.Timeout.duration(timeout.plus(TASK_TIMEOUT_SLACK)),
    ...output,
  });
  task.addRetry({
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
  return task;
}

/**
 * The failure path: NotifyFailure publishes the alert, then the execution fails with the error at `$.error`
 * (every Catch puts {Error, Cause} there; `$.object` names the object). Returns NotifyFailure.
 */
function failurePath(scope: Construct, alertTopic: sns.ITopic): tasks.SnsPublish {
  const failed = new sfn.Fail(scope, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
  const notify = new tasks.SnsPublish(scope, 'NotifyFailure', {
    comment: 'Alert: which execution failed, on which object, with which error',
    topic: alertTopic,
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
  const alertNotDelivered = new sfn.Fail(scope, 'AlertNotDelivered', {
    comment: 'NotifyFailure could not publish: the FailuresNotAlerted alarm reports this execution',
    error: ALERT_NOT_DELIVERED,
    causePath: '$.alertError.Cause',
  });
  notify.addCatch(alertNotDelivered, { errors: ['States.ALL'], resultPath: '$.alertError' });
  notify.next(failed);
  return notify;
}

/** One query of the refresh (Stage 1 or Stage 3): start it, then poll it until done, at most `maxQueryPolls` calls. */
function queryBranch(scope: Construct, settings: PipelineSettings, queryFunction: lambda.IFunction, name: string, query: string,
  label: string): sfn.IChainable {
  const start = lambdaTask(scope, `Start${name}`, queryFunction, sfn.TaskInput.fromObject({
    query,
    'bucket.$': '$.process.snapshot.bucket',
    'key.$': '$.process.snapshot.key',
    'snapshotDate.$': '$.process.snapshot.snapshotDate',
    'asOf.$': '$.options.asOf',
    // What ReadTicket returned (always present on this path; its `claim`, the ticket version it read, names this
    // refresh in the query token without reading the ticket again). The whole object, not `.claim`: a JSONPath to a
    // field a payload lacks fails the execution, and the runner reads the ticket itself when `claim` is missing.
    'ticket.$': '$.ticket.ticket',
    'polls': 0,
  }), settings.queryTimeout, `Start the ${label} query`, { outputPath: '$.Payload' });
  const poll = lambdaTask(scope, `Poll${name}`, queryFunction, sfn.TaskInput.fromJsonPathAt('$'), settings.queryTimeout,
    `Check the ${label} query again (the QueryStatus carries queryExecutionId and polls)`, { outputPath: '$.Payload' });
  const wait = new sfn.Wait(scope, `WaitFor${name}`, { time: sfn.WaitTime.duration(settings.queryPollInterval) });
  const tooMany = new sfn.Fail(scope, `${name}PollLimitExceeded`, {
    error: 'QueryPollLimitExceeded',
    cause: `the ${label} query did not finish within ${settings.maxQueryPolls} calls of the query runner`,
  });
  const ready = new sfn.Succeed(scope, `${name}Ready`);
  const isDone = new sfn.Choice(scope, `Is${name}Done`)
    .when(sfn.Condition.booleanEquals('$.done', true), ready)
    .when(sfn.Condition.numberGreaterThanEquals('$.polls', settings.maxQueryPolls), tooMany)
    .otherwise(wait.next(poll));
  poll.next(isDone);
  return start.next(isDone);
}

/**
 * The state machine's definition (docs/design.md, "Handlers and the state machine"): Stage 2 on the object, the
 * snapshot ticket, Stage 1 and Stage 3 in parallel, Stage 4, and NotifyFailure on any error. The states are
 * created in `scope` (their construct ids are the state names).
 */
export function buildDefinition(scope: Construct, settings: PipelineSettings, targets: DefinitionTargets): sfn.IChainable {
  const notify = failurePath(scope, targets.alertTopic);

  // 0. Only S3 "Object Created" / "Object Deleted" events (as the rule sends them) and manual {bucket, key} starts.
  const reject = new sfn.Pass(scope, 'RejectInput', {
    comment: 'The input does not name a bucket and key: alert without processing',
    parameters: {
      'object': { bucket: 'unknown', key: 'unknown' },
      'input.$': '$',
      'error': { Error: 'InvalidEventError', Cause: 'the execution input is not an S3 "Object Created" or "Object Deleted" event (detail.bucket.name, detail.object.key)' },
    },
  });
  reject.next(notify);
  const describe = new sfn.Pass(scope, 'DescribeObject', {
    comment: 'Names the object of the EventBridge event for the rest of the run and for alerts',
    parameters: { 'bucket.$': '$.detail.bucket.name', 'key.$': '$.detail.object.key' },
    resultPath: '$.object',
  });
  const describeManual = new sfn.Pass(scope, 'DescribeManualObject', {
    comment: 'Names the object of a manual start {bucket, key} (a re-run of one file)',
    parameters: { 'bucket.$': '$.bucket', 'key.$': '$.key' },
    resultPath: '$.object',
  });

  // After Stage 2, a failure of a later state is kept at $.laterError: the alert names the first error of the
  // execution (Stage 2's, when it failed and the execution still coordinated its snapshot).
  const laterError = new sfn.Pass(scope, 'UseLaterError', {
    comment: 'No earlier error: the alert names the error of the coordination or refresh state',
    parameters: { 'Error.$': '$.laterError.Error', 'Cause.$': '$.laterError.Cause' },
    resultPath: '$.error',
  });
  laterError.next(notify);
  const alertWhich = new sfn.Choice(scope, 'AlertWhichError')
    .when(sfn.Condition.isPresent('$.error'), notify)
    .otherwise(laterError);
  const catchLater = (state: tasks.LambdaInvoke | sfn.Parallel) => state.addCatch(alertWhich, { errors: ['States.ALL'], resultPath: '$.laterError' });

  // The snapshot a ticket status names (TicketStatus: `object` is the raw key), for the refresh and the publish.
  const snapshotOf = (status: string) => ({
    'bucket.$': `${status}.bucket`, 'key.$': `${status}.object`, 'snapshotDate.$': `${status}.snapshotDate`,
  });

  // 1. Stage 2 on the object: validate a created one, remove the outputs of a deleted one (the handler dispatches),
  // then claim the snapshot's ticket (2., in the same invocation: the payload names the execution in `run`).
  const processObject = lambdaTask(scope, 'ProcessObject', targets.processorFunction,
    sfn.TaskInput.fromJsonPathAt('$'),
    settings.processorTimeout,
    'Stage 2: validate the file (write validated/expiring/quarantine), or remove the outputs of a deleted file; then claim the snapshot ticket',
    { resultSelector: { 'summary.$': '$.Payload', 'snapshot': snapshotOf('$.Payload.ticket') }, resultPath: '$.process' });

  // 2. The snapshot's ticket (docs/runtime.md, "Coordinating a snapshot's files"): written after Stage 2 — by
  // ProcessObject itself, or, when Stage 2 failed (a failed file never holds its snapshot back), by ClaimSnapshot —
  // and read back after the quiet period. Only the execution it then names refreshes the snapshot; the others end
  // superseded.
  const ticketPayload = (op: string) => sfn.TaskInput.fromObject({
    'coordination': op,
    'bucket.$': '$.object.bucket',
    'object.$': '$.object.key',
    'execution.$': '$$.Execution.Id',
  });
  const claim = lambdaTask(scope, 'ClaimSnapshot', targets.processorFunction, ticketPayload(TICKET_OPERATIONS.claim), Duration.seconds(30),
    'Stage 2 failed: write the snapshot ticket naming this execution (one PutObject)',
    { resultSelector: { snapshot: snapshotOf('$.Payload') }, resultPath: '$.process' });
  catchLater(claim);
  processObject.addCatch(claim, { errors: ['States.ALL'], resultPath: '$.error' });
  const quiet = new sfn.Wait(scope, 'WaitQuietPeriod', {
    comment: 'Let the snapshot\'s other files finish: a later file\'s execution takes the ticket over',
    time: sfn.WaitTime.duration(settings.snapshotQuietPeriod),
  });
  const readTicket = lambdaTask(scope, 'ReadTicket', targets.processorFunction, ticketPayload(TICKET_OPERATIONS.check), Duration.seconds(30),
    'Read the snapshot ticket back (one GetObject): does it still name this execution?',
    { resultSelector: { 'latest.$': '$.Payload.latest', 'ticket.$': '$.Payload' }, resultPath: '$.ticket' });
  catchLater(readTicket);

  // 3. Stage 1 and Stage 3 for the snapshot, each a start/poll loop with a cap.
  const refresh = new sfn.Parallel(scope, 'RefreshSnapshot', {
    comment: 'Stage 1 (facility extract) and Stage 3 (state counts) for the snapshot of the object',
    resultSelector: { 'extract.$': '$[0]', 'stateCounts.$': '$[1]' },
    resultPath: '$.refresh',
  })
    .branch(queryBranch(scope, settings, targets.queryFunction, 'Extract', QUERY_NAMES.facilityExtract, 'Stage 1 facility extract'))
    .branch(queryBranch(scope, settings, targets.queryFunction, 'StateCounts', QUERY_NAMES.stateCounts, 'Stage 3 state counts'));
  catchLater(refresh);

  // 4. Stage 4.
  const publish = lambdaTask(scope, 'PublishResults', targets.publishFunction, sfn.TaskInput.fromObject({
    'bucket.$': '$.process.snapshot.bucket',
    'snapshotDate.$': '$.process.snapshot.snapshotDate',
    'results.$': '$.refresh.stateCounts',
    'extract.$': '$.refresh.extract',
    'run.$': '$.run',
  }), Duration.minutes(1), 'Stage 4: publish the state counts to the production path',
  { resultSelector: { 'published.$': '$.Payload' }, resultPath: '$.publish' });
  catchLater(publish);

  // 5. The end: an execution whose Stage 2 failed alerts (once) after coordinating; the others succeed.
  const stage2Failed = sfn.Condition.isPresent('$.error');
  const afterPublish = new sfn.Choice(scope, 'AfterRefresh')
    .when(stage2Failed, notify)
    .otherwise(new sfn.Succeed(scope, 'Done'));
  const superseded = new sfn.Choice(scope, 'AfterSuperseded')
    .when(stage2Failed, notify)
    .otherwise(new sfn.Succeed(scope, 'Superseded', {
      comment: 'superseded: a later file\'s execution holds the ticket and refreshes this snapshot',
    }));
  const isLatest = new sfn.Choice(scope, 'IsLatestTicket', { comment: 'Only the execution the ticket names refreshes the snapshot' })
    .when(sfn.Condition.booleanEquals('$.ticket.latest', true), refresh.next(publish).next(afterPublish))
    .otherwise(superseded);

  processObject.next(quiet);
  claim.next(quiet);
  quiet.next(readTicket).next(isLatest);
  const names = (bucketPath: string, keyPath: string) => sfn.Condition.and(
    sfn.Condition.isPresent(bucketPath), sfn.Condition.isString(bucketPath),
    sfn.Condition.isPresent(keyPath), sfn.Condition.isString(keyPath),
  );
  // The as-of date of the run (README, "Semantics"): a manual start may name one (`asOf`), which the queries of
  // the refresh use as Stage 2 does; otherwise null, and each stage uses its default (AS_OF_DATE, else the
  // snapshot date).
  const defaultAsOf = new sfn.Pass(scope, 'DefaultAsOf', {
    comment: 'No as-of date named: every stage uses its default',
    result: sfn.Result.fromObject({ asOf: null }),
    resultPath: '$.options',
  });
  const namedAsOf = new sfn.Pass(scope, 'NamedAsOf', {
    comment: 'The manual start names an as-of date: the refresh queries use it too',
    parameters: { 'asOf.$': '$.asOf' },
    resultPath: '$.options',
  });
  // The run context (src/contract/observability.ts, RunContext): the execution's own identity, for the file
  // summary Stage 2 writes and for the run report of the publish.
  const recordRun = new sfn.Pass(scope, 'RecordRun', {
    comment: 'Names this execution for the file summaries and the run report',
    parameters: { 'executionArn.$': '$$.Execution.Id', 'startedAt.$': '$$.Execution.StartTime' },
    resultPath: '$.run',
  });
  recordRun.next(processObject);
  defaultAsOf.next(recordRun);
  namedAsOf.next(recordRun);
  const manualAsOf = new sfn.Choice(scope, 'HasAsOf')
    .when(sfn.Condition.isPresent('$.asOf'), namedAsOf)
    .otherwise(defaultAsOf);
  return new sfn.Choice(scope, 'CheckInput')
    .when(names('$.detail.bucket.name', '$.detail.object.key'), describe.next(defaultAsOf))
    .when(names('$.bucket', '$.key'), describeManual.next(manualAsOf))
    .otherwise(reject);
}
