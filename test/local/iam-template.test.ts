import { IamPolicies, UnsupportedPolicyError } from '../../local/iam';
import { resolveTemplate, synthesizePipelineTemplate } from '../../local/template';
import type { CfnTemplate } from '../../local/template';

const ENV = { account: '000000000000', region: 'us-east-1' };
const arn = (logicalId: string, tpl: ReturnType<typeof resolveTemplate>): string => tpl.arn(logicalId);
const getAtt = (id: string, attr = 'Arn'): unknown => ({ 'Fn::GetAtt': [id, attr] });
const join = (...parts: unknown[]): unknown => ({ 'Fn::Join': ['', parts] });
const doc = (...Statement: unknown[]): unknown => ({ Version: '2012-10-17', Statement });
const lambdaTrust = doc({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' });

/** A small template exercising every policy source fromTemplate reads. */
function template(extra: Record<string, unknown> = {}): CfnTemplate {
  return {
    Resources: {
      Bucket: { Type: 'AWS::S3::Bucket' },
      Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: doc({ Effect: 'Allow', Principal: { AWS: join('arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root') }, Action: 'kms:*', Resource: '*' }) } },
      DefaultKey: { Type: 'AWS::KMS::Key' },
      Topic: { Type: 'AWS::SNS::Topic' },
      Queue: { Type: 'AWS::SQS::Queue' },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: lambdaTrust,
          Policies: [{ PolicyName: 'inline', PolicyDocument: doc({ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: getAtt('Queue') }) }],
          ManagedPolicyArns: [{ Ref: 'Managed' }, join('arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole')],
        },
      },
      Managed: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: doc({ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'Topic' } }) } },
      Policy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'p',
          Roles: [{ Ref: 'Role' }],
          PolicyDocument: doc({ Effect: 'Allow', Action: ['s3:GetObject', 'kms:Decrypt'], Resource: [join(getAtt('Bucket'), '/in/*'), getAtt('Key')] }),
        },
      },
      BucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'Bucket' },
          PolicyDocument: doc({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: [getAtt('Bucket'), join(getAtt('Bucket'), '/*')], Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        },
      },
      TopicPolicy: {
        Type: 'AWS::SNS::TopicPolicy',
        Properties: {
          Topics: [{ Ref: 'Topic' }],
          PolicyDocument: doc({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: 'Topic' } }),
        },
      },
      QueuePolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [{ Ref: 'Queue' }],
          PolicyDocument: doc({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: getAtt('Queue'), Condition: { ArnEquals: { 'aws:SourceArn': getAtt('Rule') } } }),
        },
      },
      Fn: { Type: 'AWS::Lambda::Function', Properties: { Role: getAtt('Role'), Handler: 'index.handler', Code: { ZipFile: 'x' } } },
      Permission: { Type: 'AWS::Lambda::Permission', Properties: { FunctionName: getAtt('Fn'), Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', SourceArn: getAtt('Bucket'), SourceAccount: { Ref: 'AWS::AccountId' } } },
      SmRole: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' }) } },
      Sm: { Type: 'AWS::StepFunctions::StateMachine', Properties: { RoleArn: getAtt('SmRole'), DefinitionString: '{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}' } },
      RuleRole: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' }) } },
      Rule: { Type: 'AWS::Events::Rule', Properties: { EventPattern: { source: ['aws.s3'] }, Targets: [{ Id: 'T0', Arn: { Ref: 'Sm' }, RoleArn: getAtt('RuleRole') }, { Id: 'T1', Arn: { Ref: 'Topic' } }] } },
      ...extra,
    },
  } as CfnTemplate;
}

