/**
 * Local mode refuses what AWS refuses: the pipeline app is synthesized once, then run with one grant
 * the pipeline needs taken out of its template, and the run fails with that AccessDenied, as the
 * first deploy would. Each run uses one snapshot of three records, so it takes seconds.
 * (The S3 grants of the functions are covered by the local S3 tests.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { assemblyWithout, GrantToRemove, synthesizeApp, tinyData } from './iam-helpers';
import { LocalRunOptions, LocalRunResult, runLocalPipeline } from '../../local/orchestrator/index';

jest.setTimeout(300_000);

let work: string;
let data: string;
let app: string;
let templateFile: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'medlaunch-iam-e2e-'));
  data = tinyData(join(work, 'data'));
  const file = synthesizeApp(join(work, 'app'));
  app = dirname(file);
  templateFile = basename(file);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function runWithout(name: string, grant: GrantToRemove, extra: Partial<LocalRunOptions> = {}): Promise<LocalRunResult> {
  const dir = assemblyWithout(app, join(work, `${name}-app`), templateFile, grant);
  return runLocalPipeline({ dataDir: data, workDir: join(work, name), assembly: { dir }, ...extra });
}

test('the shipped template passes with enforcement on (the baseline the other tests break)', async () => {
  const r = await runLocalPipeline({ dataDir: data, workDir: join(work, 'baseline'), assembly: { dir: app } });
  expect(r.executions.map((e) => [e.status, e.error])).toEqual([['SUCCEEDED', undefined]]);
  expect(r.snapshots['2025-08-10'].valid).toBe(3);
});

test('state machine role without lambda:InvokeFunction on the publisher: Lambda.AWSLambdaException', async () => {
  const r = await runWithout('no-invoke', { user: /StateMachine[0-9A-F]{8}$/, action: 'lambda:InvokeFunction', resourceMentions: /Publisher/ });
  expect(r.executions).toHaveLength(1);
  expect(r.executions[0].status).toBe('FAILED');
  expect(r.executions[0].error).toMatch(/Lambda\.AWSLambdaException/);
  expect(r.executions[0].error).toMatch(/assumed-role\/[^/]*StateMachineRole[^/]*\/.* is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:[^ ]*Publisher/);
  // Stages 2, 1 and 3 ran: only the publication was refused.
  expect(r.snapshots['2025-08-10'].valid).toBe(3);
  expect(r.snapshots['2025-08-10'].state_counts).toEqual({});
});

test('state machine role without sns:Publish: the failure alert is refused and the execution ends in AlertNotDelivered', async () => {
  const r = await runWithout('no-publish', { user: /StateMachine[0-9A-F]{8}$/, action: 'sns:Publish' }, { faults: ['athena-fail'] });
  expect(r.executions[0].status).toBe('FAILED');
  // NotifyFailure's own failure is caught into the AlertNotDelivered Fail state (README, "Alerting"), which the
  // FailuresNotAlerted alarm counts; its cause is SNS's AuthorizationError message.
  expect(r.executions[0].error).toMatch(/^AlertNotDelivered\b/);
  expect(r.executions[0].error).toMatch(/is not authorized to perform: SNS:Publish on resource: arn:aws:sns:/);
  expect(r.alerts).toEqual([]);
});

test('events role without states:StartExecution: no execution starts, the failed delivery is reported', async () => {
  const r = await runWithout('no-start', { user: /ObjectCreatedRule/, action: 'states:StartExecution' });
  expect(r.executions).toEqual([]);
  expect(r.failedDeliveries).toHaveLength(1);
  expect(r.failedDeliveries[0]).toMatchObject({ errorCode: 'NO_PERMISSIONS', attempts: 1 });
  expect(r.failedDeliveries[0].error).toMatch(/EventsRole.* is not authorized to perform: states:StartExecution on resource: arn:aws:states:/);
  expect(r.failedDeliveries[0].deadLetterQueue).toMatch(/^arn:aws:sqs:/);
});

test('query runner without athena:StartQueryExecution: AccessDeniedException from Athena', async () => {
  const r = await runWithout('no-athena', { user: /QueryRunner[0-9A-F]{8}$/, action: 'athena:StartQueryExecution' });
  expect(r.executions[0].status).toBe('FAILED');
  expect(r.executions[0].error).toMatch(/QueryRunnerRole.* is not authorized to perform: athena:StartQueryExecution on resource: arn:aws:athena:[^ ]*:workgroup\//);
});

test('query runner without glue:GetTable: the query fails as the caller', async () => {
  const r = await runWithout('no-glue', { user: /QueryRunner[0-9A-F]{8}$/, action: 'glue:GetTable' });
  expect(r.executions[0].status).toBe('FAILED');
  expect(r.executions[0].error).toMatch(/is not authorized to perform: glue:GetTable on resource: arn:aws:glue:/);
});
