/**
 * Synthesizes the pipeline's CDK stack in-process and reads the deployable facts the local engine
 * needs from the template: physical names and ARNs, Lambda functions (environment, handler, timeout,
 * memory, asset folder), the state machine definition, EventBridge rules and targets, Glue
 * databases/tables, the Athena workgroup and SNS topics.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { loadAssemblyStack } from './assembly';
import { IntrinsicResolver, TemplateResolutionError } from './intrinsics';
import type { CfnTemplate, ResolveEnvironment } from './intrinsics';
import * as pipelineLib from '../../src';

export { IntrinsicResolver, TemplateResolutionError } from './intrinsics';
export { AssemblyError, isPipelineTemplate, listAssemblyStacks, loadAssemblyStack } from './assembly';
export type { AssemblyStackInfo, LoadedAssemblyStack } from './assembly';
export type { CfnResource, CfnTemplate, ResolveEnvironment } from './intrinsics';

/** Stack name used for the locally synthesized pipeline. */
export const LOCAL_STACK_NAME = 'MedlaunchEltLocal';

/** A synthesized stack: its template and the cloud assembly folder (asset paths are relative to it). */
export interface SynthesizedTemplate {
  readonly template: CfnTemplate;
  readonly assemblyDir: string;
  readonly stackName: string;
}

/** Options of {@link synthesizeTemplate}. */
export interface SynthesizeOptions {
  /** Cloud assembly folder (default: a new temporary folder). */
  readonly outdir?: string;
  /** Stack name (default `MedlaunchEltLocal`). */
  readonly stackName?: string;
  /** App context values. */
  readonly context?: Record<string, unknown>;
}

/** Synthesizes a stack built by `build` in-process (`new App({outdir})`, `app.synth()`). */
export function synthesizeTemplate(build: (stack: Stack) => void, options: SynthesizeOptions = {}): SynthesizedTemplate {
  const outdir = options.outdir ?? mkdtempSync(join(tmpdir(), 'medlaunch-elt-cdk-'));
  const stackName = options.stackName ?? LOCAL_STACK_NAME;
  // jsii prints a stack trace per deprecated property read (e.g. CfnWorkGroup); keep the run's output clean.
  process.env.JSII_DEPRECATED ??= 'quiet';
  // Asset metadata (aws:asset:path) is only written when this context flag is set (the CDK CLI sets it).
  const app = new App({ outdir, analyticsReporting: false, context: { 'aws:cdk:enable-asset-metadata': true, ...options.context } });
  const stack = new Stack(app, stackName);
  build(stack);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stackName);
  return { template: artifact.template as CfnTemplate, assemblyDir: assembly.directory, stackName };
}

/**
 * Synthesizes `new AccreditationPipeline(stack, 'Pipeline', props)` in a stack named
 * `MedlaunchEltLocal`.
 */
export function synthesizePipelineTemplate(props?: Record<string, unknown>, options: SynthesizeOptions = {}): SynthesizedTemplate {
  const Pipeline = (pipelineLib as Record<string, unknown>).AccreditationPipeline as
    (new (scope: Stack, id: string, props?: Record<string, unknown>) => unknown) | undefined;
  if (typeof Pipeline !== 'function') {
    throw new TemplateResolutionError('src/ does not export AccreditationPipeline');
  }
  return synthesizeTemplate((stack) => { new Pipeline(stack, 'Pipeline', props); }, options);
}

/** Where the pipeline stack of a local run comes from (see {@link pipelineStack}). */
export interface PipelineStackSource {
  /** A synthesized app (cdk.out folder) and optionally the stack to run; default: the built-in stack. */
  readonly assembly?: { readonly dir: string; readonly stack?: string };
  /** Props of the built-in stack (ignored with `assembly`). */
  readonly props?: Record<string, unknown>;
  /** Where the built-in stack is synthesized. */
  readonly outdir?: string;
}

/**
 * The stack a local run executes: the pipeline stack of `assembly` (loaded as synthesized, its
 * assets from the assembly folder), else `new AccreditationPipeline(stack, 'Pipeline', props)`
 * synthesized now. `account`/`region` are set when the app bound the stack to an environment.
 */
