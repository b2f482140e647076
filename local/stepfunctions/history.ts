/**
 * An execution's history in the shape of the Step Functions API (DescribeExecution's identity and status with
 * GetExecutionHistory's `events`), built from what the local engine records: aws-local-stepfunctions' state events
 * and the Task calls the engine dispatched. Event types and `*EventDetails` members are the API's; timestamps are
 * ISO-8601 strings (what JSON makes of the SDK's Date objects). As with `includeExecutionData: false`, state inputs
 * and outputs and Task parameters are left out unless the engine keeps them (`historyData`). docs/local-engine.md ("Execution histories").
 */
import type { ExecutionDescription, HistoryEvent } from './types';

/** One Task call the engine dispatched for an execution (recorded around the state's handler). */
export interface TaskCall {
  readonly state: string;
  readonly resource: string;
  /** The Task's input (kept with historyData only). */
  readonly parameters?: unknown;
  readonly scheduledAt: number;
  endedAt?: number;
  output?: unknown;
  error?: string;
  cause?: string;
}

type Details = Record<string, unknown>;

/** `errorDetails`-style members: the Error and the Cause (both optional in the API). */
interface ErrorCause { readonly error?: string; readonly cause?: string }
interface DataDetails { readonly truncated: boolean }
interface TaskId { readonly resourceType: string; readonly resource: string }

/** One event of GetExecutionHistory: the members the local engine fills (names and types as in the API). */
export interface ApiHistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  /** ISO-8601 (the SDK returns a Date). */
  readonly timestamp: string;
  readonly type: string;
  readonly executionStartedEventDetails?: { readonly input?: string; readonly inputDetails?: DataDetails; readonly roleArn?: string };
  readonly executionSucceededEventDetails?: { readonly output?: string; readonly outputDetails?: DataDetails };
  readonly executionFailedEventDetails?: ErrorCause;
  readonly executionAbortedEventDetails?: ErrorCause;
  readonly executionTimedOutEventDetails?: ErrorCause;
  readonly stateEnteredEventDetails?: { readonly name: string; readonly input?: string; readonly inputDetails?: DataDetails };
  readonly stateExitedEventDetails?: { readonly name: string; readonly output?: string; readonly outputDetails?: DataDetails };
  /** `parameters` only with historyData (like includeExecutionData: false otherwise). */
  readonly taskScheduledEventDetails?: TaskId & { readonly region: string; readonly parameters?: string; readonly timeoutInSeconds?: number };
  readonly taskStartedEventDetails?: TaskId;
  readonly taskSucceededEventDetails?: TaskId & { readonly output?: string; readonly outputDetails?: DataDetails };
  readonly taskFailedEventDetails?: TaskId & ErrorCause;
  readonly taskTimedOutEventDetails?: TaskId & ErrorCause;
  readonly lambdaFunctionScheduledEventDetails?: {
    readonly resource: string; readonly input?: string; readonly inputDetails?: DataDetails; readonly timeoutInSeconds?: number;
  };
  readonly lambdaFunctionSucceededEventDetails?: { readonly output?: string; readonly outputDetails?: DataDetails };
  readonly lambdaFunctionFailedEventDetails?: ErrorCause;
  readonly lambdaFunctionTimedOutEventDetails?: ErrorCause;
  readonly mapIterationStartedEventDetails?: { readonly name?: string; readonly index?: number };
  readonly mapIterationSucceededEventDetails?: { readonly name?: string; readonly index?: number };
  readonly mapIterationFailedEventDetails?: { readonly name?: string; readonly index?: number };
}

/** `<workdir>/executions/<name>.json`: DescribeExecution's fields and GetExecutionHistory's events. */
export interface ExecutionHistory {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionDescription['status'];
  readonly startDate: string;
  readonly stopDate?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly events: readonly ApiHistoryEvent[];
}

/** What {@link executionHistory} reads. */
export interface HistorySource {
  readonly description: ExecutionDescription;
  readonly calls: readonly TaskCall[];
  /** The definition as registered (TimeoutSeconds as written, for `timeoutInSeconds`). */
  readonly definition: Record<string, any>;
  readonly region: string;
  readonly roleArn?: string;
  readonly withData: boolean;
}

const json = (v: unknown) => JSON.stringify(v ?? null);

/** The Task integration a Resource names: a Lambda function ARN (LambdaFunction* events) or `resourceType` + `resource`. */
function integration(resource: string): { lambdaArn: string } | { resourceType: string; resource: string } {
  if (/^arn:[^:]+:lambda:/.test(resource)) return { lambdaArn: resource };
  const rest = resource.replace(/^arn:[^:]+:states:::/, '');
  const m = /^(.*):([^:]+(?:\.sync(?::2)?|\.waitForTaskToken)?)$/.exec(rest.replace(/\.sync:2$/, '.sync@2'));
  const action = (m?.[2] ?? rest).replace('.sync@2', '.sync:2');
  return { resourceType: m?.[1] ?? rest, resource: action };
}

