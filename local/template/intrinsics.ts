/**
 * CloudFormation intrinsic-function resolution for synthesized CDK templates, so the local engine
 * can read the real names, ARNs, environment variables and state machine definition of a stack
 * without deploying it.
 */
import { createHash } from 'node:crypto';

/** A CloudFormation template as JSON. */
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Parameters?: Record<string, { Type?: string; Default?: unknown }>;
  readonly Conditions?: Record<string, unknown>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  readonly Outputs?: Record<string, { Value: unknown }>;
  readonly [key: string]: unknown;
}

/** One resource of a template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
  readonly Metadata?: Record<string, any>;
  readonly Condition?: string;
  readonly DependsOn?: string | string[];
  readonly [key: string]: unknown;
}

/** The deployment environment the template is resolved for. */
export interface ResolveEnvironment {
  /** Account id (default `000000000000`). */
  readonly accountId?: string;
  /** Region (default `us-east-1`). */
  readonly region?: string;
  /** Partition (default `aws`). */
  readonly partition?: string;
  /** Stack name, used in generated physical names (default `MedlaunchEltLocal`). */
  readonly stackName?: string;
  /** Physical names forced for logical ids (wins over names in the template). */
  readonly physicalNames?: Record<string, string>;
  /** Values for template parameters (otherwise their `Default`). */
  readonly parameters?: Record<string, unknown>;
}

/** Thrown when the template uses an intrinsic the resolver cannot evaluate. */
export class TemplateResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateResolutionError';
  }
}

interface NameRule {
  /** Property holding an explicit physical name. */
  readonly prop?: string | string[];
  /** Max length of a generated name. */
  readonly max: number;
  readonly lower?: boolean;
}

/** Where each resource type keeps its explicit name, and how CloudFormation would generate one. */
const NAME_RULES: Record<string, NameRule> = {
  'AWS::S3::Bucket': { prop: 'BucketName', max: 63, lower: true },
  'AWS::Lambda::Function': { prop: 'FunctionName', max: 64 },
  'AWS::StepFunctions::StateMachine': { prop: 'StateMachineName', max: 80 },
  'AWS::SNS::Topic': { prop: 'TopicName', max: 256 },
  'AWS::SQS::Queue': { prop: 'QueueName', max: 80 },
  'AWS::IAM::Role': { prop: 'RoleName', max: 64 },
  'AWS::IAM::Policy': { prop: 'PolicyName', max: 128 },
  'AWS::IAM::ManagedPolicy': { prop: 'ManagedPolicyName', max: 128 },
  'AWS::Events::Rule': { prop: 'Name', max: 64 },
  'AWS::Events::EventBus': { prop: 'Name', max: 256 },
  'AWS::Glue::Database': { prop: ['DatabaseInput', 'Name'], max: 255, lower: true },
  'AWS::Glue::Table': { prop: ['TableInput', 'Name'], max: 255, lower: true },
  'AWS::Athena::WorkGroup': { prop: 'Name', max: 128 },
  'AWS::Logs::LogGroup': { prop: 'LogGroupName', max: 512 },
  'AWS::KMS::Key': { max: 36 },
  'AWS::KMS::Alias': { prop: 'AliasName', max: 256 },
  'AWS::CloudWatch::Alarm': { prop: 'AlarmName', max: 255 },
};

const PSEUDO = new Set(['AWS::AccountId', 'AWS::Region', 'AWS::Partition', 'AWS::URLSuffix', 'AWS::StackName',
  'AWS::StackId', 'AWS::NoValue', 'AWS::NotificationARNs']);

/** Marker for `Ref: AWS::NoValue` (the property is removed). */
const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Resolves intrinsic functions of one template. Names are deterministic: an explicit name in the
 * template (or `physicalNames`) wins, else `<stack>-<logicalId>-<hash>` like CloudFormation.
 */
export class IntrinsicResolver {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
  readonly stackName: string;
  private readonly names = new Map<string, string>();
  private readonly resolving = new Set<string>();

  constructor(readonly template: CfnTemplate, private readonly env: ResolveEnvironment = {}) {
    this.accountId = env.accountId ?? '000000000000';
    this.region = env.region ?? 'us-east-1';
    this.partition = env.partition ?? 'aws';
    this.stackName = env.stackName ?? 'MedlaunchEltLocal';
  }