export function pipelineStack(source: PipelineStackSource): SynthesizedTemplate & { account?: string; region?: string } {
  if (source.assembly) {
    const s = loadAssemblyStack(source.assembly.dir, source.assembly.stack);
    return { template: s.template, assemblyDir: s.assemblyDir, stackName: s.stackName, account: s.account, region: s.region };
  }
  return synthesizePipelineTemplate(source.props ?? {}, { outdir: source.outdir });
}

/** A Lambda function of the template. */
export interface LambdaFunctionInfo {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly handler: string;
  readonly runtime?: string;
  /** Seconds (CloudFormation default 3). */
  readonly timeoutSeconds: number;
  /** MB (CloudFormation default 128). */
  readonly memoryMb: number;
  /** Environment.Variables, resolved. */
  readonly env: Record<string, string>;
  /** The asset folder (absolute) when the code is a CDK file asset; undefined for inline code. */
  readonly assetDir?: string;
  /** Inline code (`Code.ZipFile`), e.g. CDK's own custom-resource handlers. */
  readonly inlineCode?: string;
  readonly roleArn?: string;
  readonly reservedConcurrency?: number;
}

/** The state machine of the template. */
export interface StateMachineInfo {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** The Amazon States Language definition, resolved and parsed. */
  readonly definition: Record<string, any>;
  readonly type: 'STANDARD' | 'EXPRESS';
  readonly roleArn?: string;
}

/** One target of an EventBridge rule. */
export interface RuleTargetInfo {
  readonly id: string;
  readonly arn: string;
  readonly roleArn?: string;
  readonly input?: string;
  readonly inputPath?: string;
  readonly inputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
  readonly retryPolicy?: { MaximumEventAgeInSeconds?: number; MaximumRetryAttempts?: number };
  readonly deadLetterConfig?: { Arn?: string };
}

/** An EventBridge rule. */
export interface EventRuleInfo {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly eventBusName: string;
  readonly state: string;
  readonly eventPattern?: Record<string, unknown>;
  readonly targets: RuleTargetInfo[];
}

/** A Glue database. */
export interface GlueDatabaseInfo { readonly logicalId: string; readonly name: string; readonly databaseInput: Record<string, any> }
/** A Glue table with its TableInput resolved. */
export interface GlueTableInfo {
  readonly logicalId: string; readonly databaseName: string; readonly name: string; readonly tableInput: Record<string, any>;
}
/** An Athena workgroup. */
export interface WorkGroupInfo {
  readonly logicalId: string; readonly name: string; readonly state?: string; readonly configuration: Record<string, any>;
}
/** An SNS topic. */
export interface TopicInfo { readonly logicalId: string; readonly name: string; readonly arn: string; readonly properties: Record<string, any> }
/** An S3 bucket. */
export interface BucketInfo { readonly logicalId: string; readonly name: string; readonly arn: string; readonly properties: Record<string, any> }

/** A template with its intrinsics resolvable, plus finders for the resources the engine runs. */
export class ResolvedTemplate {
  readonly resolver: IntrinsicResolver;

  constructor(readonly template: CfnTemplate, readonly assemblyDir: string | undefined, env: ResolveEnvironment = {}) {
    this.resolver = new IntrinsicResolver(template, env);
  }

  get accountId(): string { return this.resolver.accountId; }
  get region(): string { return this.resolver.region; }

  /** Logical ids of the resources of a type, in template order (conditions honoured). */
  logicalIdsOfType(type: string): string[] {
    return Object.entries(this.template.Resources ?? {})
      .filter(([, r]) => r.Type === type && (!r.Condition || this.resolver.condition(r.Condition)))
      .map(([id]) => id);
  }

  /** The resolved Properties of a resource. */
  properties(logicalId: string): Record<string, any> {
    return this.resolver.resolve(this.resolver.resource(logicalId).Properties ?? {}) ?? {};
  }

  /** Physical name (Ref for most types) of a resource. */
  physicalName(logicalId: string): string { return this.resolver.physicalName(logicalId); }

  /** ARN of a resource. */
  arn(logicalId: string): string { return this.resolver.arn(logicalId); }

  /** Resolves any template value (e.g. an Output's Value). */
  resolve(value: unknown): any { return this.resolver.resolve(value); }

