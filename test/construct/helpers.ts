import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AccreditationPipeline, AccreditationPipelineProps } from '../../src';

export const ENV = { account: '123456789012', region: 'us-east-1' };

/** A stack with one pipeline; `configure` may add resources (imported buckets, keys) first. */
export function synth(
  props: AccreditationPipelineProps | ((stack: Stack) => AccreditationPipelineProps) = {},
): { app: App; stack: Stack; pipeline: AccreditationPipeline; template: Template } {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: ENV });
  const resolved = typeof props === 'function' ? props(stack) : props;
  const pipeline = new AccreditationPipeline(stack, 'Pipeline', resolved);
  return { app, stack, pipeline, template: Template.fromStack(stack) };
}

/** The one resource of a type (fails when there are more or none). */
export function only(template: Template, type: string): { logicalId: string; props: any } {
  const found = template.findResources(type);
  const ids = Object.keys(found);
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
  return { logicalId: ids[0], props: found[ids[0]].Properties };
}

/** Replaces every CloudFormation intrinsic inside a value by a readable placeholder string. */
function placeholder(value: any): string {
  if (value.Ref) return value.Ref === 'AWS::Partition' ? 'aws' : `arn:aws:sns:us-east-1:123456789012:${value.Ref}`;
  if (value['Fn::GetAtt']) {
    const [id] = value['Fn::GetAtt'];
    return `arn:aws:lambda:us-east-1:123456789012:function:${id}`;
  }
  throw new Error(`unexpected intrinsic ${JSON.stringify(value)}`);
}

/** The state machine definition as ASL JSON, with intrinsics replaced by placeholder ARNs. */
export function definitionOf(template: Template): any {
  const sm = only(template, 'AWS::StepFunctions::StateMachine').props;
  const def = sm.DefinitionString;
  if (typeof def === 'string') return JSON.parse(def);
  const parts: any[] = def['Fn::Join'][1];
  return JSON.parse(parts.map((x) => (typeof x === 'string' ? x : placeholder(x))).join(''));
}

const HASH_RE = /[A-Fa-f0-9]{64}/g;

/**
 * Jest snapshot serializer (cdk-monitoring-constructs style): masks asset hashes, which change
 * whenever lambda-src changes, so the snapshot records the infrastructure, not the bundle bytes.
 */
export const maskAssetHashes = {
  test: (val: unknown): boolean => typeof val === 'string' && new RegExp(HASH_RE.source).test(val),
  serialize: (val: string): string => JSON.stringify(val.replace(HASH_RE, '[HASH REMOVED]')),
};

/** The statements of the IAM policy whose logical id starts with `policyLogicalIdPrefix`. */
export function statementsOf(template: Template, policyLogicalIdPrefix: string): any[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const entry = Object.entries(policies).find(([id]) => id.startsWith(policyLogicalIdPrefix));
  if (!entry) throw new Error(`no policy ${policyLogicalIdPrefix}`);
  return (entry[1] as any).Properties.PolicyDocument.Statement;
}

/** Every action of the statements. */
export function actionsOf(statements: any[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}