  /** The resource with this logical id (throws when absent). */
  resource(logicalId: string): CfnResource {
    const r = this.template.Resources?.[logicalId];
    if (!r) throw new TemplateResolutionError(`no resource '${logicalId}' in the template`);
    return r;
  }

  /** The physical name (what `Ref` returns for most types) of a resource. */
  physicalName(logicalId: string): string {
    const known = this.names.get(logicalId);
    if (known !== undefined) return known;
    const forced = this.env.physicalNames?.[logicalId];
    if (forced !== undefined) {
      this.names.set(logicalId, forced);
      return forced;
    }
    if (this.resolving.has(logicalId)) {
      throw new TemplateResolutionError(`circular reference while naming '${logicalId}'`);
    }
    this.resolving.add(logicalId);
    try {
      const r = this.resource(logicalId);
      const rule = NAME_RULES[r.Type] ?? { max: 64 };
      let name: string | undefined;
      if (rule.prop) {
        const path = Array.isArray(rule.prop) ? rule.prop : [rule.prop];
        let v: any = r.Properties;
        for (const p of path) v = v?.[p];
        if (v !== undefined) name = String(this.resolve(v));
      }
      if (name === undefined) name = this.generatedName(logicalId, r.Type, rule);
      this.names.set(logicalId, name);
      return name;
    } finally {
      this.resolving.delete(logicalId);
    }
  }

  private generatedName(logicalId: string, type: string, rule: NameRule): string {
    const hash = createHash('sha256').update(`${this.stackName}/${logicalId}`).digest('hex');
    if (type === 'AWS::KMS::Key') {
      return `${hash.slice(0, 8)}-${hash.slice(8, 12)}-${hash.slice(12, 16)}-${hash.slice(16, 20)}-${hash.slice(20, 32)}`;
    }
    const suffix = hash.slice(0, 12).toUpperCase();
    let stack = this.stackName;
    let logical = logicalId;
    const budget = rule.max - suffix.length - 2;
    if (stack.length + logical.length > budget) {
      const half = Math.max(1, Math.floor(budget / 2));
      stack = stack.slice(0, Math.max(1, budget - Math.min(logical.length, half)));
      logical = logical.slice(0, budget - stack.length);
    }
    let name = `${stack}-${logical}-${suffix}`;
    if (rule.lower) name = name.toLowerCase();
    if (type === 'AWS::Glue::Database' || type === 'AWS::Glue::Table') name = name.replace(/-/g, '_');
    return name;
  }

  /** The ARN of a resource, as `Fn::GetAtt [id, Arn]` would return it. */
  arn(logicalId: string): string {
    const r = this.resource(logicalId);
    const name = this.physicalName(logicalId);
    const p = this.partition; const rg = this.region; const a = this.accountId;
    switch (r.Type) {
      case 'AWS::S3::Bucket': return `arn:${p}:s3:::${name}`;
      case 'AWS::Lambda::Function': return `arn:${p}:lambda:${rg}:${a}:function:${name}`;
      case 'AWS::StepFunctions::StateMachine': return `arn:${p}:states:${rg}:${a}:stateMachine:${name}`;
      case 'AWS::SNS::Topic': return `arn:${p}:sns:${rg}:${a}:${name}`;
      case 'AWS::SQS::Queue': return `arn:${p}:sqs:${rg}:${a}:${name}`;
      case 'AWS::IAM::Role': return `arn:${p}:iam::${a}:role/${name}`;
      case 'AWS::IAM::ManagedPolicy': return `arn:${p}:iam::${a}:policy/${name}`;
      case 'AWS::Events::Rule': return `arn:${p}:events:${rg}:${a}:rule/${name}`;
      case 'AWS::Events::EventBus': return `arn:${p}:events:${rg}:${a}:event-bus/${name}`;
      case 'AWS::Glue::Database': return `arn:${p}:glue:${rg}:${a}:database/${name}`;
      case 'AWS::Athena::WorkGroup': return `arn:${p}:athena:${rg}:${a}:workgroup/${name}`;
      case 'AWS::Logs::LogGroup': return `arn:${p}:logs:${rg}:${a}:log-group:${name}:*`;
      case 'AWS::KMS::Key': return `arn:${p}:kms:${rg}:${a}:key/${name}`;
      case 'AWS::CloudWatch::Alarm': return `arn:${p}:cloudwatch:${rg}:${a}:alarm:${name}`;
      default: {
        const service = r.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
        return `arn:${p}:${service}:${rg}:${a}:${logicalId}/${name}`;
      }
    }
  }