  /** Lambda functions with their resolved configuration. */
  lambdaFunctions(): LambdaFunctionInfo[] {
    return this.logicalIdsOfType('AWS::Lambda::Function').map((id) => {
      const r = this.resolver.resource(id);
      const raw = r.Properties ?? {};
      // Resolve only what is needed: Code of an asset refers to bootstrap parameters.
      const env = this.resolver.resolve(raw.Environment?.Variables ?? {}) as Record<string, unknown>;
      const assetPath = r.Metadata?.['aws:asset:path'];
      const assetProperty = r.Metadata?.['aws:asset:property'] ?? 'Code';
      let assetDir: string | undefined;
      if (typeof assetPath === 'string' && assetProperty === 'Code') {
        assetDir = isAbsolute(assetPath) || !this.assemblyDir ? resolvePath(assetPath) : join(this.assemblyDir, assetPath);
      } else if (this.assemblyDir && typeof raw.Code?.S3Key === 'string') {
        // Without asset metadata (an app synthesized outside the CDK CLI): the asset folder is named by the S3 key's hash.
        const m = /^([0-9a-f]{64})\.zip$/.exec(raw.Code.S3Key);
        if (m && existsSync(join(this.assemblyDir, `asset.${m[1]}`))) assetDir = join(this.assemblyDir, `asset.${m[1]}`);
      }
      return {
        logicalId: id,
        name: this.resolver.physicalName(id),
        arn: this.resolver.arn(id),
        handler: String(this.resolver.resolve(raw.Handler ?? 'index.handler')),
        runtime: raw.Runtime === undefined ? undefined : String(this.resolver.resolve(raw.Runtime)),
        timeoutSeconds: Number(this.resolver.resolve(raw.Timeout ?? 3)),
        memoryMb: Number(this.resolver.resolve(raw.MemorySize ?? 128)),
        env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
        assetDir,
        inlineCode: typeof raw.Code?.ZipFile === 'string' ? raw.Code.ZipFile : undefined,
        roleArn: raw.Role === undefined ? undefined : String(this.resolver.resolve(raw.Role)),
        reservedConcurrency: raw.ReservedConcurrentExecutions === undefined
          ? undefined : Number(this.resolver.resolve(raw.ReservedConcurrentExecutions)),
      };
    });
  }

  /** State machines with their definitions resolved to JSON. */
  stateMachines(): StateMachineInfo[] {
    return this.logicalIdsOfType('AWS::StepFunctions::StateMachine').map((id) => {
      const raw = this.resolver.resource(id).Properties ?? {};
      let definition: Record<string, any>;
      if (raw.DefinitionString !== undefined) {
        const text = this.resolver.resolve(raw.DefinitionString);
        definition = JSON.parse(substitute(String(text), this.resolver.resolve(raw.DefinitionSubstitutions ?? {})));
      } else if (raw.Definition !== undefined) {
        const text = JSON.stringify(this.resolver.resolve(raw.Definition));
        definition = JSON.parse(substitute(text, this.resolver.resolve(raw.DefinitionSubstitutions ?? {})));
      } else {
        throw new TemplateResolutionError(`state machine ${id} has no inline definition (DefinitionS3Location is not supported)`);
      }
      return {
        logicalId: id,
        name: this.resolver.physicalName(id),
        arn: this.resolver.arn(id),
        definition,
        type: raw.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
        roleArn: raw.RoleArn === undefined ? undefined : String(this.resolver.resolve(raw.RoleArn)),
      };
    });
  }

  /** The one state machine of the template (throws unless there is exactly one). */
  stateMachine(): StateMachineInfo {
    const all = this.stateMachines();
    if (all.length !== 1) throw new TemplateResolutionError(`expected one state machine, found ${all.length}`);
    return all[0];
  }

