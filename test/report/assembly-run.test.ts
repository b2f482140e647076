/**
 * `medlaunch-elt local --assembly` (a team's own synthesized app, its own prefixes) as a user runs it, the built CLI:
 * the report the run writes draws the state machine the run deployed and reads the run reports under the app's
 * reports prefix; `medlaunch-elt report --workdir` draws it again later, from the app the run recorded.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ASSEMBLY_RECORD } from '../../cli/report/local';
import { loadAssemblyStack, resolveTemplate } from '../../local/template';
import { AccreditationPipeline } from '../../src';
import { cli } from '../cli/cli-helpers';
import { tinyData } from '../e2e/iam-helpers';

jest.setTimeout(300_000);

let work: string;
let app: string;
let run: string;
let states: string[];

/** The state machine's diagram on a page (the `<svg>` labelled `sm-diagram`), or undefined. */
function diagram(page: string): string | undefined {
  return /<svg[^>]*aria-labelledby="sm-diagram">[\s\S]*?<\/svg>/.exec(page)?.[0];
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

beforeAll(() => {
  process.env.JSII_DEPRECATED = 'quiet';
  work = mkdtempSync(join(tmpdir(), 'report-assembly-'));
  const a = new App({ outdir: join(work, 'team-app'), analyticsReporting: false });
  new AccreditationPipeline(new Stack(a, 'TeamPipeline'), 'Accreditation', {
    rawPrefix: 'incoming/raw/',
    expiringPrefix: 'team/expiring/',
    reportsPrefix: 'team/reports/',
    removalPolicy: RemovalPolicy.DESTROY,
  });
  new s3.Bucket(new Stack(a, 'Unrelated'), 'Logs');
  app = a.synth().directory;
  run = join(work, 'run');
  // The states of the machine the app deploys, as local/template resolves it.
  const s = loadAssemblyStack(app);
  const def = resolveTemplate(s.template, { assemblyDir: s.assemblyDir, stackName: s.stackName }).stateMachine().definition;
  states = Object.keys(def.States as Record<string, unknown>);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the run\'s report draws the state machine it deployed and reads the app\'s reports prefix', () => {
  const data = tinyData(join(work, 'data'), 5);
  const r = cli(['local', '--data', data, '--workdir', run, '--assembly', app, '--json'], { cwd: work, timeout: 280_000 });
  expect(r.status).toBe(0);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { report?: string };
  expect(summary.report).toBe(join(run, 'report.html'));
  expect(existsSync(join(run, 'cdk.out'))).toBe(false); // the template stays in the app's folder
  const page = readFileSync(summary.report!, 'utf8');
  const svg = diagram(page);
  expect(svg).toBeDefined();
  expect(states).toEqual(expect.arrayContaining(['ProcessObject', 'PublishResults']));
  for (const state of states) expect(texts(svg!)).toContain(state);
  expect(page).toContain('>Snapshot 2025-08-10</h2>'); // its run report, under team/reports/
  expect(page).not.toMatch(/not drawn|no synthesized template/);
  // Where the app is, for a later `report --workdir`.
  expect(JSON.parse(readFileSync(join(run, ASSEMBLY_RECORD), 'utf8'))).toEqual({ dir: app, stack: 'TeamPipeline' });
});

test('report --workdir of that run draws the same from the recorded app', () => {
  const out = join(work, 'again.html');
  const r = cli(['report', '--workdir', run, '--out', out], { cwd: work });
  expect(r).toMatchObject({ status: 0, stderr: '' });
  const page = readFileSync(out, 'utf8');
  for (const state of states) expect(texts(diagram(page)!)).toContain(state);
  expect(page).toContain('>Snapshot 2025-08-10</h2>');
});

test('the recorded app moved away: one line says why, and no page is made up', () => {
  renameSync(app, `${app}-moved`);
  try {
    const out = join(work, 'moved.html');
    const r = cli(['report', '--workdir', run, '--out', out], { cwd: work });
    // Two buckets in the app's stack (data and access logs): without its template the report cannot tell which.
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^medlaunch-elt: report: ${escape(run)}: cannot tell the pipeline's bucket \\(the template names none \\(${escape(app)}: .*not a directory.*\\); the local S3 holds .*\\)\n$`));
    expect(existsSync(out)).toBe(false);
  } finally {
    renameSync(`${app}-moved`, app);
  }
});
