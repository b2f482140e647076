import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Asl from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };
import { readLocalTraces, TRACES_FILE, writeExecutionTraces } from '../../cli/report/local';
import { buildExecutionTrace, parseTraces, totalsByState, type AwsHistoryEvent, type LocalHistoryEvent } from '../../cli/report/traces';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StateMachine } = require('aws-local-stepfunctions') as typeof Asl;

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:Machine:run-1';
const byName = (t: ReturnType<typeof buildExecutionTrace>) => Object.fromEntries(t.states.map((s) => [s.name, s]));

describe('buildExecutionTrace from a GetExecutionHistory event list (AWS)', () => {
  // The shape GetExecutionHistory returns: ids, previousEventId chains, typed details.
  const ev = (id: number, previousEventId: number, type: string, name?: string): AwsHistoryEvent => ({
    id,
    previousEventId,
    type,
    timestamp: new Date(Date.UTC(2025, 7, 13, 12, 0, id)),
    ...(name ? { stateEnteredEventDetails: { name } } : {}),
  });

  it('counts entries, retries (a new attempt inside one entry) and failures (the entry\'s last attempt failed)', () => {
    const events = [
      ev(1, 0, 'ExecutionStarted'),
      ev(2, 1, 'TaskStateEntered', 'ProcessObject'),
      ev(3, 2, 'LambdaFunctionScheduled'), ev(4, 3, 'LambdaFunctionStarted'), ev(5, 4, 'LambdaFunctionTimedOut'),
      ev(6, 5, 'LambdaFunctionScheduled'), ev(7, 6, 'LambdaFunctionStarted'), ev(8, 7, 'LambdaFunctionSucceeded'),
      ev(9, 8, 'TaskStateExited'),
      ev(10, 9, 'TaskStateEntered', 'ClaimSnapshot'),
      ev(11, 10, 'LambdaFunctionScheduled'), ev(12, 11, 'LambdaFunctionStarted'), ev(13, 12, 'LambdaFunctionFailed'),
      // caught: the Catch goes on to the alert
      ev(14, 13, 'ChoiceStateEntered', 'AlertWhichError'), ev(15, 14, 'ChoiceStateExited'),
      ev(16, 15, 'FailStateEntered', 'Failed'),
      ev(17, 16, 'ExecutionFailed'),
    ];
    const t = buildExecutionTrace({ executionArn: ARN }, events);
    expect(t).toMatchObject({ name: 'run-1', status: 'FAILED', startedAt: '2025-08-13T12:00:01.000Z', stoppedAt: '2025-08-13T12:00:17.000Z' });
    expect(byName(t)).toEqual({
      ProcessObject: { name: 'ProcessObject', entered: 1, retried: 1, failed: 0 },
      ClaimSnapshot: { name: 'ClaimSnapshot', entered: 1, retried: 0, failed: 1 },
      AlertWhichError: { name: 'AlertWhichError', entered: 1, retried: 0, failed: 0 },
      Failed: { name: 'Failed', entered: 1, retried: 0, failed: 0 },
    });
  });

  it('attributes interleaved Parallel branch events to their own state through previousEventId', () => {
    const events = [
      ev(1, 0, 'ExecutionStarted'),
      ev(2, 1, 'ParallelStateEntered', 'RefreshSnapshot'), ev(3, 2, 'ParallelStateStarted'),
      ev(4, 3, 'TaskStateEntered', 'StartExtract'),
      ev(5, 3, 'TaskStateEntered', 'StartStateCounts'),
      ev(6, 4, 'TaskScheduled'), ev(7, 5, 'TaskScheduled'),
      ev(8, 6, 'TaskFailed'), // StartExtract's first attempt
      ev(9, 7, 'TaskSucceeded'), // StartStateCounts
      ev(10, 8, 'TaskScheduled'), // StartExtract's retry
      ev(11, 10, 'TaskSucceeded'),
      ev(12, 11, 'TaskStateExited'), ev(13, 9, 'TaskStateExited'),
      ev(14, 13, 'ParallelStateSucceeded'), ev(15, 14, 'ParallelStateExited'),
      ev(16, 15, 'ExecutionSucceeded'),
    ];
    const s = byName(buildExecutionTrace({ executionArn: ARN }, events));
    expect(s.StartExtract).toMatchObject({ entered: 1, retried: 1, failed: 0 });
    expect(s.StartStateCounts).toMatchObject({ entered: 1, retried: 0, failed: 0 });
    expect(s.RefreshSnapshot).toMatchObject({ entered: 1, retried: 0, failed: 0 });
  });

  it('reads an execution still running (no end event) as RUNNING; given fields win', () => {
    const t = buildExecutionTrace({ executionArn: ARN }, [ev(1, 0, 'ExecutionStarted'), ev(2, 1, 'PassStateEntered', 'DescribeObject')]);
    expect(t.status).toBe('RUNNING');
    expect(t.stoppedAt).toBeUndefined();
    expect(buildExecutionTrace({ executionArn: ARN, name: 'n', status: 'ABORTED' }, []).status).toBe('ABORTED');
  });
});

