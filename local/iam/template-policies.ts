/**
 * Reads the policies of a resolved template: identity policies of roles (`AWS::IAM::Policy`,
 * `AWS::IAM::ManagedPolicy`, a role's inline `Policies` and `ManagedPolicyArns`), resource policies
 * (`AWS::S3::BucketPolicy`, `AWS::SNS::TopicPolicy`, `AWS::SNS::TopicInlinePolicy`,
 * `AWS::SQS::QueuePolicy`, `AWS::SQS::QueueInlinePolicy`, `AWS::KMS::Key` `KeyPolicy`,
 * `AWS::Lambda::Permission`, a role's trust policy) and the roles of functions, state machines and
 * rule targets.
 */
import { UnsupportedPolicyError } from './errors';
import type { IamPoliciesInit, IdentityPolicyEntry, ResourcePolicyEntry } from './index';
import { awsManagedPolicy } from './managed-policies';
import { statementsOf } from './policy';
import type { PolicyDocumentJson, PolicyStatementJson } from './policy';
import type { ResolvedTemplate } from '../template';

function list<T>(v: T | readonly T[] | undefined): T[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? [...(v as readonly T[])] : [v as T];
}

function document(raw: unknown, where: string): PolicyDocumentJson {
  const doc = typeof raw === 'string' ? JSON.parse(raw) : raw;
  if (!doc || typeof doc !== 'object' || (doc as PolicyDocumentJson).Statement === undefined) {
    throw new UnsupportedPolicyError(`${where} has no policy document with a Statement`);
  }
  return doc as PolicyDocumentJson;
}

/** `https://sqs.<region>.amazonaws.com/<acct>/<name>` (what Ref of a queue returns) → queue ARN. */
function queueArnOf(urlOrArn: string, partition: string): string {
  if (urlOrArn.startsWith('arn:')) return urlOrArn;
  const m = /^https?:\/\/sqs\.([^.]+)\.[^/]+\/(\d+)\/([^/?]+)/.exec(urlOrArn);
  if (!m) throw new UnsupportedPolicyError(`queue policy names a queue '${urlOrArn}' that is neither a queue URL nor an ARN`);
  return `arn:${partition}:sqs:${m[1]}:${m[2]}:${m[3]}`;
}

