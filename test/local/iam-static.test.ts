/**
 * IAM checks of the paths local mode does not execute (CloudWatch alarms, EventBridge dead-letter
 * delivery, CloudWatch Logs encryption, Lambda log delivery, S3 → EventBridge), over the template of
 * the default construct, decided by the local IAM evaluator as AWS would decide them.
 */
import { IamPolicies, Principal } from '../../local/iam';
import { resolveTemplate, synthesizePipelineTemplate } from '../../local/template';

const synth = synthesizePipelineTemplate();
const tpl = resolveTemplate(synth.template, { assemblyDir: synth.assemblyDir });
const ACCOUNT = tpl.accountId;
const REGION = tpl.region;
const iam = IamPolicies.fromTemplate(tpl, { account: ACCOUNT, region: REGION });

/** A KMS key reference of a template property (ARN or key id) as a key ARN. */
function keyArn(ref: unknown): string {
  const s = String(ref);
  if (s.startsWith('arn:')) return s;
  if (s.startsWith('alias/')) throw new Error(`key given by alias ${s}: resolve it to the key first`);
  return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${s}`;
}

function decide(principal: Principal, action: string, resource: string, context: Record<string, string> = {}): string {
  const r = iam.authorize({ principal, action, resource, context });
  return r.decision === 'Allow' ? 'Allow' : `${r.decision} ${r.reason}`;
}

const cloudwatch = iam.servicePrincipal('cloudwatch.amazonaws.com');
const events = iam.servicePrincipal('events.amazonaws.com');
const logs = iam.servicePrincipal(`logs.${REGION}.amazonaws.com`);
const topicsByArn = new Map(tpl.snsTopics().map((t) => [t.arn, t]));

describe('services can assume the roles they run as', () => {
  const assumes = (service: string, roleArn: string): string => decide(iam.servicePrincipal(service), 'sts:AssumeRole', roleArn);

  test('each function role trusts Lambda, the state machine role Step Functions, each rule target role EventBridge', () => {
    for (const f of tpl.lambdaFunctions()) expect(assumes('lambda.amazonaws.com', f.roleArn!)).toBe('Allow');
    for (const sm of tpl.stateMachines()) expect(assumes('states.amazonaws.com', sm.roleArn!)).toBe('Allow');
    const targets = tpl.eventRules().flatMap((r) => r.targets.filter((t) => t.roleArn));
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(assumes('events.amazonaws.com', String(t.roleArn))).toBe('Allow');
  });

  test('and no other service', () => {
    const f = tpl.lambdaFunctions()[0];
    expect(assumes('states.amazonaws.com', f.roleArn!)).toMatch(/^ImplicitDeny/);
    expect(assumes('lambda.amazonaws.com', tpl.stateMachine().roleArn!)).toMatch(/^ImplicitDeny/);
  });
});

describe('CloudWatch alarms → alert topic', () => {
  const alarms = tpl.logicalIdsOfType('AWS::CloudWatch::Alarm');

  test('the construct has alarms, each with an SNS action', () => {
    expect(alarms.length).toBeGreaterThanOrEqual(3);
    for (const id of alarms) expect((tpl.properties(id).AlarmActions ?? []).length).toBeGreaterThan(0);
  });

  test.each(alarms)('alarm %s can publish to its topics, and use their KMS key', (id) => {
    const alarmArn = tpl.arn(id);
    const context = { 'aws:SourceArn': alarmArn, 'aws:SourceAccount': ACCOUNT };
    for (const topicArn of tpl.properties(id).AlarmActions as string[]) {
      expect(decide(cloudwatch, 'sns:Publish', topicArn, context)).toBe('Allow');
      const topic = topicsByArn.get(topicArn);
      expect(topic).toBeDefined();
      if (topic!.properties.KmsMasterKeyId !== undefined) {
        const key = keyArn(topic!.properties.KmsMasterKeyId);
        expect(decide(cloudwatch, 'kms:GenerateDataKey', key, context)).toBe('Allow');
        expect(decide(cloudwatch, 'kms:Decrypt', key, context)).toBe('Allow');
      }
    }
  });

  test("another account's alarms cannot publish to the topic or use the key (confused deputy)", () => {
    const topicArn = (tpl.properties(alarms[0]).AlarmActions as string[])[0];
    const foreign = { 'aws:SourceArn': tpl.arn(alarms[0]).replace(`:${ACCOUNT}:`, ':444455556666:'), 'aws:SourceAccount': '444455556666' };
    expect(decide(cloudwatch, 'sns:Publish', topicArn, foreign)).toMatch(/^ImplicitDeny/);
    const key = keyArn(topicsByArn.get(topicArn)!.properties.KmsMasterKeyId);
    expect(decide(cloudwatch, 'kms:GenerateDataKey', key, foreign)).toMatch(/^ImplicitDeny/);
    // Nor an alarm of the same account that the construct did not create.
    const stranger = { 'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:someone-elses-alarm`, 'aws:SourceAccount': ACCOUNT };
    expect(decide(cloudwatch, 'sns:Publish', topicArn, stranger)).toMatch(/^ImplicitDeny/);
  });
});

