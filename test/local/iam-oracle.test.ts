/**
 * Cross-checks the local IAM evaluator against an independent implementation of AWS's policy
 * evaluation logic, @cloud-copilot/iam-simulate (a dev dependency: AGPL-3.0, used by this test only,
 * never by local/). A few thousand seeded random cases: statements with Action/NotAction and
 * Resource/NotResource wildcards, every condition operator with IfExists and ForAnyValue/ForAllValues,
 * explicit denies, and resource/key policies naming roles, the account, services or everyone.
 *
 * Where the oracle and the AWS documentation disagree, the evaluator follows the documentation and
 * the case is listed in KNOWN_DIFFERENCES with the reason.
 */
import { dirname, join } from 'node:path';
import { IamPolicies, PolicyDocumentJson, PolicyStatementJson, Principal } from '../../local/iam';

const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/worker`;
const OTHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/other`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const BUCKET = 'arn:aws:s3:::data-bkt';
const TOPIC = `arn:aws:sns:us-east-1:${ACCOUNT}:alerts`;
const QUEUE = `arn:aws:sqs:us-east-1:${ACCOUNT}:dlq`;
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0f1e2d3c-aaaa-bbbb-cccc-111122223333`;
const FUNCTION = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:worker`;
const ALARM = `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:failures`;
const RULE = `arn:aws:events:us-east-1:${ACCOUNT}:rule/object-created`;

