import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { synthesizeFixture } from './engine-helpers';
import { LocalStepFunctions } from '../../local/stepfunctions';
import { IntrinsicResolver, resolveTemplate, synthesizePipelineTemplate, TemplateResolutionError } from '../../local/template';
import type { CfnTemplate } from '../../local/template';
import * as lib from '../../src';

describe('resolveTemplate on a synthesized stack', () => {
  const synth = synthesizeFixture();
  const t = resolveTemplate(synth.template, { assemblyDir: synth.assemblyDir });

  test('buckets, topics, functions and ARNs get deterministic physical names', () => {
    const [bucket] = t.buckets();
    expect(bucket.name).toMatch(/^medlauncheltlocal-data[0-9a-f]+-[0-9a-f]{12}$/);
    expect(bucket.name.length).toBeLessThanOrEqual(63);
    expect(bucket.arn).toBe(`arn:aws:s3:::${bucket.name}`);
    const [topic] = t.snsTopics();
    expect(topic.arn).toBe(`arn:aws:sns:us-east-1:000000000000:${topic.name}`);
    const again = resolveTemplate(synth.template, { assemblyDir: synth.assemblyDir });
    expect(again.buckets()[0].name).toBe(bucket.name);
  });

  test('Lambda functions: environment resolved, handler, timeout, memory, asset folder', () => {
    const fns = t.lambdaFunctions().filter((f) => f.assetDir);
    expect(fns.map((f) => f.handler).sort()).toEqual(['index.process', 'index.publish', 'index.query']);
    const bucket = t.buckets()[0].name;
    for (const f of fns) {
      expect(f.arn).toBe(`arn:aws:lambda:us-east-1:000000000000:function:${f.name}`);
      expect(f.env.DATA_BUCKET).toBe(bucket);
      expect(f.env.TOPIC_ARN).toBe(t.snsTopics()[0].arn);
      expect(f.env.ATHENA_OUTPUT_LOCATION).toBe(`s3://${bucket}/athena-results/`);
      expect(f.env.ATHENA_WORKGROUP).toBe('medlaunch-us-east-1');
      expect(f.memoryMb).toBe(256);
      expect(existsSync(join(f.assetDir!, 'index.js'))).toBe(true);
      expect(f.assetDir!.startsWith(synth.assemblyDir)).toBe(true);
    }
    expect(fns.find((f) => f.handler === 'index.publish')!.timeoutSeconds).toBe(5);
    // CDK's own inline custom-resource handler has no asset.
    expect(t.lambdaFunctions().some((f) => !f.assetDir && f.inlineCode)).toBe(true);
  });

  test('state machine definition is resolved JSON naming the real function ARNs', () => {
    const sm = t.stateMachine();
    expect(sm.arn).toBe(`arn:aws:states:us-east-1:000000000000:stateMachine:${sm.name}`);
    expect(sm.definition.StartAt).toBe('ProcessObject');
    const processFn = t.lambdaFunctions().find((f) => f.handler === 'index.process')!;
    expect(sm.definition.States.ProcessObject.Parameters.FunctionName).toBe(processFn.arn);
    expect(sm.definition.States.NotifyFailure.Parameters.TopicArn).toBe(t.snsTopics()[0].arn);
    expect(sm.definition.States.RefreshSnapshot.Branches).toHaveLength(2);
    expect(sm.roleArn).toMatch(/^arn:aws:iam::000000000000:role\//);
  });

  test('EventBridge rule: pattern with the bucket name, state machine target with retry policy', () => {
    const [rule] = t.eventRules();
    expect(rule.eventPattern).toEqual({
      'source': ['aws.s3'],
      'detail-type': ['Object Created'],
      'detail': { bucket: { name: [t.buckets()[0].name] }, object: { key: [{ prefix: 'data/batch/' }] } },
    });
    expect(rule.targets).toHaveLength(1);
    expect(rule.targets[0].arn).toBe(t.stateMachine().arn);
    expect(rule.targets[0].retryPolicy).toEqual({ MaximumEventAgeInSeconds: 7200, MaximumRetryAttempts: 4 });
    expect(rule.targets[0].roleArn).toMatch(/^arn:aws:iam::000000000000:role\//);
  });

  test('Glue database/table and the Athena workgroup', () => {
    expect(t.glueDatabases().map((d) => d.name)).toEqual(['medlaunch_local']);
    const [table] = t.glueTables();
    expect(table.databaseName).toBe('medlaunch_local');
    expect(table.name).toBe('validated_facilities');
    expect(table.tableInput.StorageDescriptor.Location).toBe(`s3://${t.buckets()[0].name}/validated/`);
    const [wg] = t.athenaWorkGroups();
    expect(wg.name).toBe('medlaunch-us-east-1');
    expect(wg.configuration.ResultConfiguration.OutputLocation).toBe(`s3://${t.buckets()[0].name}/athena-results/`);
  });

  test('physicalNames, account and region overrides flow into every reference', () => {
    const bucketId = t.buckets()[0].logicalId;
    const o = resolveTemplate(synth.template, {
      assemblyDir: synth.assemblyDir, accountId: '123456789012', region: 'eu-west-1', physicalNames: { [bucketId]: 'my-data' },
    });
    expect(o.buckets()[0].name).toBe('my-data');
    const f = o.lambdaFunctions().find((x) => x.handler === 'index.query')!;
    expect(f.env.DATA_BUCKET).toBe('my-data');
    expect(f.arn).toMatch(/^arn:aws:lambda:eu-west-1:123456789012:function:/);
    expect(o.athenaWorkGroups()[0].name).toBe('medlaunch-eu-west-1');
  });
});

describe('IntrinsicResolver', () => {
  const template: CfnTemplate = {
    Parameters: { Env: { Type: 'String', Default: 'dev' }, Zones: { Type: 'CommaDelimitedList', Default: 'a,b' } },
    Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] } },
    Resources: {
      B: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::Sub': 'data-${AWS::AccountId}-${Env}' } } },
      T: { Type: 'AWS::SNS::Topic' },
      Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q1' } },
    },
  };
  const r = new IntrinsicResolver(template, { accountId: '111122223333', region: 'us-west-2' });

  test.each([
    [{ Ref: 'B' }, 'data-111122223333-dev'],
    [{ 'Fn::GetAtt': ['B', 'Arn'] }, 'arn:aws:s3:::data-111122223333-dev'],
    [{ 'Fn::GetAtt': 'B.RegionalDomainName' }, 'data-111122223333-dev.s3.us-west-2.amazonaws.com'],
    [{ 'Fn::Join': ['/', ['a', { Ref: 'AWS::Region' }, 3]] }, 'a/us-west-2/3'],
    [{ 'Fn::Sub': ['${X}-${!Literal}-${B.Arn}', { X: { Ref: 'AWS::Partition' } }] }, 'aws-${Literal}-arn:aws:s3:::data-111122223333-dev'],
    [{ 'Fn::Select': [1, { 'Fn::Split': [',', 'x,y,z'] }] }, 'y'],
    [{ 'Fn::Select': [0, { Ref: 'Zones' }] }, 'a'],
    [{ 'Fn::If': ['IsProd', 'big', 'small'] }, 'small'],
    [{ Ref: 'AWS::URLSuffix' }, 'amazonaws.com'],
    [{ Ref: 'Q' }, 'https://sqs.us-west-2.amazonaws.com/111122223333/q1'],
    [{ 'Fn::GetAtt': ['Q', 'Arn'] }, 'arn:aws:sqs:us-west-2:111122223333:q1'],
  ])('%j resolves to %j', (input, expected) => {
    expect(r.resolve(input)).toEqual(expected);
  });

  test('Ref of a topic is its ARN; AWS::NoValue removes the property', () => {
    expect(r.resolve({ Ref: 'T' })).toMatch(/^arn:aws:sns:us-west-2:111122223333:MedlaunchEltLocal-T-[0-9A-F]{12}$/);
    expect(r.resolve({ a: 1, b: { Ref: 'AWS::NoValue' }, c: [1, { Ref: 'AWS::NoValue' }] })).toEqual({ a: 1, c: [1] });
  });

  test('unknown resources, attributes and intrinsics are reported', () => {
    expect(() => r.resolve({ Ref: 'Nope' })).toThrow(TemplateResolutionError);
    expect(() => r.resolve({ 'Fn::GetAtt': ['T', 'Whatever'] })).toThrow(/unsupported attribute/);
    expect(() => r.resolve({ 'Fn::ImportValue': 'x' })).toThrow(/unsupported intrinsic/);
    expect(() => r.resolve({ 'Fn::Sub': '${Missing}' })).toThrow(/cannot resolve/);
  });
});

const hasPipeline = typeof (lib as Record<string, unknown>).AccreditationPipeline === 'function';
(hasPipeline ? test : test.skip)('synthesizePipelineTemplate builds the real pipeline with one state machine', () => {
  const s = synthesizePipelineTemplate();
  const t = resolveTemplate(s.template, { assemblyDir: s.assemblyDir });
  expect(t.stateMachine().definition.States).toBeDefined();
  expect(t.lambdaFunctions().filter((f) => f.assetDir).length).toBeGreaterThanOrEqual(3);
  expect(t.eventRules().length).toBeGreaterThanOrEqual(1);
  expect(t.eventRules()[0].targets.some((x) => x.arn === t.stateMachine().arn)).toBe(true);
  // The definition is accepted by the local engine (validation, Task resources).
  const sfn = new LocalStepFunctions({ lambda: { invoke: () => Promise.reject(new Error('not called')) } });
  expect(sfn.register(t.stateMachine())).toBe(t.stateMachine().arn);
});