/** Extracts everything {@link IamPolicies} evaluates from a resolved template. */
export function extractPolicies(t: ResolvedTemplate, env: { account: string; region: string; partition?: string }): IamPoliciesInit {
  const partition = env.partition ?? 'aws';
  const identity: IdentityPolicyEntry[] = [];
  const resource: ResourcePolicyEntry[] = [];
  const roles: Record<string, string> = {};

  // Roles by physical name (AWS::IAM::Policy names its roles by name) and managed policies by ARN.
  const roleArnByName = new Map<string, string>();
  for (const id of t.logicalIdsOfType('AWS::IAM::Role')) roleArnByName.set(t.physicalName(id), t.arn(id));
  const roleArn = (nameOrArn: string, where: string): string => {
    if (nameOrArn.startsWith('arn:')) return nameOrArn;
    const arn = roleArnByName.get(nameOrArn);
    if (!arn) throw new UnsupportedPolicyError(`${where} attaches to role '${nameOrArn}', which is not in the template`);
    return arn;
  };
  const managed = new Map<string, { logicalId: string; document: PolicyDocumentJson }>();
  for (const id of t.logicalIdsOfType('AWS::IAM::ManagedPolicy')) {
    const p = t.properties(id);
    const doc = document(p.PolicyDocument, `AWS::IAM::ManagedPolicy ${id}`);
    managed.set(t.arn(id), { logicalId: id, document: doc });
    for (const r of list<string>(p.Roles)) identity.push({ roleArn: roleArn(r, `AWS::IAM::ManagedPolicy ${id}`), logicalId: id, document: doc });
  }

  for (const id of t.logicalIdsOfType('AWS::IAM::Role')) {
    const p = t.properties(id);
    const arn = t.arn(id);
    // The trust policy is the role's resource policy: it decides sts:AssumeRole by the service.
    // Its statements name no Resource: they apply to the role itself.
    if (p.AssumeRolePolicyDocument !== undefined) {
      const trust = document(p.AssumeRolePolicyDocument, `trust policy of role ${id}`);
      const statements = statementsOf(trust).map((st) => (st.Resource === undefined && st.NotResource === undefined ? { ...st, Resource: arn } : st));
      resource.push({ resourceArn: arn, logicalId: id, document: { ...trust, Statement: statements } });
    }
    for (const inline of list<Record<string, unknown>>(p.Policies)) {
      identity.push({ roleArn: arn, logicalId: id, document: document(inline.PolicyDocument, `inline policy ${String(inline.PolicyName)} of role ${id}`) });
    }
    for (const m of list<string>(p.ManagedPolicyArns)) {
      const customer = managed.get(m);
      if (customer) { identity.push({ roleArn: arn, logicalId: customer.logicalId, document: customer.document }); continue; }
      const aws = awsManagedPolicy(m);
      if (!aws) {
        throw new UnsupportedPolicyError(`role ${id} uses the managed policy ${m}, which local mode cannot read offline `
          + '(known AWS managed policies are listed in local/iam/managed-policies.ts; docs/local-iam.md)');
      }
      identity.push({ roleArn: arn, logicalId: id, document: aws });
    }
  }
  for (const id of t.logicalIdsOfType('AWS::IAM::Policy')) {
    const p = t.properties(id);
    const doc = document(p.PolicyDocument, `AWS::IAM::Policy ${id}`);
    for (const r of list<string>(p.Roles)) identity.push({ roleArn: roleArn(r, `AWS::IAM::Policy ${id}`), logicalId: id, document: doc });
  }

  // Resource policies: AWS keeps one bucket/topic/queue policy per resource; two in one template
  // would leave only one in force after deployment, so refuse rather than guess which.
  const seen = new Map<string, string>();
  const addResource = (type: string, arn: string, logicalId: string, doc: PolicyDocumentJson): void => {
    const key = `${type}\n${arn}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw new UnsupportedPolicyError(`${type} ${logicalId} and ${other} both set the policy of ${arn}; AWS keeps only one of them`);
    }
    seen.set(key, logicalId);
    resource.push({ resourceArn: arn, logicalId, document: doc });
  };
  for (const id of t.logicalIdsOfType('AWS::S3::BucketPolicy')) {
    const p = t.properties(id);
    addResource('AWS::S3::BucketPolicy', `arn:${partition}:s3:::${String(p.Bucket)}`, id, document(p.PolicyDocument, `AWS::S3::BucketPolicy ${id}`));
  }
  for (const id of t.logicalIdsOfType('AWS::SNS::TopicPolicy')) {
    const p = t.properties(id);
    const doc = document(p.PolicyDocument, `AWS::SNS::TopicPolicy ${id}`);
    for (const topic of list<string>(p.Topics)) addResource('SNS topic policy', String(topic), id, doc);
  }
  for (const id of t.logicalIdsOfType('AWS::SNS::TopicInlinePolicy')) {
    const p = t.properties(id);
    addResource('SNS topic policy', String(p.TopicArn), id, document(p.PolicyDocument, `AWS::SNS::TopicInlinePolicy ${id}`));
  }
  for (const id of t.logicalIdsOfType('AWS::SQS::QueuePolicy')) {
    const p = t.properties(id);
    const doc = document(p.PolicyDocument, `AWS::SQS::QueuePolicy ${id}`);
    for (const q of list<string>(p.Queues)) addResource('SQS queue policy', queueArnOf(String(q), partition), id, doc);
  }
  for (const id of t.logicalIdsOfType('AWS::SQS::QueueInlinePolicy')) {
    const p = t.properties(id);
    addResource('SQS queue policy', queueArnOf(String(p.Queue), partition), id, document(p.PolicyDocument, `AWS::SQS::QueueInlinePolicy ${id}`));
  }
  for (const id of t.logicalIdsOfType('AWS::KMS::Key')) {
    const p = t.properties(id);
    // Without a KeyPolicy, AWS KMS gives the key its default policy: the account root may use it
    // (which enables IAM policies).
    const doc: PolicyDocumentJson = p.KeyPolicy !== undefined
      ? document(p.KeyPolicy, `AWS::KMS::Key ${id}`)
      : { Version: '2012-10-17', Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:${partition}:iam::${env.account}:root` }, Action: 'kms:*', Resource: '*' }] };
    addResource('AWS::KMS::Key', t.arn(id), id, doc);
  }
  for (const id of t.logicalIdsOfType('AWS::Lambda::Permission')) {
    const p = t.properties(id);
    const fn = functionArnOf(String(p.FunctionName), env, partition);
    resource.push({ resourceArn: fn, logicalId: id, document: { Version: '2012-10-17', Statement: [lambdaPermissionStatement(p, fn)] } });
  }

  for (const f of t.lambdaFunctions()) if (f.roleArn) roles[f.logicalId] = f.roleArn;
  for (const sm of t.stateMachines()) if (sm.roleArn) roles[sm.logicalId] = sm.roleArn;
  for (const rule of t.eventRules()) {
    for (const target of rule.targets) {
      if (!target.roleArn) continue;
      roles[`${rule.logicalId}/${target.id}`] = String(target.roleArn);
      roles[rule.logicalId] ??= String(target.roleArn);
    }
  }
  return { account: env.account, partition, identity, resource, roles };
}

/**
 * A function name, `name:qualifier`, partial ARN (`acct:function:name`) or ARN, as
 * `AWS::Lambda::Permission` takes it → the function ARN (with its qualifier when given).
 */
function functionArnOf(name: string, env: { account: string; region: string }, partition: string): string {
  if (name.startsWith('arn:')) return name;
  const parts = name.split(':');
  if (parts.length >= 3 && parts[1] === 'function') {
    return `arn:${partition}:lambda:${env.region}:${parts[0]}:function:${parts.slice(2).join(':')}`;
  }
  return `arn:${partition}:lambda:${env.region}:${env.account}:function:${name}`;
}

/** The resource-policy statement an `AWS::Lambda::Permission` adds to its function. */
function lambdaPermissionStatement(p: Record<string, any>, functionArn: string): PolicyStatementJson {
  const principal = String(p.Principal);
  const isService = principal.endsWith('.amazonaws.com') || principal.endsWith('.amazonaws.com.cn');
  const condition: Record<string, Record<string, string>> = {};
  if (p.SourceArn !== undefined) condition.ArnLike = { 'AWS:SourceArn': String(p.SourceArn) };
  if (p.SourceAccount !== undefined) condition.StringEquals = { 'AWS:SourceAccount': String(p.SourceAccount) };
  if (p.PrincipalOrgID !== undefined) (condition.StringEquals ??= {})['aws:PrincipalOrgID'] = String(p.PrincipalOrgID);
  if (p.FunctionUrlAuthType !== undefined) (condition.StringEquals ??= {})['lambda:FunctionUrlAuthType'] = String(p.FunctionUrlAuthType);
  return {
    Effect: 'Allow',
    Principal: principal === '*' ? '*' : isService ? { Service: principal } : { AWS: principal },
    Action: String(p.Action),
    Resource: functionArn,
    ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
  };
}
