/**
 * Execution traces from Step Functions histories: which states an execution entered, retried and failed. One
 * shape, GetExecutionHistory's events: read from AWS, or from the files a local run writes in that shape
 * (`<workdir>/executions/`, local/stepfunctions/history.ts).
 */
import type { ExecutionTrace, StateTrace } from './types';

/** The fields of a GetExecutionHistory event the trace reads (`@aws-sdk/client-sfn`'s HistoryEvent fits it). */
export interface AwsHistoryEvent {
  readonly id?: number;
  readonly previousEventId?: number;
  readonly type?: string;
  readonly timestamp?: Date | string | number;
  readonly stateEnteredEventDetails?: { readonly name?: string };
}

/** Attempt outcomes in AWS histories that end in an error (the HistoryEvent types of the Step Functions API reference). */
const AWS_ATTEMPT_FAILED = new Set([
  'TaskFailed', 'TaskTimedOut', 'TaskStartFailed', 'TaskSubmitFailed',
  'LambdaFunctionFailed', 'LambdaFunctionTimedOut', 'LambdaFunctionStartFailed', 'LambdaFunctionScheduleFailed',
  'ActivityFailed', 'ActivityTimedOut', 'ActivityScheduleFailed', 'MapRunFailed',
  'ParallelStateFailed', 'MapStateFailed', 'EvaluationFailed',
]);
/** A new attempt of a task-like state (a retry when it is not the entry's first). */
const AWS_ATTEMPT_STARTED = new Set(['TaskScheduled', 'LambdaFunctionScheduled', 'ActivityScheduled', 'MapRunStarted']);
/** Events that end an attempt successfully. */
const AWS_ATTEMPT_SUCCEEDED = new Set(['TaskSucceeded', 'LambdaFunctionSucceeded', 'ActivitySucceeded', 'MapRunSucceeded', 'ParallelStateSucceeded', 'MapStateSucceeded']);
const AWS_END: Record<string, string> = {
  ExecutionSucceeded: 'SUCCEEDED', ExecutionFailed: 'FAILED', ExecutionTimedOut: 'TIMED_OUT', ExecutionAborted: 'ABORTED',
};

function iso(t: Date | string | number | undefined): string | undefined {
  if (t === undefined) return undefined;
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

class Counter {
  private readonly states = new Map<string, { entered: number; failed: number; retried: number }>();
  of(name: string) {
    let s = this.states.get(name);
    if (!s) this.states.set(name, (s = { entered: 0, failed: 0, retried: 0 }));
    return s;
  }
  list(): StateTrace[] {
    return [...this.states].map(([name, s]) => ({ name, ...s }));
  }
}

/**
 * The trace of one execution from its history events (oldest first, as GetExecutionHistory returns them by
 * default). `status`, `startedAt` and `stoppedAt` come from the execution events unless given (DescribeExecution's,
 * which a local history file carries too).
 *
 * Per state: `entered` counts the times the execution entered it; `retried` the attempts after the first within
 * one entry; `failed` the entries whose last attempt ended in an error (caught or not).
 */
export function buildExecutionTrace(
  execution: {
    readonly executionArn: string; readonly name?: string; readonly status?: string; readonly startedAt?: string; readonly stoppedAt?: string;
  },
  events: readonly AwsHistoryEvent[],
): ExecutionTrace {
  const counter = new Counter();
  let status: string | undefined;
  let startedAt: string | undefined;
  let stoppedAt: string | undefined;
  // AWS: which state entry an event belongs to, through previousEventId (parallel branches interleave).
  const entryOf = new Map<number, number>();
  const entries = new Map<number, { name: string; attempts: number; lastFailed: boolean }>();
  for (const e of events) {
    const type = e.type ?? '';
    if (type === 'ExecutionStarted') startedAt = iso(e.timestamp);
    if (AWS_END[type]) {
      status = AWS_END[type];
      stoppedAt = iso(e.timestamp);
    }
    const id = e.id;
    let entry = e.previousEventId !== undefined ? entryOf.get(e.previousEventId) : undefined;
    if (type.endsWith('StateEntered') && e.stateEnteredEventDetails?.name !== undefined) {
      const name = e.stateEnteredEventDetails.name;
      counter.of(name).entered++;
      if (id !== undefined) {
        entries.set(id, { name, attempts: 0, lastFailed: false });
        entry = id;
      }
    } else if (type.endsWith('StateExited')) {
      if (id !== undefined) entryOf.set(id, -1);
      continue;
    }
    if (id !== undefined && entry !== undefined) entryOf.set(id, entry);
    const current = entry !== undefined ? entries.get(entry) : undefined;
    if (!current) continue;
    if (AWS_ATTEMPT_STARTED.has(type)) {
      current.attempts++;
      current.lastFailed = false;
    } else if (AWS_ATTEMPT_FAILED.has(type)) {
      current.lastFailed = true;
    } else if (AWS_ATTEMPT_SUCCEEDED.has(type)) {
      current.lastFailed = false;
    }
  }
  for (const entry of entries.values()) {
    const s = counter.of(entry.name);
    s.retried += Math.max(0, entry.attempts - 1);
    if (entry.lastFailed) s.failed++;
  }
  const states = counter.list();
  return {
    executionArn: execution.executionArn,
    name: execution.name ?? execution.executionArn.split(':').pop() ?? execution.executionArn,
    status: execution.status ?? status ?? 'RUNNING',
    ...(execution.startedAt ?? startedAt ? { startedAt: execution.startedAt ?? startedAt } : {}),
    ...(execution.stoppedAt ?? stoppedAt ? { stoppedAt: execution.stoppedAt ?? stoppedAt } : {}),
    states,
  };
}

/** Every state's totals over many executions (what the diagram colors). */
type Totals = { entered: number; failed: number; retried: number; executions: number };
export function totalsByState(traces: readonly ExecutionTrace[]): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const t of traces) {
    for (const s of t.states) {
      const o = out.get(s.name) ?? { entered: 0, failed: 0, retried: 0, executions: 0 };
      o.entered += s.entered;
      o.failed += s.failed;
      o.retried += s.retried;
      if (s.entered > 0) o.executions++;
      out.set(s.name, o);
    }
  }
  return out;
}