  /** What `Ref` returns for a resource. */
  ref(logicalId: string): unknown {
    if (PSEUDO.has(logicalId)) return this.pseudo(logicalId);
    const param = this.template.Parameters?.[logicalId];
    if (param) {
      if (this.env.parameters && logicalId in this.env.parameters) return this.env.parameters[logicalId];
      if (param.Default !== undefined) {
        return param.Type === 'CommaDelimitedList' || param.Type?.startsWith('List<')
          ? String(param.Default).split(',') : param.Default;
      }
      throw new TemplateResolutionError(`parameter '${logicalId}' has no value and no default`);
    }
    const r = this.resource(logicalId);
    switch (r.Type) {
      case 'AWS::StepFunctions::StateMachine':
      case 'AWS::SNS::Topic':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::Events::EventBus':
        return this.arn(logicalId);
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.region}.amazonaws.com/${this.accountId}/${this.physicalName(logicalId)}`;
      case 'AWS::Events::Rule':
        // Ref of a rule on the default bus is its name; on a custom bus `bus|name`.
        return this.physicalName(logicalId);
      default:
        return this.physicalName(logicalId);
    }
  }

  /** What `Fn::GetAtt [id, attr]` returns. */
  getAtt(logicalId: string, attr: string): unknown {
    const r = this.resource(logicalId);
    const name = this.physicalName(logicalId);
    switch (attr) {
      case 'Arn': return this.arn(logicalId);
      case 'TopicArn': return this.arn(logicalId);
      case 'TopicName': case 'QueueName': case 'Name': case 'StateMachineName': return name;
      case 'QueueUrl': return this.ref(logicalId);
      case 'DomainName': return `${name}.s3.amazonaws.com`;
      case 'RegionalDomainName': return `${name}.s3.${this.region}.amazonaws.com`;
      case 'DualStackDomainName': return `${name}.s3.dualstack.${this.region}.amazonaws.com`;
      case 'WebsiteURL': return `http://${name}.s3-website-${this.region}.amazonaws.com`;
      case 'RoleId': case 'KeyId': case 'Id': return name;
      default:
        if (r.Type === 'AWS::CloudFormation::CustomResource' || r.Type.startsWith('Custom::')) {
          throw new TemplateResolutionError(`custom resource attribute ${logicalId}.${attr} is only known after deployment`);
        }
        throw new TemplateResolutionError(`unsupported attribute ${r.Type} ${logicalId}.${attr}`);
    }
  }

  private pseudo(name: string): unknown {
    switch (name) {
      case 'AWS::AccountId': return this.accountId;
      case 'AWS::Region': return this.region;
      case 'AWS::Partition': return this.partition;
      case 'AWS::URLSuffix': return this.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
      case 'AWS::StackName': return this.stackName;
      case 'AWS::StackId': return `arn:${this.partition}:cloudformation:${this.region}:${this.accountId}:stack/${this.stackName}/00000000-0000-0000-0000-000000000000`;
      case 'AWS::NotificationARNs': return [];
      case 'AWS::NoValue': return NO_VALUE;
      default: throw new TemplateResolutionError(`unknown pseudo parameter ${name}`);
    }
  }

  /** True when a template condition holds. */
  condition(name: string): boolean {
    const c = this.template.Conditions?.[name];
    if (c === undefined) throw new TemplateResolutionError(`no condition '${name}'`);
    return Boolean(this.resolve(c));
  }

  /** Resolves every intrinsic function in a value (recursively); plain values come back unchanged. */
  resolve(value: unknown): any {
    const out = this.resolveInner(value);
    return out === NO_VALUE ? undefined : out;
  }

  private resolveInner(value: unknown): unknown {
    if (Array.isArray(value)) {
      return value.map((v) => this.resolveInner(v)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1) {
      const k = keys[0];
      const arg = obj[k];
      if (k === 'Ref') return this.ref(String(arg));
      if (k === 'Condition') return this.condition(String(arg));
      if (k.startsWith('Fn::')) return this.fn(k, arg);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const v = this.resolveInner(obj[k]);
      if (v !== NO_VALUE) out[k] = v;
    }
    return out;
  }

  private fn(name: string, arg: unknown): unknown {
    const list = (): unknown[] => {
      if (!Array.isArray(arg)) throw new TemplateResolutionError(`${name} expects a list`);
      return arg;
    };
    switch (name) {
      case 'Fn::GetAtt': {
        const [id, attr] = typeof arg === 'string' ? [arg.slice(0, arg.indexOf('.')), arg.slice(arg.indexOf('.') + 1)] : list();
        return this.getAtt(String(this.resolveInner(id)), String(this.resolveInner(attr)));
      }
      case 'Fn::Join': {
        const [sep, items] = list();
        const parts = this.resolveInner(items);
        if (!Array.isArray(parts)) throw new TemplateResolutionError('Fn::Join expects a list of values');
        return parts.map((p) => scalar(p, 'Fn::Join')).join(String(sep));
      }
      case 'Fn::Sub': return this.sub(arg);
      case 'Fn::Select': {
        const [index, items] = list();
        const arr = this.resolveInner(items);
        const i = Number(this.resolveInner(index));
        if (!Array.isArray(arr) || !Number.isInteger(i) || i < 0 || i >= arr.length) {
          throw new TemplateResolutionError(`Fn::Select index ${i} out of range`);
        }
        return arr[i];
      }
      case 'Fn::Split': {
        const [sep, source] = list();
        return String(scalar(this.resolveInner(source), 'Fn::Split')).split(String(sep));
      }
      case 'Fn::If': {
        const [cond, yes, no] = list();
        return this.condition(String(cond)) ? this.resolveInner(yes) : this.resolveInner(no);
      }
      case 'Fn::Equals': {
        const [a, b] = list();
        return JSON.stringify(this.resolveInner(a)) === JSON.stringify(this.resolveInner(b));
      }
      case 'Fn::Not': return !this.resolveInner(list()[0]);
      case 'Fn::And': return list().every((c) => Boolean(this.resolveInner(c)));
      case 'Fn::Or': return list().some((c) => Boolean(this.resolveInner(c)));
      case 'Fn::Base64': return Buffer.from(String(this.resolveInner(arg))).toString('base64');
      case 'Fn::GetAZs': return ['a', 'b', 'c'].map((z) => `${this.region}${z}`);
      case 'Fn::FindInMap': {
        const [m, k1, k2] = list().map((v) => String(this.resolveInner(v)));
        const v = this.template.Mappings?.[m]?.[k1]?.[k2];
        if (v === undefined) throw new TemplateResolutionError(`Fn::FindInMap ${m}.${k1}.${k2} not found`);
        return v;
      }
      case 'Fn::ToJsonString': return JSON.stringify(this.resolveInner(arg));
      default:
        throw new TemplateResolutionError(`unsupported intrinsic ${name}`);
    }
  }

  private sub(arg: unknown): string {
    let text: string;
    let vars: Record<string, unknown> = {};
    if (typeof arg === 'string') {
      text = arg;
    } else if (Array.isArray(arg) && typeof arg[0] === 'string') {
      text = arg[0];
      vars = (this.resolveInner(arg[1] ?? {}) ?? {}) as Record<string, unknown>;
    } else {
      throw new TemplateResolutionError('Fn::Sub expects a string or [string, {vars}]');
    }
    return text.replace(/\$\{([^}]*)\}/g, (whole, expr: string) => {
      if (expr.startsWith('!')) return `\${${expr.slice(1)}}`;
      const e = expr.trim();
      if (e in vars) return String(scalar(vars[e], 'Fn::Sub'));
      if (PSEUDO.has(e) || this.template.Parameters?.[e] || this.template.Resources?.[e]) {
        return String(scalar(this.ref(e), 'Fn::Sub'));
      }
      const dot = e.indexOf('.');
      if (dot > 0 && this.template.Resources?.[e.slice(0, dot)]) {
        return String(scalar(this.getAtt(e.slice(0, dot), e.slice(dot + 1)), 'Fn::Sub'));
      }
      throw new TemplateResolutionError(`Fn::Sub cannot resolve ${whole}`);
    });
  }
}

function scalar(v: unknown, where: string): string | number | boolean {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  throw new TemplateResolutionError(`${where} got a non-scalar value ${JSON.stringify(v)}`);
}