type OracleDecision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** The oracle's synchronous core (`runUnsafeSimulation` minus its unnamed-resource-policy bug). */
function loadOracle(): (principal: string, action: string, resource: string, identity: PolicyDocumentJson[],
resourcePolicy: PolicyDocumentJson | undefined, context: Record<string, string | string[]>) => OracleDecision {
  const dir = dirname(require.resolve('@cloud-copilot/iam-simulate'));
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { authorize } = require(join(dir, 'core_engine/CoreSimulatorEngine.js'));
  const { AwsRequestImpl } = require(join(dir, 'request/request.js'));
  const { RequestContextImpl } = require(join(dir, 'requestContext.js'));
  const { DiscoveryContextKeyConstraints } = require(join(dir, 'context_keys/discoveryContextKeyConstraints.js'));
  const { loadPolicy } = require(require.resolve('@cloud-copilot/iam-policy', { paths: [dir] }));
  /* eslint-enable @typescript-eslint/no-require-imports */
  return (principal, action, resource, identity, resourcePolicy, context) => {
    const request = new AwsRequestImpl(principal, { resource, accountId: ACCOUNT }, action, new RequestContextImpl(context));
    const analysis = authorize({
      request,
      sessionPolicy: undefined,
      identityPolicies: identity.map((p, i) => loadPolicy(p, { name: `identity${i}` })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: resourcePolicy ? loadPolicy(resourcePolicy, { name: 'resource' }) : undefined,
      permissionBoundaries: undefined,
      vpcEndpointPolicies: undefined,
      simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
      serviceSettings: { s3: {} },
    });
    return analysis.result as OracleDecision;
  };
}

/** Park-Miller minimal standard generator: seeded, so every run checks the same cases. */
function rng(seed: number): () => number {
  let a = seed % 2147483647 || 1;
  return () => {
    a = (a * 48271) % 2147483647;
    return (a - 1) / 2147483646;
  };
}

interface Target { readonly action: string; readonly resource: string }

const TARGETS: Target[] = [
  { action: 's3:GetObject', resource: `${BUCKET}/data/batch/a.json` },
  { action: 's3:GetObject', resource: `${BUCKET}/validated/x:y.json` },
  { action: 's3:PutObject', resource: `${BUCKET}/validated/part-0.json` },
  { action: 's3:DeleteObject', resource: `${BUCKET}/curated/f.parquet` },
  { action: 's3:ListBucket', resource: BUCKET },
  { action: 'sns:Publish', resource: TOPIC },
  { action: 'sqs:SendMessage', resource: QUEUE },
  { action: 'kms:Decrypt', resource: KEY },
  { action: 'kms:GenerateDataKey', resource: KEY },
  { action: 'kms:Encrypt', resource: KEY },
  { action: 'lambda:InvokeFunction', resource: FUNCTION },
];

const ACTION_PATTERNS = ['*', 's3:*', 's3:Get*', 's3:?etObject', 'S3:getobject', 's3:PutObject', 's3:List*', 's3:*Object',
  'sns:Publish', 'sns:*', 'SNS:publish', 'sqs:SendMessage', 'sqs:*', 'kms:*', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:Encrypt*',
  'lambda:InvokeFunction', 'lambda:*', 'kms:Describe*', 's3:Delete*'];

const RESOURCE_PATTERNS = ['*', BUCKET, `${BUCKET}/*`, `${BUCKET}/data/*`, `${BUCKET}/validated/*`, 'arn:aws:s3:::data-b?t/*',
  'arn:aws:s3:::data-bkt*', 'arn:aws:s3:::DATA-BKT/*', 'arn:aws:s3:::*/validated/*', TOPIC, `arn:aws:sns:*:${ACCOUNT}:alerts`,
  'arn:aws:sns:us-east-1:*', `arn:aws:sns:us-east-1:${ACCOUNT}:*`, QUEUE, 'arn:aws:sqs:*:*:dlq', KEY, 'arn:aws:kms:*:*:key/*',
  `arn:aws:kms:us-east-1:${ACCOUNT}:key/0f1e*`, FUNCTION, `${FUNCTION}:*`, 'arn:aws:lambda:*:*:function:work?r'];

/** Condition keys with the operators that fit their type, and values to draw from. */
const KEYS: Array<{ key: string; ops: string[]; values: string[]; multi?: boolean }> = [
  {
    key: 'aws:SourceArn',
    ops: ['ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike', 'StringEquals', 'StringLike', 'StringNotLike'],
    values: [ALARM, RULE, 'arn:aws:cloudwatch:us-east-1:*:alarm:*', `arn:aws:events:*:${ACCOUNT}:rule/*`, 'arn:aws:cloudwatch:*:*:alarm:fail?res', 'arn:aws:s3:::*'],
  },
  {
    key: 'aws:SourceAccount',
    ops: ['StringEquals', 'StringNotEquals', 'StringLike', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringNotLike'],
    values: [ACCOUNT, '444455556666', '1111*', '11112222333?'],
  },
  {
    key: 'aws:PrincipalTag/team',
    ops: ['StringEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotEquals'],
    values: ['data', 'Data', 'ops', 'd*', 'DATA'],
  },
  { key: 'aws:SecureTransport', ops: ['Bool'], values: ['true', 'false'] },
  { key: 'aws:ViaAWSService', ops: ['Bool'], values: ['true', 'false'] },
  {
    key: 'aws:EpochTime',
    ops: ['NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals'],
    values: ['1764460800', '1764460799', '1764460801', '0'],
  },
  {
    key: 'aws:CurrentTime',
    ops: ['DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals'],
    values: ['2025-11-30T00:00:00Z', '2025-11-29T23:59:59Z', '2025-12-01T00:00:00Z', '2020-01-01T00:00:00Z'],
  },
  { key: 'aws:SourceIp', ops: ['IpAddress', 'NotIpAddress'], values: ['10.0.0.0/8', '10.1.2.3/32', '192.168.0.0/16', '2001:db8::/32'] },
  { key: 'aws:TagKeys', ops: ['StringEquals', 'StringLike', 'StringNotEquals'], values: ['env', 'team', 'cost*'], multi: true },
  { key: 'aws:CalledVia', ops: ['StringEquals', 'StringNotEquals', 'StringLike'], values: ['athena.amazonaws.com', 'glue.amazonaws.com', '*.amazonaws.com'], multi: true },
];

/** Request values each key may take. */
const CONTEXT_VALUES: Record<string, Array<string | string[]>> = {
  'aws:SourceArn': [ALARM, RULE, `${ALARM}-2`, 'arn:aws:s3:::data-bkt'],
  'aws:SourceAccount': [ACCOUNT, '444455556666'],
  'aws:PrincipalTag/team': ['data', 'DATA', 'ops', 'validated'],
  'aws:ViaAWSService': ['true', 'false'],
  'aws:SourceIp': ['10.1.2.3', '10.9.9.9', '192.168.1.1', '203.0.113.5', '2001:db8::1'],
  'aws:TagKeys': [['env'], ['env', 'team'], ['costcenter', 'env'], ['other'], []],
  'aws:CalledVia': [['athena.amazonaws.com'], ['athena.amazonaws.com', 'glue.amazonaws.com'], ['s3.amazonaws.com']],
};

function pick<T>(r: () => number, from: readonly T[]): T { return from[Math.floor(r() * from.length)]; }
function some<T>(r: () => number, from: readonly T[], max: number): T[] {
  const n = 1 + Math.floor(r() * max);
  const out: T[] = [];
  for (let i = 0; i < n; i++) { const v = pick(r, from); if (!out.includes(v)) out.push(v); }
  return out;
}
function one<T>(v: T[]): T | T[] { return v.length === 1 ? v[0] : v; }

function condition(r: () => number): PolicyStatementJson['Condition'] | undefined {
  if (r() < 0.35) return undefined;
  const block: Record<string, Record<string, string | string[]>> = {};
  const n = 1 + Math.floor(r() * 2);
  for (let i = 0; i < n; i++) {
    const k = pick(r, KEYS);
    let op: string;
    const roll = r();
    if (roll < 0.12) op = 'Null';
    else op = pick(r, k.ops);
    if (op !== 'Null') {
      if (k.multi ? r() < 0.8 : r() < 0.08) op = `${pick(r, ['ForAnyValue', 'ForAllValues'])}:${op}`;
      if (r() < 0.2) op = `${op}IfExists`;
    }
    const values = op === 'Null' ? [pick(r, ['true', 'false'])] : some(r, k.values, 2);
    (block[op] ??= {})[k.key] = one(values);
  }
  return block;
}

/** Patterns of the target's service (or `*`), so that statements often concern the request. */
function near(target: Target, patterns: readonly string[], field: 'action' | 'resource'): string[] {
  const service = target.action.split(':')[0];
  return patterns.filter((p) => p === '*' || (field === 'action' ? p.toLowerCase().startsWith(`${service}:`) : p.split(':')[2] === service));
}

function statement(r: () => number, resourcePolicy: boolean, target: Target): PolicyStatementJson {
  const effect = r() < 0.35 ? 'Deny' : 'Allow';
  const s: Record<string, unknown> = { Effect: effect };
  s[r() < 0.15 ? 'NotAction' : 'Action'] = one(some(r, r() < 0.6 ? near(target, ACTION_PATTERNS, 'action') : ACTION_PATTERNS, 2));
  s[r() < 0.12 ? 'NotResource' : 'Resource'] = one(some(r, r() < 0.6 ? near(target, RESOURCE_PATTERNS, 'resource') : RESOURCE_PATTERNS, 2));
  if (resourcePolicy) {
    const principals: Array<PolicyStatementJson['Principal']> = ['*', { AWS: '*' }, { AWS: ACCOUNT }, { AWS: ROOT }, { AWS: ROLE },
      { AWS: OTHER_ROLE }, { Service: 'cloudwatch.amazonaws.com' }, { Service: ['events.amazonaws.com', 'cloudwatch.amazonaws.com'] },
      { AWS: [ROLE, OTHER_ROLE] }, { AWS: `arn:aws:sts::${ACCOUNT}:assumed-role/worker/fn` }];
    const p = pick(r, principals);
    if (effect === 'Deny' && r() < 0.15 && p !== '*') s.NotPrincipal = p;
    else s.Principal = p;
  }
  const c = condition(r);
  if (c) s.Condition = c;
  return s as unknown as PolicyStatementJson;
}

function policy(r: () => number, n: number, resourcePolicy: boolean, target: Target): PolicyDocumentJson {
  const Statement: PolicyStatementJson[] = [];
  for (let i = 0; i < n; i++) Statement.push(statement(r, resourcePolicy, target));
  return { Version: '2012-10-17', Statement };
}

interface Case {
  readonly n: number;
  readonly principal: Principal;
  readonly target: Target;
  readonly identity: PolicyDocumentJson[];
  readonly resourcePolicy?: PolicyDocumentJson;
  readonly context: Record<string, string | string[]>;
}

function generate(seed: number, count: number): Case[] {
  const r = rng(seed);
  const cases: Case[] = [];
  for (let n = 0; n < count; n++) {
    const roll = r();
    const principal: Principal = roll < 0.7
      ? { kind: 'role', arn: r() < 0.85 ? ROLE : OTHER_ROLE, account: ACCOUNT, sessionName: 'fn' }
      : roll < 0.9 ? { kind: 'service', arn: pick(r, ['cloudwatch.amazonaws.com', 'events.amazonaws.com']), account: ACCOUNT }
        : { kind: 'root', arn: ROOT, account: ACCOUNT };
    const target = pick(r, TARGETS);
    const identity = principal.arn === ROLE
      ? Array.from({ length: Math.floor(r() * 3) }, () => policy(r, 1 + Math.floor(r() * 3), false, target)) : [];
    const resourcePolicy = target.resource === KEY || r() < 0.6 ? policy(r, 1 + Math.floor(r() * 3), true, target) : undefined;
    // The global keys the evaluator adds itself are given explicitly, so both sides see the same context.
    const context: Record<string, string | string[]> = {
      'aws:SecureTransport': r() < 0.85 ? 'true' : 'false',
      'aws:CurrentTime': pick(r, ['2025-11-30T00:00:00Z', '2025-11-29T12:00:00Z', '2026-01-01T00:00:00Z']),
      'aws:EpochTime': pick(r, ['1764460800', '1764460900', '1764460000']),
    };
    for (const [key, values] of Object.entries(CONTEXT_VALUES)) if (r() < 0.6) context[key] = pick(r, values);
    cases.push({ n, principal, target, identity, resourcePolicy, context });
  }
  return cases;
}

const TO_ORACLE = { Allow: 'Allowed', ExplicitDeny: 'ExplicitlyDenied', ImplicitDeny: 'ImplicitlyDenied' } as const;

/**
 * Cases where the oracle and the AWS documentation disagree; the evaluator follows the documentation.
 * Each entry recognizes the cases it explains.
 */
const KNOWN_DIFFERENCES: Array<{ why: string; applies: (c: Case) => boolean }> = [
  {
    // IAM User Guide, "Using wildcards in resource ARNs": a `*` that ends an ARN segment may expand
    // beyond the colon boundary, so `arn:aws:sns:us-east-1:*` covers the region's topics and nothing
    // else; NotResource with it applies to an S3 object. The oracle treats such a NotResource as
    // covering every resource.
    why: 'NotResource with an ARN pattern of fewer than six segments',
    applies: (c) => statementsOfCase(c).some((s) => list(s.NotResource).some((p) => p !== '*' && p.split(':').length < 6)),
  },
  {
    // IAM User Guide, "AWS JSON policy elements: NotPrincipal": AWS checks the account, then the
    // role, then the session, so a Deny with NotPrincipal excludes a role session only when both its
    // account and its role are listed ("Otherwise, the policy might deny access to the entire
    // account"). The oracle excludes the session when either is listed.
    why: 'NotPrincipal naming only the account or only the role of a role session',
    applies: (c) => c.principal.kind === 'role' && statementsOfCase(c).some((s) => {
      if (s.NotPrincipal === undefined || s.NotPrincipal === '*') return false;
      const aws = list(s.NotPrincipal.AWS);
      const account = aws.includes(ACCOUNT) || aws.includes(ROOT);
      const role = aws.includes(c.principal.arn) || aws.includes(`arn:aws:sts::${ACCOUNT}:assumed-role/${c.principal.arn.split('/').pop()}/fn`);
      return account !== role;
    }),
  },
  {
    // IAM User Guide, "Condition operators", "...IfExists condition operators": when the key is not
    // present in the request context the condition evaluates to true. The oracle makes
    // ForAnyValue:...IfExists false on a missing key (as plain ForAnyValue).
    why: 'ForAnyValue:...IfExists on a key absent from the request',
    applies: (c) => statementsOfCase(c).some((s) => Object.entries(s.Condition ?? {}).some(([op, keys]) =>
      op.startsWith('ForAnyValue:') && op.endsWith('IfExists') && Object.keys(keys).some((k) => !(k in c.context)))),
  },
];

function list(v: string | readonly string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : [...v];
}

function statementsOfCase(c: Case): PolicyStatementJson[] {
  return [...c.identity, ...(c.resourcePolicy ? [c.resourcePolicy] : [])].flatMap((d) => d.Statement as PolicyStatementJson[]);
}

function mine(c: Case): 'Allow' | 'ExplicitDeny' | 'ImplicitDeny' {
  const iam = IamPolicies.of({
    account: ACCOUNT,
    identity: c.identity.map((document, i) => ({ roleArn: ROLE, logicalId: `Identity${i}`, document })),
    resource: c.resourcePolicy ? [{ resourceArn: c.target.resource, logicalId: 'Resource', document: c.resourcePolicy }] : [],
  });
  return iam.authorize({ principal: c.principal, action: c.target.action, resource: c.target.resource, context: c.context }).decision;
}

function theirs(oracle: ReturnType<typeof loadOracle>, c: Case): OracleDecision {
  const principal = c.principal.kind === 'role'
    ? `arn:aws:sts::${ACCOUNT}:assumed-role/${c.principal.arn.split('/').pop()}/fn` : c.principal.arn;
  // The local root user is an account admin: an identity policy allowing everything.
  const identity = c.principal.kind === 'root'
    ? [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }] : c.identity;
  return oracle(principal, c.target.action, c.target.resource, identity, c.resourcePolicy, c.context);
}

// IAM_ORACLE_SEED / IAM_ORACLE_CASES run another or a larger sample (e.g. 50000) by hand.
const SEED = Number(process.env.IAM_ORACLE_SEED ?? 20261130);
const COUNT = Number(process.env.IAM_ORACLE_CASES ?? 3000);

describe('local IAM evaluator agrees with @cloud-copilot/iam-simulate', () => {
  const oracle = loadOracle();
  const cases = generate(SEED, COUNT);

  test(`${COUNT} seeded random cases (seed ${SEED}) decide alike (documented differences excepted)`, () => {
    const mismatches: string[] = [];
    const counts: Record<string, number> = {};
    let excepted = 0;
    for (const c of cases) {
      const known = KNOWN_DIFFERENCES.find((d) => d.applies(c));
      const got = TO_ORACLE[mine(c)];
      counts[got] = (counts[got] ?? 0) + 1;
      if (known) { excepted++; continue; }
      const want = theirs(oracle, c);
      if (got !== want && mismatches.length < 5) {
        mismatches.push(`case ${c.n}: local ${got}, oracle ${want}\n${JSON.stringify(c, null, 1)}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(excepted).toBeLessThan(cases.length / 10);
    // The generator reaches every decision often enough to mean something.
    expect(counts.Allowed).toBeGreaterThan(COUNT / 10);
    expect(counts.ExplicitlyDenied).toBeGreaterThan(COUNT / 10);
    expect(counts.ImplicitlyDenied).toBeGreaterThan(COUNT / 10);
  });
});