/** Lane of every state: `''` for the top level, `<Parallel>/<branch>` inside a branch (Map iterations: `<Map>/it`). */
function lanes(def: Record<string, any>, lane = '', out = new Map<string, string>()): Map<string, string> {
  for (const [name, state] of Object.entries<any>(def.States ?? {})) {
    out.set(name, lane);
    (state.Branches ?? []).forEach((b: Record<string, any>, i: number) => lanes(b, `${lane}${name}/${i}/`, out));
    for (const inner of [state.Iterator, state.ItemProcessor]) if (inner) lanes(inner, `${lane}${name}/it/`, out);
  }
  return out;
}

function timeouts(def: Record<string, any>, out = new Map<string, number>()): Map<string, number> {
  for (const [name, state] of Object.entries<any>(def.States ?? {})) {
    if (typeof state.TimeoutSeconds === 'number') out.set(name, state.TimeoutSeconds);
    for (const b of state.Branches ?? []) timeouts(b, out);
    for (const inner of [state.Iterator, state.ItemProcessor]) if (inner) timeouts(inner, out);
  }
  return out;
}

interface Draft { ts: number; type: string; lane: string; details?: [string, Details] }

/** Builds the API-shaped history of one execution; see the module doc. */
export function executionHistory(src: HistorySource): ExecutionHistory {
  const d = src.description;
  const outcome = d.outcome;
  const laneOf = lanes(src.definition);
  const timeoutOf = timeouts(src.definition);
  const queue = new Map<string, TaskCall[]>();
  for (const c of src.calls) queue.set(c.state, [...(queue.get(c.state) ?? []), c]);
  const attemptStart = new Map<string, number>();
  /** States entered and not exited yet: their type, lane, and whether their current attempt failed. */
  const open = new Map<string, { type: string; lane: string; failed: boolean }>();
  /**
   * A failed Parallel (or Map) stops its other branches: the states still running in them end `<Type>StateAborted`
   * (AWS has it for Task, Wait, Parallel and Map states); those whose attempt failed ended with their failure.
   */
  const abortInside = (prefix: string, ts: number) => {
    for (const [name, o] of [...open]) {
      if (!o.lane.startsWith(prefix)) continue;
      open.delete(name);
      if (!o.failed && ['Task', 'Wait', 'Parallel', 'Map'].includes(o.type)) push(ts, `${o.type}StateAborted`, o.lane);
    }
  };
  const drafts: Draft[] = [];
  const push = (ts: number, type: string, lane: string, details?: [string, Details]) => drafts.push({ ts, type, lane, details });
  const data = (key: 'input' | 'output', v: unknown) => (src.withData && v !== undefined ? { [key]: json(v), [`${key}Details`]: { truncated: false } } : {});

  const finishTask = (e: HistoryEvent, lane: string) => {
    const state = e.state!;
    const start = attemptStart.get(state) ?? e.timestamp;
    const calls = queue.get(state) ?? [];
    const i = calls.findIndex((c) => c.scheduledAt >= start && c.scheduledAt <= e.timestamp);
    if (i < 0) return;
    const [call] = calls.splice(i, 1);
    const api = integration(call.resource);
    const timeoutInSeconds = timeoutOf.get(state);
    const end = call.endedAt ?? e.timestamp;
    const error = call.endedAt !== undefined ? call.error : e.error;
    const cause = call.endedAt !== undefined ? call.cause : e.cause;
    const succeeded = call.endedAt !== undefined && call.error === undefined;
    const timedOut = !succeeded && call.endedAt === undefined && e.error === 'States.Timeout';
    if ('lambdaArn' in api) {
      push(call.scheduledAt, 'LambdaFunctionScheduled', lane, ['lambdaFunctionScheduledEventDetails', {
        resource: api.lambdaArn, ...data('input', call.parameters), ...(timeoutInSeconds !== undefined ? { timeoutInSeconds } : {}),
      }]);
      push(call.scheduledAt, 'LambdaFunctionStarted', lane);
      if (succeeded) push(end, 'LambdaFunctionSucceeded', lane, ['lambdaFunctionSucceededEventDetails', data('output', call.output)]);
      else push(end, timedOut ? 'LambdaFunctionTimedOut' : 'LambdaFunctionFailed', lane, [timedOut ? 'lambdaFunctionTimedOutEventDetails' : 'lambdaFunctionFailedEventDetails', { error, cause }]);
    } else {
      const id = { resourceType: api.resourceType, resource: api.resource };
      push(call.scheduledAt, 'TaskScheduled', lane, ['taskScheduledEventDetails', {
        ...id,
        region: src.region,
        ...(src.withData ? { parameters: json(call.parameters) } : {}),
        ...(timeoutInSeconds !== undefined ? { timeoutInSeconds } : {}),
      }]);
      push(call.scheduledAt, 'TaskStarted', lane, ['taskStartedEventDetails', id]);
      if (succeeded) push(end, 'TaskSucceeded', lane, ['taskSucceededEventDetails', { ...id, ...data('output', call.output) }]);
      else push(end, timedOut ? 'TaskTimedOut' : 'TaskFailed', lane, [timedOut ? 'taskTimedOutEventDetails' : 'taskFailedEventDetails', { ...id, error, cause }]);
    }
  };

  for (const e of outcome?.history ?? []) {
    const lane = e.state ? laneOf.get(e.state) ?? '' : '';
    const t = e.stateType;
    switch (e.type) {
      case 'ExecutionStarted':
        push(e.timestamp, 'ExecutionStarted', '', ['executionStartedEventDetails', {
          input: json(d.input), inputDetails: { truncated: false }, ...(src.roleArn ? { roleArn: src.roleArn } : {}),
        }]);
        break;
      case 'ExecutionSucceeded':
        push(e.timestamp, 'ExecutionSucceeded', '', ['executionSucceededEventDetails', { output: json(outcome?.output), outputDetails: { truncated: false } }]);
        break;
      case 'ExecutionFailed':
        push(e.timestamp, 'ExecutionFailed', '', ['executionFailedEventDetails', { error: outcome?.error ?? e.error, cause: outcome?.cause ?? e.cause }]);
        break;
      case 'ExecutionAborted':
        push(e.timestamp, 'ExecutionAborted', '', ['executionAbortedEventDetails', {}]);
        break;
      case 'ExecutionTimeout':
        push(e.timestamp, 'ExecutionTimedOut', '', ['executionTimedOutEventDetails', { error: 'States.Timeout', cause: outcome?.cause }]);
        break;
      case 'StateEntered':
        if (t === 'Task') attemptStart.set(e.state!, e.timestamp);
        open.set(e.state!, { type: t!, lane, failed: false });
        push(e.timestamp, `${t}StateEntered`, lane, ['stateEnteredEventDetails', { name: e.state, ...data('input', e.input) }]);
        if (t === 'Parallel' || t === 'Map') push(e.timestamp, `${t}StateStarted`, lane);
        break;
      case 'StateRetried':
        if (t === 'Task') attemptStart.set(e.state!, e.timestamp);
        if (open.has(e.state!)) open.get(e.state!)!.failed = false;
        if (t === 'Parallel' || t === 'Map') push(e.timestamp, `${t}StateStarted`, lane);
        break;
      case 'StateFailed':
        if (t === 'Task') finishTask(e, lane);
        if (open.has(e.state!)) open.get(e.state!)!.failed = true;
        if (t === 'Parallel' || t === 'Map') {
          push(e.timestamp, `${t}StateFailed`, lane);
          abortInside(`${lane}${e.state}/`, e.timestamp);
        }
        break;
      case 'StateExited':
        if (t === 'Task') finishTask(e, lane);
        if ((t === 'Parallel' || t === 'Map') && !open.get(e.state!)?.failed) push(e.timestamp, `${t}StateSucceeded`, lane);
        open.delete(e.state!);
        if (t !== 'Fail') push(e.timestamp, `${t}StateExited`, lane, ['stateExitedEventDetails', { name: e.state, ...data('output', e.output) }]);
        break;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const key = `${e.type[0].toLowerCase()}${e.type.slice(1)}EventDetails`;
        push(e.timestamp, e.type, `${lane}${e.state}/it/`, [key, { name: e.state, index: e.index }]);
        break;
      }
      default:
        // StateCaught (the state then exits) and the engine's Parallel branch events have no API event.
        break;
    }
  }
  return {
    executionArn: d.executionArn,
    stateMachineArn: d.stateMachineArn,
    name: d.name,
    status: d.status,
    startDate: d.startDate.toISOString(),
    ...(outcome ? { stopDate: outcome.stopDate.toISOString() } : {}),
    ...(outcome?.error !== undefined ? { error: outcome.error } : {}),
    ...(outcome?.cause !== undefined ? { cause: outcome.cause } : {}),
    events: number(drafts),
  };
}

/**
 * Orders the events by time (stable: the engine's order on ties) and numbers them from 1. `previousEventId` is the
 * latest earlier event of the same lane (a branch's first event follows its Parallel state's Started event).
 */
function number(drafts: Draft[]): ApiHistoryEvent[] {
  const sorted = drafts.map((x, i) => ({ ...x, i })).sort((a, b) => a.ts - b.ts || a.i - b.i);
  const last = new Map<string, number>();
  const previousIn = (lane: string): number => {
    for (let l = lane; ; l = l.replace(/[^/]*\/[^/]*\/$/, '')) {
      const id = last.get(l);
      if (id !== undefined) return id;
      if (l === '') return 0;
    }
  };
  return sorted.map((x, k) => {
    const id = k + 1;
    const previousEventId = previousIn(x.lane);
    last.set(x.lane, id);
    return {
      id,
      previousEventId,
      timestamp: new Date(x.ts).toISOString(),
      type: x.type,
      ...(x.details ? { [x.details[0]]: stripUndefined(x.details[1]) } : {}),
    } as ApiHistoryEvent;
  });
}

function stripUndefined(o: Details): Details {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