describe('IamPolicies.fromTemplate: every policy source', () => {
  const tpl = resolveTemplate(template());
  const iam = IamPolicies.fromTemplate(tpl, ENV);
  const role = iam.rolePrincipal(arn('Role', tpl), 'fn');
  const bucket = arn('Bucket', tpl);

  test('AWS::IAM::Policy attached by role name, with Fn::Join / Fn::GetAtt resolved', () => {
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${bucket}/in/a.json` }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${bucket}/out/a.json` }).decision).toBe('ImplicitDeny');
  });

  test("a role's inline Policies, customer managed policy and the vetted AWS managed policy", () => {
    expect(iam.authorize({ principal: role, action: 'sqs:SendMessage', resource: arn('Queue', tpl) }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 'sns:Publish', resource: arn('Topic', tpl) }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 'logs:PutLogEvents', resource: 'arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/x:log-stream:s' }).decision).toBe('Allow');
  });

  test('the bucket policy applies to the bucket and its objects', () => {
    const insecure = { 'aws:SecureTransport': false };
    expect(iam.authorize({ principal: role, action: 's3:GetObject', resource: `${bucket}/in/a.json`, context: insecure }).decision).toBe('ExplicitDeny');
    expect(iam.resourcePolicyOf(`${bucket}/any/key`)).toHaveLength(1);
    expect(iam.resourcePolicyOf(bucket)[0].logicalId).toBe('BucketPolicy');
  });

  test('key policies: an explicit one delegating to IAM, and the default one for a key without KeyPolicy', () => {
    expect(iam.authorize({ principal: role, action: 'kms:Decrypt', resource: arn('Key', tpl) }).decision).toBe('Allow');
    expect(iam.authorize({ principal: role, action: 'kms:Encrypt', resource: arn('Key', tpl) }).decision).toBe('ImplicitDeny');
    expect(iam.authorize({ principal: iam.rootPrincipal(), action: 'kms:Encrypt', resource: arn('DefaultKey', tpl) }).decision).toBe('Allow');
  });

  test('topic and queue policies (the queue addressed by its URL) allow the service principals they name', () => {
    const events = iam.servicePrincipal('events.amazonaws.com');
    expect(iam.authorize({ principal: events, action: 'sns:Publish', resource: arn('Topic', tpl) }).decision).toBe('Allow');
    expect(iam.authorize({ principal: events, action: 'sqs:SendMessage', resource: arn('Queue', tpl), context: { 'aws:SourceArn': arn('Rule', tpl) } }).decision).toBe('Allow');
    expect(iam.authorize({ principal: events, action: 'sqs:SendMessage', resource: arn('Queue', tpl) }).decision).toBe('ImplicitDeny');
  });

  test('AWS::Lambda::Permission becomes a function policy statement with SourceArn/SourceAccount conditions', () => {
    const s3 = iam.servicePrincipal('s3.amazonaws.com');
    const fn = arn('Fn', tpl);
    const ctx = { 'aws:SourceArn': bucket, 'aws:SourceAccount': ENV.account };
    expect(iam.authorize({ principal: s3, action: 'lambda:InvokeFunction', resource: fn, context: ctx }).decision).toBe('Allow');
    expect(iam.authorize({ principal: s3, action: 'lambda:InvokeFunction', resource: fn, context: { ...ctx, 'aws:SourceArn': 'arn:aws:s3:::other' } }).decision).toBe('ImplicitDeny');
  });

  test('roleArnOf: functions, state machines and rule targets', () => {
    expect(iam.roleArnOf('Fn')).toBe(arn('Role', tpl));
    expect(iam.roleArnOf('Sm')).toBe(arn('SmRole', tpl));
    expect(iam.roleArnOf('Rule')).toBe(arn('RuleRole', tpl));
    expect(iam.roleArnOf('Rule', 'T0')).toBe(arn('RuleRole', tpl));
    expect(iam.roleArnOf('Rule', 'T1')).toBeUndefined();
    expect(iam.roleArnOf('Nope')).toBeUndefined();
  });

  test('without() drops the matching statements and keeps the original intact', () => {
    const narrowed = iam.without((s) => s.logicalId === 'Managed');
    expect(narrowed.authorize({ principal: role, action: 'sns:Publish', resource: arn('Topic', tpl) }).decision).toBe('ImplicitDeny');
    expect(iam.authorize({ principal: role, action: 'sns:Publish', resource: arn('Topic', tpl) }).decision).toBe('Allow');
  });
});

