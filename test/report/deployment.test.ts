/**
 * The report's deployment (the bucket, its prefixes and the state machine) is what local/template resolves, the
 * code a local run deploys from: for `<workdir>/cdk.out`, and for the app a run with --assembly recorded in
 * `<workdir>/assembly.json`. What cannot be read is a note, never an error.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { REPO } from './support/fixture';
import { ASSEMBLY_RECORD, readDeployment } from '../../cli/report/local';
import { pipelineStack, resolveTemplate, type ResolvedTemplate } from '../../local/template';
import { AccreditationPipeline } from '../../src';
import { ENV, PREFIX_ENV } from '../../src/contract';
import { OBSERVABILITY_ENV } from '../../src/contract/observability';

const INTEG = join(REPO, 'integ', 'integ.pipeline.ts.snapshot');

let root: string;
beforeAll(() => {
  process.env.JSII_DEPRECATED = 'quiet';
  root = mkdtempSync(join(tmpdir(), 'report-deployment-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A work folder holding a copy of the committed synthesized template as its cdk.out (`edit` may change it). */
function workDirWithIntegTemplate(name: string, edit?: (template: Record<string, any>) => void): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'cdk.out'), { recursive: true });
  for (const f of readdirSync(INTEG)) {
    if (f !== 'manifest.json' && !f.endsWith('.template.json')) continue;
    const t = JSON.parse(readFileSync(join(INTEG, f), 'utf8'));
    if (edit && f === 'MedlaunchEltPipelineInteg.template.json') edit(t);
    writeFileSync(join(dir, 'cdk.out', f), JSON.stringify(t));
  }
  return dir;
}

/** The stack of an assembly resolved exactly as the local run resolves it (local/orchestrator/deploy.ts). */
function resolvedAsTheRunDoes(dir: string, stack?: string): ResolvedTemplate {
  const s = pipelineStack({ assembly: { dir, stack } });
  return resolveTemplate(s.template, { assemblyDir: s.assemblyDir, region: s.region ?? 'us-east-1', accountId: s.account, stackName: s.stackName });
}

/** What the report must read from a resolved template: the pipeline functions' environment and the one state machine. */
function expectedOf(tpl: ResolvedTemplate) {
  const env = tpl.lambdaFunctions().find((f) => f.env[ENV.dataBucket] !== undefined)!.env;
  const machine = tpl.stateMachine();
  return {
    bucket: env[ENV.dataBucket],
    expiringPrefix: env[PREFIX_ENV.expiringPrefix],
    reportsPrefix: env[OBSERVABILITY_ENV.reportsPrefix],
    stateMachine: { name: machine.name, definition: machine.definition },
  };
}

describe('readDeployment', () => {
  it('equals what local/template resolves for the same cdk.out', () => {
    const dir = workDirWithIntegTemplate('integ');
    const notes: string[] = [];
    const dep = readDeployment(dir, notes);
    expect(notes).toEqual([]);
    const expected = expectedOf(resolvedAsTheRunDoes(join(dir, 'cdk.out')));
    expect(dep).toEqual(expected);
    // Not vacuous: the definition's substitutions are resolved (no ${…} left) and names are the run's.
    expect(JSON.stringify(dep.stateMachine!.definition)).not.toMatch(/\$\{/);
    expect(dep.stateMachine!.name).toMatch(/^MedlaunchEltPipelineInteg-/);
    expect(dep.bucket).toMatch(/^medlaunchelt/);
    expect([dep.expiringPrefix, dep.reportsPrefix]).toEqual(['expiring/', 'reports/']);
  });

  it('reads the app a run with --assembly recorded: its chosen stack, its prefixes', () => {
    const app = new App({ outdir: join(root, 'team-app'), analyticsReporting: false });
    new AccreditationPipeline(new Stack(app, 'Dev'), 'P');
    new AccreditationPipeline(new Stack(app, 'Prod'), 'P', { expiringPrefix: 'team/expiring/', reportsPrefix: 'team/reports/' });
    const assembly = app.synth().directory;
    const dir = join(root, 'assembly-run');
    mkdirSync(dir);
    writeFileSync(join(dir, ASSEMBLY_RECORD), JSON.stringify({ dir: assembly, stack: 'Prod' }));
    const notes: string[] = [];
    const dep = readDeployment(dir, notes);
    expect(notes).toEqual([]);
    expect(dep).toEqual(expectedOf(resolvedAsTheRunDoes(assembly, 'Prod')));
    expect(dep.stateMachine!.name).toMatch(/^Prod-/);
    expect([dep.expiringPrefix, dep.reportsPrefix]).toEqual(['team/expiring/', 'team/reports/']);
  });

  it('says what it cannot read, and never throws', () => {
    const read = (dir: string) => {
      const notes: string[] = [];
      return { dep: readDeployment(dir, notes), notes };
    };
    // No cloud assembly at all.
    const empty = join(root, 'empty');
    mkdirSync(empty);
    expect(read(empty)).toEqual({ dep: {}, notes: [`${join(empty, 'cdk.out')}: no synthesized template; the state machine is not drawn`] });
    // A record that is not JSON, one that names no app, one whose app is gone.
    const bad = join(root, 'bad-record');
    mkdirSync(bad);
    writeFileSync(join(bad, ASSEMBLY_RECORD), '{"dir": ');
    expect(read(bad).notes).toEqual([expect.stringMatching(/assembly\.json: not JSON \(.*\); the state machine is not drawn$/)]);
    writeFileSync(join(bad, ASSEMBLY_RECORD), '{"folder": "x"}');
    expect(read(bad).notes).toEqual([`${join(bad, ASSEMBLY_RECORD)}: not a record of the app (dir and stack expected); the state machine is not drawn`]);
    writeFileSync(join(bad, ASSEMBLY_RECORD), JSON.stringify({ dir: join(root, 'moved-away'), stack: 'Prod' }));
    expect(read(bad)).toEqual({ dep: {}, notes: [expect.stringMatching(/moved-away: .*not a directory.*; the state machine is not drawn$/)] });
    // Two state machines: none is drawn; the bucket and prefixes are still read.
    const two = read(workDirWithIntegTemplate('two-machines', (t) => {
      const [id, machine] = Object.entries(t.Resources as Record<string, { Type: string }>).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')!;
      t.Resources[`${id}Copy`] = machine;
    }));
    expect(two.notes).toEqual([expect.stringMatching(/cdk\.out: the state machine is not drawn \(expected one state machine, found 2\)$/)]);
    expect(two.dep.stateMachine).toBeUndefined();
    expect(two.dep.bucket).toMatch(/^medlaunchelt/);
    // A prefix the runtime refuses: the machine is drawn, the prefixes are not guessed.
    const prefix = read(workDirWithIntegTemplate('bad-prefix', (t) => {
      for (const r of Object.values(t.Resources as Record<string, any>)) {
        const vars = r.Properties?.Environment?.Variables;
        if (vars?.[ENV.dataBucket] !== undefined) vars[PREFIX_ENV.expiringPrefix] = 'no-slash';
      }
    }));
    expect(prefix.notes).toEqual([expect.stringMatching(/cdk\.out: cannot read the functions' environment \(EXPIRING_PREFIX must be .*'no-slash'\)\)$/)]);
    expect(prefix.dep.bucket).toBeUndefined();
    expect(prefix.dep.stateMachine?.definition.StartAt).toBeDefined();
  });
});
