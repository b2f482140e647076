import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { definitionOf, only, synth } from './helpers';
import { PUBLISH_PAYLOAD_FIELDS } from '../../src/contract/observability';

/** The state machine and its definition (src/pipeline/state-machine.ts, src/pipeline/definition.ts) as synthesized; test/construct/state-machine.test.ts runs it. */
const { template } = synth();

describe('state machine and its definition', () => {
  test('Standard, logging ALL to a KMS-encrypted log group, X-Ray', () => {
    const sm = only(template, 'AWS::StepFunctions::StateMachine').props;
    expect(sm.StateMachineType).toBe('STANDARD');
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    expect(sm.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', [Match.stringLikeRegexp('^/aws/vendedlogs/states/'), Match.anyValue()]] },
      KmsKeyId: Match.anyValue(),
    });
  });

  test('JSONPath only, with the integrations aws-local-stepfunctions runs', () => {
    const def = definitionOf(template);
    expect(def.QueryLanguage).toBe('JSONPath');
    const all: [string, any][] = [];
    const walk = (states: Record<string, any>) => {
      for (const [name, s] of Object.entries(states)) {
        all.push([name, s]);
        for (const b of s.Branches ?? []) walk(b.States);
      }
    };
    walk(def.States);
    const names = all.map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining([
      'ProcessObject', 'RefreshSnapshot', 'StartExtract', 'WaitForExtract', 'PollExtract', 'StartStateCounts',
      'WaitForStateCounts', 'PollStateCounts', 'PublishResults', 'NotifyFailure', 'Failed',
    ]));
    for (const [name, s] of all) {
      expect(['Task', 'Wait', 'Choice', 'Parallel', 'Pass', 'Succeed', 'Fail']).toContain(s.Type);
      if (s.Type === 'Task') {
        expect(s.Resource).toMatch(/^arn:aws:states:::(lambda:invoke|sns:publish)$/);
        expect(s.TimeoutSeconds).toBeGreaterThan(0);
        expect(s.Retry?.length).toBeGreaterThan(0);
        if (s.Resource.endsWith('lambda:invoke')) {
          expect(s.Retry).toEqual([expect.objectContaining({
            ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException',
              'Lambda.TooManyRequestsException', 'TransientError'],
            JitterStrategy: 'FULL',
            BackoffRate: 2,
          }), expect.objectContaining({
            // timeouts: a bounded retry (the handlers are idempotent)
            ErrorEquals: ['Sandbox.Timedout', 'States.Timeout'],
            MaxAttempts: 2,
            JitterStrategy: 'FULL',
          })]);
          // permanent errors are never retried
          expect(JSON.stringify(s.Retry)).not.toMatch(/QueryFailedError|QueryCancelledError|InvalidEventError|States\.ALL/);
        }
      }
      expect(JSON.stringify(s)).not.toMatch(/\.sync|JSONata|"Map"/);
      void name;
    }
  });

  test('task timeouts exceed the function timeouts', () => {
    const def = definitionOf(template);
    expect(def.States.ProcessObject.TimeoutSeconds).toBe(600 + 60);
    expect(def.States.RefreshSnapshot.Branches[0].States.PollExtract.TimeoutSeconds).toBe(120 + 60);
    expect(def.TimeoutSeconds).toBe(3 * 3600);
  });

  test('the pending-input wait is gone: no PENDING_INPUT_WINDOW_SECONDS; pendingInputWindow is still accepted and ignored', () => {
    const envOf = (t: Template) => Object.values(t.findResources('AWS::Lambda::Function'))
      .map((f: any) => f.Properties.Environment?.Variables?.PENDING_INPUT_WINDOW_SECONDS).filter((v) => v !== undefined);
    expect(envOf(template)).toEqual([]);
    const deprecated = synth(() => ({ pendingInputWindow: Duration.days(5) })).template;
    expect(envOf(deprecated)).toEqual([]);
    expect(definitionOf(deprecated).States.WaitQuietPeriod.Seconds).toBe(30);
  });

  test('snapshotQuietPeriod: 30 s by default, the Wait before the ticket is read back', () => {
    expect(definitionOf(template).States.WaitQuietPeriod).toMatchObject({ Type: 'Wait', Seconds: 30, Next: 'ReadTicket' });
    expect(definitionOf(synth(() => ({ snapshotQuietPeriod: Duration.seconds(5) })).template).States.WaitQuietPeriod.Seconds).toBe(5);
  });

  test('RecordRun writes $.run (the execution\'s id and start time) before ProcessObject, on both start paths', () => {
    const def = definitionOf(template);
    expect(def.States.RecordRun).toMatchObject({
      Type: 'Pass',
      Parameters: { 'executionArn.$': '$$.Execution.Id', 'startedAt.$': '$$.Execution.StartTime' },
      ResultPath: '$.run',
      Next: 'ProcessObject',
    });
    expect(def.States.DefaultAsOf.Next).toBe('RecordRun');
    expect(def.States.NamedAsOf.Next).toBe('RecordRun');
    // ProcessObject passes the whole state, so the validator receives $.run
    expect(def.States.ProcessObject.Parameters['Payload.$']).toBe('$');
  });

  test('PublishResults passes the state counts, the facility extract\'s status and the run context', () => {
    const def = definitionOf(template);
    const parallel = def.States.RefreshSnapshot;
    expect(parallel.Next).toBe('PublishResults');
    expect(def.States.PublishResults.Parameters.Payload).toEqual({
      'bucket.$': '$.process.snapshot.bucket',
      'snapshotDate.$': '$.process.snapshot.snapshotDate',
      'results.$': '$.refresh.stateCounts',
      'extract.$': '$.refresh.extract',
      'run.$': '$.run',
    });
    expect(Object.keys(def.States.PublishResults.Parameters.Payload).map((k) => k.replace(/\.\$$/, '')))
      .toEqual([...PUBLISH_PAYLOAD_FIELDS]);
  });
});
