/**
 * The run's reports: the AWS requests it made, counted at each embedded endpoint and per Lambda
 * function, state machine and bus ({@link RequestReport}); and what the drill injected and how
 * the pipeline recovered ({@link DrillReport}).
 */
import type { IncomingMessage } from 'node:http';
import type { DeliveryRecord } from '../events';
import { accessKeyOf, RequestCounter, s3Operation, serverAt, targetOperation } from '../http';
import type { LocalLambdaRuntime } from '../lambda';
import type { LocalRunOptions } from './options';
import type { WaitTracker } from './progress';
import type { DrillReport, InjectedFault, RequestReport } from './result';

/** Counts the requests each embedded endpoint receives, and separately those signed with the CLI's key. */
export function countRequests(endpoints: { s3: string; athena: string; sns: string }, cliAccessKey: string): RequestCounter {
  const counter = new RequestCounter();
  const server = (endpoint: string) => {
    const srv = serverAt(endpoint);
    if (!srv) throw new Error(`no embedded server listens at ${endpoint}`);
    return srv;
  };
  const byCli = (classify: (req: IncomingMessage) => string) =>
    (req: IncomingMessage) => (accessKeyOf(req) === cliAccessKey ? classify(req) : undefined);
  counter.observe(server(endpoints.s3), 's3', s3Operation);
  counter.observe(server(endpoints.athena), 'athena', targetOperation);
  counter.observe(server(endpoints.sns), 'sns', snsOperation);
  counter.observe(server(endpoints.s3), 'client.s3', byCli(s3Operation));
  counter.observe(server(endpoints.athena), 'client.athena', byCli(targetOperation));
  return counter;
}

/**
 * SNS's operation: the JSON protocol names it in X-Amz-Target; the Query protocol (what the SDK sends)
 * in the form body, which the service reads. The pipeline's only SNS call is Publish (its alerts).
 */
export function snsOperation(req: IncomingMessage): string {
  const op = targetOperation(req);
  return op === 'query' ? 'Publish' : op;
}

export function requestReport(counter: RequestCounter, lambda: LocalLambdaRuntime, outcomes: Array<{ history: Array<{ type: string }> } | undefined>,
  busEvents: number, deliveries: DeliveryRecord[]): RequestReport {
  const c = counter.snapshot();
  let transitions = 0;
  for (const o of outcomes) {
    for (const h of o?.history ?? []) if (h.type === 'StateEntered' || h.type === 'StateRetried') transitions++;
  }
  const sorted = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    s3: c.s3 ?? {},
    athena: c.athena ?? {},
    sns: c.sns ?? {},
    lambda: sorted(lambda.stats.byFunction),
    lambda_gb_seconds: sorted(Object.fromEntries(Object.entries(lambda.stats.gbSeconds).map(([k, v]) => [k, Math.round(v * 1000) / 1000]))),
    stepfunctions: { StartExecution: outcomes.length, StateTransitions: transitions },
    events: { PutEvents: busEvents, TargetInvocations: deliveries.reduce((n, d) => n + d.attempts, 0) },
    client: { s3: c['client.s3'] ?? {}, athena: c['client.athena'] ?? {} },
  };
}

export type EndedExecution = { status: string; outcome?: { history?: Array<{ type: string; error?: string }> } };

export function drillReport(opts: LocalRunOptions, injected: InjectedFault[], ex: EndedExecution[],
  alerts: unknown[], waits: WaitTracker, slowdowns: number): DrillReport {
  const retries: Record<string, number> = {};
  for (const e of ex) {
    let lastError: string | undefined;
    for (const h of e.outcome?.history ?? []) {
      if (h.error !== undefined) lastError = h.error;
      if (h.type === 'StateRetried') {
        const err = h.error ?? lastError ?? 'unknown';
        retries[err] = (retries[err] ?? 0) + 1;
      }
    }
  }
  const failed = ex.filter((e) => e.status !== 'SUCCEEDED').length;
  return {
    seed: opts.seed ?? 1,
    duplicate_events: opts.duplicateEvents ?? 0,
    shuffle: opts.shuffle ?? false,
    faults: injected,
    s3_slowdowns: slowdowns,
    lambda_timeouts: [...waits.timeouts].sort(),
    retries: Object.fromEntries(Object.entries(retries).sort(([a], [b]) => (a < b ? -1 : 1))),
    executions: ex.length,
    failed,
    alerts: alerts.length,
    recovered: failed === 0,
  };
}
