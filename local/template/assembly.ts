/**
 * Loads a synthesized CDK app (a cloud assembly: `cdk.out`) so the local engine runs a platform
 * team's own pipeline stack — their props, prefixes and names — instead of the built-in one:
 * `npx medlaunch-elt local --assembly cdk.out [--stack NAME]`.
 *
 * The stack is the one named by `--stack` (artifact id, stack name or display path), else the single
 * stack of the assembly that holds an AccreditationPipeline, recognised by its resources: a Step
 * Functions state machine, an Athena workgroup and the three pipeline functions (Lambda functions
 * whose environment names the data bucket). Nested assemblies (CDK stages) are searched too.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TemplateResolutionError } from './intrinsics';
import type { CfnTemplate } from './intrinsics';

/** Thrown for an assembly folder or stack choice that cannot be used (a one-line message). */
export class AssemblyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssemblyError';
  }
}

/** A stack of a cloud assembly. */
export interface AssemblyStackInfo {
  /** Artifact id (the CLI's stack id, e.g. `Stage-Stack` for a stack in a stage). */
  readonly id: string;
  /** The CloudFormation stack name. */
  readonly stackName: string;
  /** Construct path (`displayName`), e.g. `Prod/Pipeline`. */
  readonly displayName: string;
  /** The folder holding the template and the stack's assets. */
  readonly assemblyDir: string;
  readonly templateFile: string;
  /** `aws://<account>/<region>`; `unknown-account` / `unknown-region` for environment-agnostic stacks. */
  readonly environment?: string;
}

/** The stack chosen to run, with its template. */
export interface LoadedAssemblyStack extends AssemblyStackInfo {
  readonly template: CfnTemplate;
  /** The account and region the stack is bound to, when the app set them. */
  readonly account?: string;
  readonly region?: string;
}

interface Manifest {
  readonly artifacts?: Record<string, {
    readonly type?: string;
    readonly environment?: string;
    readonly displayName?: string;
    readonly properties?: { templateFile?: string; stackName?: string; directoryName?: string };
  }>;
}

function readManifest(dir: string): Manifest {
  const file = join(dir, 'manifest.json');
  if (!existsSync(file)) throw new AssemblyError(`--assembly ${dir}: no manifest.json (expected the cdk.out folder of a synthesized app)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new AssemblyError(`--assembly ${dir}: manifest.json is not valid JSON (${(e as Error).message})`);
  }
}

/** Every CloudFormation stack of the assembly, nested assemblies (stages) included. */
export function listAssemblyStacks(assemblyDir: string): AssemblyStackInfo[] {
  const dir = resolve(assemblyDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new AssemblyError(`--assembly ${assemblyDir}: not a directory`);
  const out: AssemblyStackInfo[] = [];
  const walk = (d: string, depth: number) => {
    for (const [id, a] of Object.entries(readManifest(d).artifacts ?? {})) {
      if (a.type === 'aws:cloudformation:stack' && a.properties?.templateFile) {
        out.push({
          id,
          stackName: a.properties.stackName ?? id,
          displayName: a.displayName ?? id,
          assemblyDir: d,
          templateFile: join(d, a.properties.templateFile),
          environment: a.environment,
        });
      } else if (a.type === 'cdk:cloud-assembly' && a.properties?.directoryName && depth < 8) {
        walk(join(d, a.properties.directoryName), depth + 1);
      }
    }
  };
  walk(dir, 0);
  return out;
}

function readTemplate(s: AssemblyStackInfo): CfnTemplate {
  try {
    return JSON.parse(readFileSync(s.templateFile, 'utf8')) as CfnTemplate;
  } catch (e) {
    throw new AssemblyError(`stack ${s.id}: cannot read its template ${s.templateFile} (${(e as Error).message})`);
  }
}

/** Whether a template holds an AccreditationPipeline (its state machine, workgroup and three functions). */
export function isPipelineTemplate(template: CfnTemplate): boolean {
  const resources = Object.values(template.Resources ?? {});
  const count = (type: string) => resources.filter((r) => r.Type === type).length;
  const pipelineFunctions = resources.filter((r) => r.Type === 'AWS::Lambda::Function'
    && r.Properties?.Environment?.Variables?.DATA_BUCKET !== undefined
    && r.Properties?.Environment?.Variables?.ATHENA_WORKGROUP !== undefined).length;
  return count('AWS::StepFunctions::StateMachine') >= 1 && count('AWS::Athena::WorkGroup') >= 1 && pipelineFunctions >= 3;
}

function envOf(environment: string | undefined): { account?: string; region?: string } {
  const m = /^aws:\/\/([^/]+)\/(.+)$/.exec(environment ?? '');
  if (!m) return {};
  return {
    account: /^\d{12}$/.test(m[1]) ? m[1] : undefined,
    region: m[2] !== 'unknown-region' ? m[2] : undefined,
  };
}

/**
 * The pipeline stack of a cloud assembly: the one named `stack` (artifact id, stack name or
 * display path), else the only stack holding an AccreditationPipeline. Throws AssemblyError with a
 * one-line message when there is none, or several and no `stack`.
 */
export function loadAssemblyStack(assemblyDir: string, stack?: string): LoadedAssemblyStack {
  const all = listAssemblyStacks(assemblyDir);
  if (all.length === 0) throw new AssemblyError(`--assembly ${assemblyDir}: the assembly has no CloudFormation stacks`);
  let chosen: AssemblyStackInfo;
  let template: CfnTemplate;
  if (stack !== undefined) {
    const named = all.filter((s) => s.id === stack || s.stackName === stack || s.displayName === stack);
    if (named.length === 0) {
      throw new AssemblyError(`--stack ${stack}: no such stack in ${assemblyDir} (stacks: ${all.map((s) => s.id).join(', ')})`);
    }
    if (named.length > 1) {
      throw new AssemblyError(`--stack ${stack}: names several stacks (${named.map((s) => s.id).join(', ')}); use the artifact id`);
    }
    chosen = named[0];
    template = readTemplate(chosen);
    if (!isPipelineTemplate(template)) {
      throw new AssemblyError(`--stack ${stack}: the stack holds no AccreditationPipeline (no state machine, Athena workgroup and three pipeline functions)`);
    }
  } else {
    const candidates = all.map((s) => ({ s, t: readTemplate(s) })).filter((c) => isPipelineTemplate(c.t));
    if (candidates.length === 0) {
      throw new AssemblyError(`--assembly ${assemblyDir}: no stack holds an AccreditationPipeline (stacks: ${all.map((s) => s.id).join(', ')})`);
    }
    if (candidates.length > 1) {
      throw new AssemblyError(`--assembly ${assemblyDir}: several stacks hold an AccreditationPipeline (${candidates.map((c) => c.s.id).join(', ')}); choose one with --stack`);
    }
    chosen = candidates[0].s;
    template = candidates[0].t;
  }
  if (!template.Resources) throw new TemplateResolutionError(`stack ${chosen.id}: the template has no Resources`);
  return { ...chosen, template, ...envOf(chosen.environment) };
}
