/**
 * IAM enforcement of the local run, end to end: the synthesized template with ONE grant a principal
 * needs removed makes the run fail with that AccessDenied, for each principal that uses S3. Proves
 * each grant is needed (a green local run means the deployed roles are enough) and that a denial
 * reaches the execution's outcome.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyStatementJson } from '../../local/iam/index';
import { runLocalPipeline, type LocalRunResult } from '../../local/orchestrator/index';

const actions = (s: PolicyStatementJson): string[] => [s.Action ?? []].flat() as string[];

let work: string;
let dataDir: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'iam-s3-pipeline-'));
  // the smallest run: one snapshot folder with one file of 8 records
  dataDir = join(work, 'data');
  mkdirSync(join(dataDir, '2025-08-10'), { recursive: true });
  copyFileSync(join(__dirname, '..', '..', 'data', 'batch', '2025-08-10', 'facilities_0001.jsonl'), join(dataDir, '2025-08-10', 'facilities_0001.jsonl'));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function runWithout(name: string, policyPrefix: string, action: string, enforceIam?: boolean): Promise<LocalRunResult> {
  return runLocalPipeline({
    dataDir,
    workDir: join(work, name),
    enforceIam,
    adjustPolicies: (p) => p.without(({ logicalId, statement }) => logicalId.startsWith(policyPrefix) && actions(statement).includes(action)),
  });
}

test('baseline: the template as synthesized passes with enforcement on (the default)', async () => {
  const result = await runLocalPipeline({ dataDir, workDir: join(work, 'baseline') });
  expect(result.accessDenied).toEqual([]);
  expect(result.executions.map((e) => e.status)).toEqual(['SUCCEEDED']);
  expect(result.snapshots['2025-08-10'].valid).toBeGreaterThan(0);
}, 120_000);

test('enforceIam: false checks nothing: the run without the processor\'s s3:PutObject passes', async () => {
  const result = await runWithout('no-enforcement', 'PipelineProcessorRoleDefaultPolicy', 's3:PutObject', false);
  expect(result.accessDenied).toEqual([]);
  expect(result.executions.map((e) => e.status)).toEqual(['SUCCEEDED']);
}, 120_000);

/** The run failed, and what the outcome says names the denial. */
function expectFailedWith(result: LocalRunResult, pattern: RegExp): void {
  const failed = result.executions.filter((e) => e.status !== 'SUCCEEDED');
  expect(failed.length).toBeGreaterThan(0);
  expect(JSON.stringify({ executions: failed, alerts: result.alerts })).toMatch(pattern);
}

test('the processor role without s3:PutObject: Stage 2 cannot write validated/ (or quarantine/)', async () => {
  const result = await runWithout('processor', 'PipelineProcessorRoleDefaultPolicy', 's3:PutObject');
  expect(result.accessDenied).toContainEqual(expect.objectContaining({
    operation: 'PutObject', code: 'AccessDenied', principal: expect.stringMatching(/PipelineProcessorRole/), key: expect.stringMatching(/^(validated|quarantine)\//),
  }));
  expect(result.accessDenied[0].message).toMatch(/is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::[^"]+\/(validated|quarantine)\//);
  expectFailedWith(result, /AccessDenied|s3:PutObject/);
}, 120_000);

test('the query runner role without s3:ListBucket: its reads and checks of missing keys are refused', async () => {
  const result = await runWithout('query-runner', 'PipelineQueryRunnerRoleDefaultPolicy', 's3:ListBucket');
  expect(result.accessDenied).toContainEqual(expect.objectContaining({
    code: 'AccessDenied', principal: expect.stringMatching(/PipelineQueryRunnerRole/), message: expect.stringMatching(/s3:ListBucket/),
  }));
  expectFailedWith(result, /AccessDenied|s3:ListBucket/);
}, 120_000);

test('the publisher role without s3:GetObject: Stage 3 cannot read results/', async () => {
  const result = await runWithout('publisher', 'PipelinePublisherRoleDefaultPolicy', 's3:GetObject');
  expect(result.accessDenied).toContainEqual(expect.objectContaining({
    code: 'AccessDenied', principal: expect.stringMatching(/PipelinePublisherRole/), message: expect.stringMatching(/s3:GetObject on resource: "arn:aws:s3:::[^"]+\/results\//),
  }));
  // The publisher first HEADs the object: a HEAD error has no body, so the SDK cannot name the 403
  // (`Unknown: UnknownError`, exactly as against AWS); the run's accessDenied list names it.
  expectFailedWith(result, /AccessDenied|s3:GetObject|UnknownError/);
}, 120_000);