describe('IamPolicies.fromTemplate refuses what it cannot evaluate faithfully', () => {
  test('an AWS managed policy it does not know, named in the message', () => {
    const tpl = resolveTemplate(template({
      Other: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: lambdaTrust, ManagedPolicyArns: ['arn:aws:iam::aws:policy/AmazonS3FullAccess'] } },
    }));
    expect(() => IamPolicies.fromTemplate(tpl, ENV)).toThrow(/role Other uses the managed policy arn:aws:iam::aws:policy\/AmazonS3FullAccess, which local mode cannot read offline/);
  });

  test('two policies for one bucket (AWS keeps only one)', () => {
    const tpl = resolveTemplate(template({
      BucketPolicy2: { Type: 'AWS::S3::BucketPolicy', Properties: { Bucket: { Ref: 'Bucket' }, PolicyDocument: doc({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }) } },
    }));
    expect(() => IamPolicies.fromTemplate(tpl, ENV)).toThrow(/BucketPolicy2 and BucketPolicy both set the policy of arn:aws:s3:::/);
  });

  test('a policy attached to a role that is not in the template', () => {
    const tpl = resolveTemplate(template({
      Stray: { Type: 'AWS::IAM::Policy', Properties: { PolicyName: 's', Roles: ['imported-role'], PolicyDocument: doc({ Effect: 'Allow', Action: '*', Resource: '*' }) } },
    }));
    expect(() => IamPolicies.fromTemplate(tpl, ENV)).toThrow(/Stray attaches to role 'imported-role', which is not in the template/);
  });

  test('an Effect other than Allow or Deny', () => {
    const tpl = resolveTemplate(template({
      Bad: { Type: 'AWS::IAM::Policy', Properties: { PolicyName: 'b', Roles: [{ Ref: 'Role' }], PolicyDocument: doc({ Effect: 'allow', Action: '*', Resource: '*' }) } },
    }));
    expect(() => IamPolicies.fromTemplate(tpl, ENV)).toThrow(/Effect "allow"/);
    expect(() => IamPolicies.fromTemplate(tpl, ENV)).toThrow(UnsupportedPolicyError);
  });
});

describe('IamPolicies.fromTemplate on the default construct', () => {
  const synth = synthesizePipelineTemplate();
  const tpl = resolveTemplate(synth.template, { assemblyDir: synth.assemblyDir });
  const iam = IamPolicies.fromTemplate(tpl, { account: tpl.accountId, region: tpl.region });
  const data = tpl.buckets().find((b) => b.properties.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.SSEAlgorithm === 'aws:kms')!;

  test('every function, the state machine and the rule target have a role with identity policies', () => {
    for (const f of tpl.lambdaFunctions()) {
      expect(iam.roleArnOf(f.logicalId)).toBe(f.roleArn);
      expect(iam.identityPoliciesOf(f.roleArn!).length).toBeGreaterThan(0);
    }
    const sm = tpl.stateMachine();
    expect(iam.roleArnOf(sm.logicalId)).toBe(sm.roleArn);
    expect(iam.identityPoliciesOf(sm.roleArn!).length).toBeGreaterThan(0);
  });

  test('the data bucket, the key, the topic and each queue have their resource policies', () => {
    expect(iam.resourcePolicyOf(data.arn).length).toBeGreaterThan(0);
    for (const id of tpl.logicalIdsOfType('AWS::KMS::Key')) expect(iam.resourcePolicyOf(tpl.arn(id)).length).toBeGreaterThan(0);
    for (const t of tpl.snsTopics()) expect(iam.resourcePolicyOf(t.arn).length).toBeGreaterThan(0);
    for (const id of tpl.logicalIdsOfType('AWS::SQS::Queue')) expect(iam.resourcePolicyOf(tpl.arn(id)).length).toBeGreaterThan(0);
  });

  test('fast enough for every local S3 request: 20,000 object reads in well under two seconds', () => {
    const f = tpl.lambdaFunctions().find((fn) => fn.logicalId.startsWith('PipelineProcessor'))!;
    const role = iam.rolePrincipal(f.roleArn!, f.name);
    const started = Date.now();
    let allowed = 0;
    for (let i = 0; i < 20_000; i++) {
      const key = `${data.arn}/validated/part-${i}.json`;
      if (iam.authorize({ principal: role, action: 's3:GetObject', resource: key, context: { 's3:TlsVersion': 1.3 } }).decision === 'Allow') allowed++;
    }
    expect(allowed).toBe(20_000);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('the local user (account root) can upload raw data but not over plain HTTP', () => {
    const root = iam.rootPrincipal();
    expect(iam.authorize({ principal: root, action: 's3:PutObject', resource: `${data.arn}/data/batch/a.json` }).decision).toBe('Allow');
    expect(iam.authorize({ principal: root, action: 's3:PutObject', resource: `${data.arn}/data/batch/a.json`, context: { 'aws:SecureTransport': false } }))
      .toMatchObject({ decision: 'ExplicitDeny', reason: 'with an explicit deny in a resource-based policy' });
  });
});
