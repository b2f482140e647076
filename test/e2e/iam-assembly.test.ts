/**
 * `local --assembly`: a platform team's own synthesized app — their props, prefixes and names —
 * runs locally as it will deploy, IAM enforced. The app here is made like a user's (`new App()`,
 * `app.synth()`, no CDK CLI: so no asset metadata), with a second, unrelated stack.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { tinyData } from './iam-helpers';
import { runLocalPipeline } from '../../local/orchestrator/index';
import { loadAssemblyStack } from '../../local/template';
import { AccreditationPipeline } from '../../src';

jest.setTimeout(300_000);

let work: string;
let data: string;

const PROPS = {
  rawPrefix: 'incoming/raw/',
  validatedPrefix: 'team/validated/',
  expiringPrefix: 'team/expiring/',
  productionPrefix: 'team/production/',
  expiryMonths: 3,
  removalPolicy: RemovalPolicy.DESTROY,
};

beforeAll(() => {
  process.env.JSII_DEPRECATED = 'quiet';
  work = mkdtempSync(join(tmpdir(), 'medlaunch-assembly-'));
  // Five records: two accreditations end 3-5 months after the snapshot (FAC00004, FAC00005).
  data = tinyData(join(work, 'data'), 5);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function synth(outdir: string, build: (app: App) => void): string {
  const app = new App({ outdir, analyticsReporting: false });
  build(app);
  app.synth();
  return outdir;
}

test('runs the app\'s pipeline stack with its own props: outputs land under its prefixes', async () => {
  const dir = synth(join(work, 'team-app'), (app) => {
    new AccreditationPipeline(new Stack(app, 'TeamPipeline'), 'Accreditation', PROPS);
    new s3.Bucket(new Stack(app, 'Unrelated'), 'Logs');
  });
  expect(loadAssemblyStack(dir).stackName).toBe('TeamPipeline');
  const r = await runLocalPipeline({ dataDir: data, workDir: join(work, 'run'), assembly: { dir } });
  expect(r.executions.map((e) => [e.status, e.error])).toEqual([['SUCCEEDED', undefined]]);
  expect(r.executions[0].key).toBe('incoming/raw/2025-08-10/facilities_0001.jsonl');
  const s = r.snapshots['2025-08-10'];
  expect(s).toMatchObject({ records: 5, valid: 5, quarantined: 0, extract_rows: 5 });
  const ls = (p: string) => (existsSync(join(r.bucketDir, p)) ? readdirSync(join(r.bucketDir, p), { recursive: true }) : []);
  expect(ls('incoming/raw/2025-08-10')).toEqual(['facilities_0001.jsonl']);
  expect(ls('team/validated').length).toBeGreaterThan(0);
  expect(ls('team/production/snapshot_date=2025-08-10')).toContain('state_counts.json');
  expect(ls('data')).toEqual([]); // nothing under the default prefixes
  expect(ls('validated')).toEqual([]);
  // expiryMonths 3 is the app's: no accreditation ends within 3 months (the default 6 finds two, below).
  expect(s.expiring).toEqual([]);
  expect(Object.keys(s.state_counts).length).toBeGreaterThan(0);
});

test('a stack the app imports a bucket into: the bucket is created locally and reported', async () => {
  const dir = synth(join(work, 'imported-app'), (app) => {
    const stack = new Stack(app, 'Imported');
    new AccreditationPipeline(stack, 'P', { bucket: s3.Bucket.fromBucketName(stack, 'Data', 'team-existing-bucket') });
  });
  const steps: string[] = [];
  const r = await runLocalPipeline({
    dataDir: data,
    workDir: join(work, 'run-imported'),
    assembly: { dir },
    onProgress: (e) => { if (e.kind === 'step') steps.push(e.message); },
  });
  expect(r.bucket).toBe('team-existing-bucket');
  expect(steps.join('\n')).toMatch(/team-existing-bucket.*not defined by the stack/);
  expect(r.executions.map((e) => e.status)).toEqual(['SUCCEEDED']);
  expect(r.snapshots['2025-08-10'].expiring).toEqual(['FAC00004', 'FAC00005']);
});

test('a stack bound to an account and region runs there (ARNs, policies and clients agree)', async () => {
  const dir = synth(join(work, 'bound-app'), (app) => {
    new AccreditationPipeline(new Stack(app, 'Bound', { env: { account: '111122223333', region: 'eu-west-1' } }), 'P');
  });
  const loaded = loadAssemblyStack(dir);
  expect([loaded.account, loaded.region]).toEqual(['111122223333', 'eu-west-1']);
  const r = await runLocalPipeline({ dataDir: data, workDir: join(work, 'run-bound'), assembly: { dir } });
  expect(r.executions.map((e) => [e.status, e.error])).toEqual([['SUCCEEDED', undefined]]);
  expect(r.snapshots['2025-08-10'].extract_rows).toBe(5);
});

test('choosing the stack: --stack, several candidates, none', () => {
  const dir = synth(join(work, 'two-app'), (app) => {
    new AccreditationPipeline(new Stack(app, 'Dev'), 'P', PROPS);
    new AccreditationPipeline(new Stack(app, 'Prod'), 'P');
  });
  expect(() => loadAssemblyStack(dir)).toThrow(/several stacks hold an AccreditationPipeline \(Dev, Prod\); choose one with --stack/);
  expect(loadAssemblyStack(dir, 'Prod').stackName).toBe('Prod');
  expect(() => loadAssemblyStack(dir, 'Staging')).toThrow(/--stack Staging: no such stack .*\(stacks: Dev, Prod\)/);
  const none = synth(join(work, 'none-app'), (app) => { new s3.Bucket(new Stack(app, 'Only'), 'B'); });
  expect(() => loadAssemblyStack(none)).toThrow(/no stack holds an AccreditationPipeline \(stacks: Only\)/);
  expect(() => loadAssemblyStack(none, 'Only')).toThrow(/holds no AccreditationPipeline/);
  expect(() => loadAssemblyStack(join(work, 'nowhere'))).toThrow(/not a directory/);
});