describe('EventBridge → rule dead-letter queues', () => {
  const queues = new Map(tpl.logicalIdsOfType('AWS::SQS::Queue').map((id) => [tpl.arn(id), id]));
  const withDlq = tpl.eventRules().flatMap((rule) => rule.targets.filter((t) => t.deadLetterConfig?.Arn).map((t) => ({ rule, target: t })));

  test('every rule target has a dead-letter queue', () => {
    expect(withDlq.length).toBeGreaterThan(0);
    expect(withDlq.length).toBe(tpl.eventRules().flatMap((r) => r.targets).length);
  });

  test.each(withDlq.map((w) => [`${w.rule.logicalId}/${w.target.id}`, w] as const))('%s: EventBridge can send to the DLQ and use its key', (_, { rule, target }) => {
    const dlq = String(target.deadLetterConfig!.Arn);
    const context = { 'aws:SourceArn': rule.arn, 'aws:SourceAccount': ACCOUNT };
    expect(decide(events, 'sqs:SendMessage', dlq, context)).toBe('Allow');
    const queueId = queues.get(dlq);
    expect(queueId).toBeDefined();
    const kms = tpl.properties(queueId!).KmsMasterKeyId;
    if (kms !== undefined && kms !== 'alias/aws/sqs') {
      expect(decide(events, 'kms:GenerateDataKey', keyArn(kms), context)).toBe('Allow');
      expect(decide(events, 'kms:Decrypt', keyArn(kms), context)).toBe('Allow');
    }
    // Only this rule: another rule of the account cannot use the queue.
    expect(decide(events, 'sqs:SendMessage', dlq, { ...context, 'aws:SourceArn': `${rule.arn}-other` })).toMatch(/^ImplicitDeny/);
  });

  test("the rule's target role can start the state machine", () => {
    for (const { rule, target } of withDlq) {
      const role = iam.roleArnOf(rule.logicalId, target.id);
      expect(role).toBeDefined();
      expect(decide(iam.rolePrincipal(role!, 'events'), 'states:StartExecution', target.arn)).toBe('Allow');
    }
  });
});

describe('CloudWatch Logs → KMS key', () => {
  const groups = tpl.logicalIdsOfType('AWS::Logs::LogGroup').filter((id) => tpl.properties(id).KmsKeyId !== undefined);

  test('the log groups are encrypted', () => {
    expect(groups.length).toBe(tpl.logicalIdsOfType('AWS::Logs::LogGroup').length);
  });

  test.each(groups)('log group %s: CloudWatch Logs can encrypt and decrypt with its key for that log group', (id) => {
    const key = keyArn(tpl.properties(id).KmsKeyId);
    const groupArn = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${tpl.physicalName(id)}`;
    const context = { 'kms:EncryptionContext:aws:logs:arn': groupArn };
    for (const action of ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom']) {
      expect(decide(logs, action, key, context)).toBe('Allow');
    }
    // Without the log group's encryption context, the service gets nothing.
    expect(decide(logs, 'kms:Decrypt', key)).toMatch(/^ImplicitDeny/);
    expect(decide(iam.servicePrincipal('logs.eu-west-1.amazonaws.com'), 'kms:Decrypt', key, context)).toMatch(/^ImplicitDeny/);
  });
});

describe('Lambda functions → their log streams', () => {
  const functions = tpl.lambdaFunctions();
  const logGroupOf = (logicalId: string, name: string): string =>
    String(tpl.properties(logicalId).LoggingConfig?.LogGroup ?? `/aws/lambda/${name}`);
  const streamArn = (group: string): string =>
    `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${group}:log-stream:2026/11/30/[$LATEST]0123456789abcdef0123456789abcdef`;

  test.each(functions.map((f) => [f.logicalId, f] as const))('%s can create its log stream and put log events', (_, f) => {
    expect(f.roleArn).toBeDefined();
    const role = iam.rolePrincipal(f.roleArn!, f.name);
    const stream = streamArn(logGroupOf(f.logicalId, f.name));
    expect(decide(role, 'logs:CreateLogStream', stream)).toBe('Allow');
    expect(decide(role, 'logs:PutLogEvents', stream)).toBe('Allow');
  });

  test("a pipeline function cannot write another function's log group", () => {
    const own = functions.filter((f) => f.assetDir);
    expect(own.length).toBeGreaterThanOrEqual(2);
    const [a, b] = own;
    const stream = streamArn(logGroupOf(b.logicalId, b.name));
    expect(decide(iam.rolePrincipal(a.roleArn!, a.name), 'logs:PutLogEvents', stream)).toMatch(/^ImplicitDeny/);
  });
});

describe('S3 → EventBridge', () => {
  const data = tpl.buckets().find((b) => b.properties.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.SSEAlgorithm === 'aws:kms');

  test('the data bucket sends its events to EventBridge', () => {
    expect(data).toBeDefined();
    const direct = data!.properties.NotificationConfiguration?.EventBridgeConfiguration;
    const custom = tpl.logicalIdsOfType('Custom::S3BucketNotifications')
      .map((id) => tpl.properties(id))
      .find((p) => p.BucketName === data!.name)?.NotificationConfiguration?.EventBridgeConfiguration;
    expect(direct ?? custom).toBeDefined();
  });

  test('the object-created rule listens to that bucket', () => {
    const rules = tpl.eventRules().filter((r) => JSON.stringify(r.eventPattern?.source) === '["aws.s3"]');
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) expect((r.eventPattern as any).detail.bucket.name).toContain(data!.name);
  });

  test('a custom notifications handler may set the notification configuration', () => {
    for (const id of tpl.logicalIdsOfType('Custom::S3BucketNotifications')) {
      const handler = String(tpl.resolve(tpl.template.Resources[id].Properties!.ServiceToken)).split(':').pop()!;
      const fn = tpl.lambdaFunctions().find((f) => f.name === handler)!;
      const bucket = `arn:aws:s3:::${tpl.properties(id).BucketName}`;
      expect(decide(iam.rolePrincipal(fn.roleArn!, fn.name), 's3:PutBucketNotification', bucket)).toBe('Allow');
    }
  });
});