  /** EventBridge rules with their pattern and targets. */
  eventRules(): EventRuleInfo[] {
    return this.logicalIdsOfType('AWS::Events::Rule').map((id) => {
      const p = this.properties(id);
      const pattern = typeof p.EventPattern === 'string' ? JSON.parse(p.EventPattern) : p.EventPattern;
      return {
        logicalId: id,
        name: this.resolver.physicalName(id),
        arn: this.resolver.arn(id),
        eventBusName: String(p.EventBusName ?? 'default'),
        state: String(p.State ?? 'ENABLED'),
        eventPattern: pattern,
        targets: (p.Targets ?? []).map((t: Record<string, any>) => ({
          id: String(t.Id),
          arn: String(t.Arn),
          roleArn: t.RoleArn,
          input: t.Input,
          inputPath: t.InputPath,
          inputTransformer: t.InputTransformer,
          retryPolicy: t.RetryPolicy,
          deadLetterConfig: t.DeadLetterConfig,
        })),
      };
    });
  }

  /** Glue databases. */
  glueDatabases(): GlueDatabaseInfo[] {
    return this.logicalIdsOfType('AWS::Glue::Database').map((id) => ({
      logicalId: id, name: this.resolver.physicalName(id), databaseInput: this.properties(id).DatabaseInput ?? {},
    }));
  }

  /** Glue tables with TableInput resolved. */
  glueTables(): GlueTableInfo[] {
    return this.logicalIdsOfType('AWS::Glue::Table').map((id) => {
      const p = this.properties(id);
      return { logicalId: id, databaseName: String(p.DatabaseName), name: this.resolver.physicalName(id), tableInput: p.TableInput ?? {} };
    });
  }

  /** Athena workgroups. */
  athenaWorkGroups(): WorkGroupInfo[] {
    return this.logicalIdsOfType('AWS::Athena::WorkGroup').map((id) => {
      const p = this.properties(id);
      return { logicalId: id, name: this.resolver.physicalName(id), state: p.State, configuration: p.WorkGroupConfiguration ?? {} };
    });
  }

  /** SNS topics. */
  snsTopics(): TopicInfo[] {
    return this.logicalIdsOfType('AWS::SNS::Topic').map((id) => ({
      logicalId: id, name: this.resolver.physicalName(id), arn: this.resolver.arn(id), properties: this.properties(id),
    }));
  }

  /**
   * Buckets and topics the pipeline uses that the stack does not define (an imported `bucket` or
   * `alertTopic` prop): the data bucket named by the functions' `DATA_BUCKET`, and the topics the
   * state machine publishes to. Local mode creates them empty, without the policies or encryption
   * settings they have in AWS (those are outside the template).
   */
  externalResources(): { buckets: string[]; topics: string[] } {
    const own = new Set(this.buckets().map((b) => b.name));
    const buckets = [...new Set(this.lambdaFunctions().map((f) => f.env.DATA_BUCKET).filter((b): b is string => !!b && !own.has(b)))];
    const ownTopics = new Set(this.snsTopics().map((t) => t.arn));
    const topics = new Set<string>();
    for (const m of this.stateMachines()) {
      JSON.stringify(m.definition, (k, v) => {
        if (k === 'TopicArn' && typeof v === 'string' && v.startsWith('arn:') && !ownTopics.has(v)) topics.add(v);
        return v;
      });
    }
    return { buckets, topics: [...topics] };
  }

  /** S3 buckets. */
  buckets(): BucketInfo[] {
    return this.logicalIdsOfType('AWS::S3::Bucket').map((id) => ({
      logicalId: id, name: this.resolver.physicalName(id), arn: this.resolver.arn(id), properties: this.properties(id),
    }));
  }
}

function substitute(text: string, subs: Record<string, unknown>): string {
  if (!subs || Object.keys(subs).length === 0) return text;
  return text.replace(/\$\{([^}]+)\}/g, (whole, key: string) => (key in subs ? String(subs[key]) : whole));
}

/** Options of {@link resolveTemplate}. */
export interface ResolveTemplateOptions extends ResolveEnvironment {
  /** Cloud assembly folder, to turn `aws:asset:path` metadata into absolute asset folders. */
  readonly assemblyDir?: string;
}

/**
 * Gives every resource a physical name/ARN and resolves intrinsics on demand
 * (account `000000000000`, region `us-east-1` unless given).
 */
export function resolveTemplate(template: CfnTemplate, options: ResolveTemplateOptions = {}): ResolvedTemplate {
  return new ResolvedTemplate(template, options.assemblyDir, options);
}
