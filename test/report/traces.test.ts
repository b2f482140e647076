import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLocalTraces } from '../../cli/report/local';
import { buildExecutionTrace, totalsByState, type AwsHistoryEvent } from '../../cli/report/traces';
import type { ExecutionTrace } from '../../cli/report/types';
import type { InvokeResult } from '../../local/lambda';
import { writeExecutionHistories } from '../../local/orchestrator/observability';
import { LocalStepFunctions } from '../../local/stepfunctions';

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
      ev(10, 9, 'TaskStateEntered', 'ReadTicket'),
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
      ReadTicket: { name: 'ReadTicket', entered: 1, retried: 0, failed: 1 },
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

describe('buildExecutionTrace from a local run\'s history files (local/stepfunctions, the engine of local runs)', () => {
  /**
   * Runs a definition on the local Step Functions and writes its histories as a local run does
   * (`<workdir>/executions/<name>.json`, GetExecutionHistory's shape); returns what the report reads back.
   */
  async function run(definition: object, invoke: (fn: string) => InvokeResult): Promise<{ traces: ExecutionTrace[]; notes: string[]; dir: string }> {
    const sfn = new LocalStepFunctions({ lambda: { invoke: async (fn) => invoke(fn) }, retryScale: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'report-traces-'));
    dirs.push(dir);
    try {
      const arn = sfn.register({ name: 'Machine', definition: definition as Record<string, any> });
      await sfn.startExecution(arn, {}, 'run-1').result;
      await writeExecutionHistories(sfn, dir);
    } finally {
      await sfn.close();
    }
    const notes: string[] = [];
    return { traces: readLocalTraces(dir, notes), notes, dir };
  }
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const ok = (): InvokeResult => ({ requestId: 'r', payload: { ok: true }, durationMs: 1, coldStart: false });
  const transient = (): InvokeResult => ({ requestId: 'r', functionError: 'Unhandled', errorType: 'TransientError', errorMessage: 'try again', durationMs: 1, coldStart: false });
  const fn = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;

  it('counts the retries the engine made and the failure it caught', async () => {
    let flaky = 0;
    const { traces, notes } = await run({
      StartAt: 'Flaky',
      States: {
        Flaky: { Type: 'Task', Resource: fn('flaky'), Next: 'Broken', Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 3, IntervalSeconds: 1 }] },
        Broken: {
          Type: 'Task',
          Resource: fn('broken'),
          Next: 'Done',
          Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 1, IntervalSeconds: 1 }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Alert' }],
        },
        Alert: { Type: 'Pass', End: true },
        Done: { Type: 'Succeed' },
      },
    }, (f) => (f.endsWith(':flaky') ? (++flaky <= 2 ? transient() : ok()) : transient()));
    expect(notes).toEqual([]);
    expect(traces).toHaveLength(1);
    const t = traces[0];
    expect(t).toMatchObject({ name: 'run-1', status: 'SUCCEEDED', executionArn: expect.stringMatching(/:execution:Machine:run-1$/) });
    expect(Date.parse(t.stoppedAt!)).toBeGreaterThanOrEqual(Date.parse(t.startedAt!));
    expect(byName(t)).toEqual({
      Flaky: { name: 'Flaky', entered: 1, retried: 2, failed: 0 },
      // one retry (MaxAttempts 1), then the second failure is caught
      Broken: { name: 'Broken', entered: 1, retried: 1, failed: 1 },
      Alert: { name: 'Alert', entered: 1, retried: 0, failed: 0 },
    });
    expect(t.states.map((s) => s.name)).toEqual(['Flaky', 'Broken', 'Alert']);
  });

  it('attributes the events of parallel branches to their own states; an uncaught failure fails the execution', async () => {
    let left = 0;
    const { traces } = await run({
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          End: true,
          Branches: [
            { StartAt: 'Left', States: { Left: { Type: 'Task', Resource: fn('left'), End: true, Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 2, IntervalSeconds: 1 }] } } },
            { StartAt: 'Right', States: { Right: { Type: 'Task', Resource: fn('right'), Next: 'RightDone' }, RightDone: { Type: 'Pass', End: true } } },
          ],
        },
      },
    }, (f) => (f.endsWith(':left') ? (++left <= 1 ? transient() : ok()) : ok()));
    const s = byName(traces[0]);
    expect(traces[0].status).toBe('SUCCEEDED');
    expect(s).toEqual({
      Both: { name: 'Both', entered: 1, retried: 0, failed: 0 },
      Left: { name: 'Left', entered: 1, retried: 1, failed: 0 },
      Right: { name: 'Right', entered: 1, retried: 0, failed: 0 },
      RightDone: { name: 'RightDone', entered: 1, retried: 0, failed: 0 },
    });

    const failed = await run({
      StartAt: 'Only',
      States: { Only: { Type: 'Task', Resource: fn('broken'), End: true, Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 1, IntervalSeconds: 1 }] } },
    }, transient);
    expect(failed.traces[0]).toMatchObject({ status: 'FAILED', states: [{ name: 'Only', entered: 1, retried: 1, failed: 1 }] });
  });

  it('notes a missing folder and skips a file that is not a history', async () => {
    const { dir } = await run({ StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }, ok);
    writeFileSync(join(dir, 'executions', 'broken.json'), '{');
    writeFileSync(join(dir, 'executions', 'other.json'), '{"name": "x"}');
    const notes: string[] = [];
    expect(readLocalTraces(dir, notes).map((t) => t.name)).toEqual(['run-1']);
    expect(notes).toEqual([
      expect.stringMatching(/broken\.json: not JSON .*; skipped$/),
      expect.stringMatching(/other\.json: not an execution history \(executionArn and events expected\); skipped$/),
    ]);
    const empty: string[] = [];
    expect(readLocalTraces(join(dir, 'nowhere'), empty)).toEqual([]);
    expect(empty).toEqual([expect.stringMatching(/executions: not found .*drawn without execution traces$/)]);
  });
});

describe('totalsByState', () => {
  it('adds up states over executions and counts the executions that entered each', () => {
    const a = { executionArn: 'a', name: 'a', status: 'SUCCEEDED', states: [{ name: 'X', entered: 2, retried: 1, failed: 0 }] };
    const b = { executionArn: 'b', name: 'b', status: 'FAILED', states: [{ name: 'X', entered: 1, retried: 0, failed: 1 }, { name: 'Y', entered: 0, retried: 0, failed: 0 }] };
    const totals = totalsByState([a, b]);
    expect(totals.get('X')).toEqual({ entered: 3, retried: 1, failed: 1, executions: 2 });
    expect(totals.get('Y')).toEqual({ entered: 0, retried: 0, failed: 0, executions: 0 });
  });
});
