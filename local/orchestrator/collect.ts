/**
 * Collect phase: the run's result read back from the local services — each execution's outcome,
 * the contract summary and the details of every snapshot, the alerts, the drill report, the
 * requests made, the metrics the functions emitted and every execution's history (./observability), then the
 * report the caller writes from them (`writeReport`).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import type { LocalStack } from './deploy';
import { oneLine, sortExecutions } from './messages';
import { dataQuality, writeExecutionHistories } from './observability';
import type { ReportContext } from './options';
import { countExtractRows, expiringIds, productionStateCounts, snapshotDetails } from './read-back';
import { drillReport, requestReport } from './report';
import type { ExecutionSummary, LocalRunResult, SkippedFile, SnapshotDetails, SnapshotSummary } from './result';
import type { SnapshotFile } from './snapshots';
import type { Uploaded } from './upload';
import { parseRawKey } from '../../lambda-src/lib/keys';

/** What the run was given: the data files, the files skipped, the snapshot dates. */
export interface RunInput {
  readonly files: SnapshotFile[];
  readonly skipped: SkippedFile[];
  readonly snapshots: string[];
}

/** Reads every result back; `started` is when the run began (Date.now()). */
export async function collectResults(stack: LocalStack, input: RunInput, uploaded: Uploaded,
  ex: ReturnType<LocalStack['events']['executions']>, started: number): Promise<LocalRunResult> {
  const { opts, dep, s3, sns, sfn, events } = stack;
  const { files, skipped, snapshots } = input;
  const client = uploaded.client;
  // Every execution has ended (the drive phase waited for them): describe each once.
  const ended = ex.map((e) => sfn.describeExecution(e.executionArn));
  const executions: ExecutionSummary[] = sortExecutions(ex.map((e, i) => {
    const d = ended[i];
    return {
      snapshot: (e.key && parseRawKey(e.key, dep.rawPrefix).snapshotDate) ?? 'unknown',
      status: d.status,
      key: e.key,
      name: d.name,
      error: d.outcome?.error ? `${d.outcome.error}${d.outcome.cause ? `: ${oneLine(d.outcome.cause)}` : ''}` : undefined,
    };
  }));
  const athenaClient = new AthenaClient({ region: stack.region, endpoint: stack.athena.endpoint, credentials: stack.cliCredentials });
  stack.clients.push(athenaClient);
  // While the local Step Functions still holds them: every execution's history, as GetExecutionHistory gives it,
  // written while the results are read back (the reads wait on the local S3 and Athena, the writes on the disk).
  const histories = writeExecutionHistories(sfn, opts.workDir);
  histories.catch(() => undefined); // awaited below; a read-back error must not leave it unhandled meanwhile
  // The bucket's folder: the local S3 keeps each current object there as its file.
  const bucketDir = s3.bucketPath(dep.bucket);
  const out: Record<string, SnapshotSummary> = {};
  const details: Record<string, SnapshotDetails> = {};
  try {
    for (const d of snapshots) {
      const own = [...stack.summaries.values()].filter((s) => s.snapshotDate === d);
      // The snapshot's reads are independent of one another: the two Athena queries run while the objects are read.
      const [extractRows, expiring, stateCounts, detail] = await Promise.all([
        countExtractRows(athenaClient, dep, d),
        expiringIds(client, dep, bucketDir, d),
        productionStateCounts(client, dep, d),
        snapshotDetails({
          s3Client: client,
          athenaClient,
          dep,
          snapshot: d,
          own,
          workDir: opts.workDir,
          bucketDir,
          asOf: opts.asOf,
          months: opts.months ?? dep.expiryMonths,
          files: files.filter((f) => f.snapshot === d).length,
        }),
      ]);
      out[d] = {
        records: own.reduce((n, s) => n + s.read, 0),
        valid: own.reduce((n, s) => n + s.valid, 0),
        quarantined: own.reduce((n, s) => n + s.quarantined, 0),
        extract_rows: extractRows,
        expiring,
        state_counts: stateCounts,
      };
      details[d] = detail;
    }
  } catch (e) {
    await histories.catch(() => undefined); // never leave a history half written behind a failed run
    throw e;
  }
  const alerts = sns.messages.map((m) => {
    try {
      return JSON.parse(m.message);
    } catch {
      return { subject: m.subject, message: m.message };
    }
  });
  const denials = stack.denials;
  if (denials.length > 0) {
    stack.step(`IAM: local S3 denied ${denials.length} request(s); first: ${denials[0].operation} by ${denials[0].principal}: ${denials[0].message}`);
  }
  const executionHistories = await histories;
  // The report, read through the run's own S3 (its outputs and run reports) with the histories just written.
  const report = opts.writeReport ? await opts.writeReport(reportContext(stack, client)) : undefined;
  const emitted = stack.lambda.metrics.snapshot();
  const alertsLog = join(opts.workDir, 'alerts.jsonl');
  return {
    snapshots: out,
    details,
    skipped,
    uploaded: files.length,
    alertsLog: alerts.length > 0 && existsSync(alertsLog) ? alertsLog : undefined,
    drill: drillReport(opts, stack.injected, ended, alerts, stack.waits, s3.slowDownsInjected),
    alerts,
    executions,
    accessDenied: denials,
    failedDeliveries: events.failedDeliveries(),
    bucket: dep.bucket,
    bucketDir,
    workDir: opts.workDir,
    durationMs: Date.now() - started,
    metrics: { ...emitted, dataQuality: dataQuality(emitted) },
    executionHistories,
    ...(report !== undefined ? { report } : {}),
    requests: requestReport(stack.counter, stack.lambda, sfn.listExecutions().map((d) => d.outcome), uploaded.busEvents(), events.deliveries()),
  };
}

/** What the run resolved and deployed, for its report (`writeReport`): the same values, never read again. */
function reportContext(stack: LocalStack, client: S3Client): ReportContext {
  const { opts, dep, tpl } = stack;
  const machine = tpl.stateMachine();
  return {
    workDir: opts.workDir,
    client,
    bucket: dep.bucket,
    expiringPrefix: dep.expiringPrefix,
    reportsPrefix: dep.reportsPrefix,
    stateMachine: { name: machine.name, definition: machine.definition },
    ...(opts.assembly ? { assembly: { dir: resolve(opts.assembly.dir), stack: tpl.resolver.stackName } } : {}),
  };
}