describe('buildExecutionTrace from the local engine (aws-local-stepfunctions, as local/stepfunctions records it)', () => {
  /** Runs a definition on the engine the local run uses and records its events as local/stepfunctions does. */
  async function run(definition: object, handlers: Record<string, () => Promise<{ ok: boolean }>>): Promise<LocalHistoryEvent[]> {
    const machine = new StateMachine(definition as never);
    const execution = machine.run({}, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        retryIntervalOverrides: Object.fromEntries(Object.keys(handlers).map((k) => [k, 0])),
      },
    });
    const events: LocalHistoryEvent[] = [];
    const pump = (async () => {
      type EngineEvent = { type: string; timestamp: number; state?: { name: string }; parentState?: { name: string } };
      for await (const e of execution.eventLogs as AsyncIterable<EngineEvent>) {
        const state = e.state ?? e.parentState;
        events.push({ type: e.type, timestamp: e.timestamp, ...(state ? { state: state.name } : {}) });
      }
    })();
    await execution.result.catch(() => undefined);
    await pump;
    return events;
  }

  const definition = {
    StartAt: 'Flaky',
    States: {
      Flaky: {
        Type: 'Task',
        Resource: 'arn:aws:lambda:us-east-1:123456789012:function:flaky',
        Next: 'Broken',
        Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 3, IntervalSeconds: 1 }],
      },
      Broken: {
        Type: 'Task',
        Resource: 'arn:aws:lambda:us-east-1:123456789012:function:broken',
        Next: 'Done',
        Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 1, IntervalSeconds: 1 }],
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Alert' }],
      },
      Alert: { Type: 'Pass', End: true },
      Done: { Type: 'Succeed' },
    },
  };

  it('counts the retries the engine made and the failure it caught', async () => {
    let flaky = 0;
    const transient = () => Object.assign(new Error('try again'), { name: 'TransientError' });
    const events = await run(definition, {
      Flaky: async () => {
        if (++flaky <= 2) throw transient();
        return { ok: true };
      },
      Broken: async () => {
        throw transient();
      },
    });
    const t = buildExecutionTrace({ executionArn: ARN, status: 'SUCCEEDED' }, events);
    expect(byName(t)).toEqual({
      Flaky: { name: 'Flaky', entered: 1, retried: 2, failed: 0 },
      // one retry (MaxAttempts 1), then the second failure is caught
      Broken: { name: 'Broken', entered: 1, retried: 1, failed: 1 },
      Alert: { name: 'Alert', entered: 1, retried: 0, failed: 0 },
    });
    expect(t.states.map((s) => s.name)).toEqual(['Flaky', 'Broken', 'Alert']);

    // The local run's traces file: what `report --workdir` reads back.
    const dir = mkdtempSync(join(tmpdir(), 'report-traces-'));
    try {
      const file = writeExecutionTraces(dir, [{ executionArn: ARN, status: 'SUCCEEDED', startDate: new Date(1_000), stopDate: new Date(4_000), history: events }]);
      expect(file).toBe(join(dir, TRACES_FILE));
      const notes: string[] = [];
      expect(readLocalTraces(dir, notes)).toEqual([{ ...t, startedAt: '1970-01-01T00:00:01.000Z', stoppedAt: '1970-01-01T00:00:04.000Z' }]);
      expect(notes).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('totalsByState and parseTraces', () => {
  it('adds up states over executions and counts the executions that entered each', () => {
    const a = { executionArn: 'a', name: 'a', status: 'SUCCEEDED', states: [{ name: 'X', entered: 2, retried: 1, failed: 0 }] };
    const b = { executionArn: 'b', name: 'b', status: 'FAILED', states: [{ name: 'X', entered: 1, retried: 0, failed: 1 }, { name: 'Y', entered: 0, retried: 0, failed: 0 }] };
    const totals = totalsByState([a, b]);
    expect(totals.get('X')).toEqual({ entered: 3, retried: 1, failed: 1, executions: 2 });
    expect(totals.get('Y')).toEqual({ entered: 0, retried: 0, failed: 0, executions: 0 });
  });

  it('reads an executions.json array, drops entries that are not traces, and refuses what is not an array', () => {
    const good = { executionArn: 'arn', name: 'n', status: 'SUCCEEDED', states: [] };
    expect(parseTraces(JSON.stringify([good, { name: 'no arn' }, 3]), 'f')).toEqual([good]);
    expect(() => parseTraces('{"executionArn": "x"}', 'executions.json')).toThrow('executions.json: expected an array of execution traces');
    expect(() => parseTraces('[', 'executions.json')).toThrow(/^executions.json: not JSON/);
  });
});
