/**
 * IAM enforcement in the local SNS, Step Functions, EventBridge and Athena: each service authorizes
 * its caller against the policies of a synthesized template, and a denial surfaces as AWS reports it.
 * The template is a small stack of roles, a KMS key, topics and a Glue table made for these tests.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AthenaClient, GetQueryExecutionCommand, QueryExecution, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { GlueTableInput, LocalAthena } from '../../local/athena';
import { LocalEventBridge } from '../../local/events';
import { IamPolicies, Principal } from '../../local/iam';
import { LocalCredentials } from '../../local/iam/credentials';
import { LocalSns } from '../../local/sns';
import { LocalStepFunctions } from '../../local/stepfunctions';
import { resolveTemplate, synthesizeTemplate } from '../../local/template';

jest.setTimeout(60_000);

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const FN_OK = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:fn-ok`;
const FN_DENIED = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:fn-denied`;
const MACHINE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:m`;
const WG = `arn:aws:athena:${REGION}:${ACCOUNT}:workgroup/wg`;
const GLUE = (r: string) => `arn:aws:glue:${REGION}:${ACCOUNT}:${r}`;

/** The test stack: one role per case, named so the tests read well. */
function build(stack: Stack): void {
  const key = new kms.Key(stack, 'TopicKey');
  const encrypted = new sns.Topic(stack, 'Encrypted', { topicName: 'encrypted', masterKey: key });
  const plain = new sns.Topic(stack, 'Plain', { topicName: 'plain' });
  const role = (name: string, statements: iam.PolicyStatement[]) => {
    const r = new iam.Role(stack, name, { roleName: name, assumedBy: new iam.AccountRootPrincipal() });
    for (const s of statements) r.addToPolicy(s);
    return r;
  };
  const publish = new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [encrypted.topicArn, plain.topicArn] });
  role('publisher', [publish, new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] })]);
  role('publisher-nokms', [publish]);
  const stranger = role('stranger', []);
  plain.addToResourcePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [plain.topicArn], principals: [stranger] }));
  role('machine', [
    new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [FN_OK, `${FN_OK}:*`] }),
    new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [plain.topicArn] }),
  ]);
  const dlq = new sqs.Queue(stack, 'Dlq', { queueName: 'dlq' });
  dlq.addToResourcePolicy(new iam.PolicyStatement({
    actions: ['sqs:SendMessage'],
    resources: [dlq.queueArn],
    principals: [new iam.ServicePrincipal('events.amazonaws.com')],
    conditions: { ArnEquals: { 'aws:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/r` } },
  }));
  new sqs.Queue(stack, 'ClosedDlq', { queueName: 'closed-dlq' });
  role('events-ok', [new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [MACHINE] })]);
  role('events-none', []);
  const athena = (name: string, omit: string[]) => role(name, [
    new iam.PolicyStatement({ actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults'], resources: [WG] }),
    new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable'].filter((a) => !omit.includes(a)),
      resources: [GLUE('catalog'), GLUE('database/db'), GLUE('table/db/t')],
    }),
    new iam.PolicyStatement({ actions: ['s3:ListBucket', 's3:GetBucketLocation'], resources: ['arn:aws:s3:::data'] }),
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [omit.includes('s3:GetObject') ? 'arn:aws:s3:::data/other/*' : 'arn:aws:s3:::data/t/*'] }),
    new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:PutObjectAcl'].filter((a) => !omit.includes(a)),
      resources: ['arn:aws:s3:::data/results/*'],
    }),
  ]);
  athena('analyst', []);
  athena('analyst-kms', []).addToPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn] }));
  athena('analyst-noglue', ['glue:GetTable']);
  athena('analyst-noread', ['s3:GetObject']);
  athena('analyst-noacl', ['s3:PutObjectAcl']);
  role('outsider', []);
}

let root: string;
let policies: IamPolicies;
let credentials: LocalCredentials;
let topicKeyArn: string;
const roleOf = (name: string): Principal => ({ kind: 'role', arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, account: ACCOUNT });

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'iam-services-'));
  const synth = synthesizeTemplate(build, { outdir: join(root, 'cdk.out') });
  const tpl = resolveTemplate(synth.template, { assemblyDir: synth.assemblyDir, region: REGION });
  policies = IamPolicies.fromTemplate(tpl, { account: ACCOUNT, region: REGION });
  credentials = new LocalCredentials(ACCOUNT);
  topicKeyArn = tpl.arn(tpl.logicalIdsOfType('AWS::KMS::Key')[0]);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('SNS', () => {
  let local: LocalSns;
  const client = (name: string) => new SNSClient({
    endpoint: local.endpoint, region: REGION, credentials: credentials.for(roleOf(name)), maxAttempts: 1,
  });
  const encrypted = `arn:aws:sns:${REGION}:${ACCOUNT}:encrypted`;
  const plain = `arn:aws:sns:${REGION}:${ACCOUNT}:plain`;

  beforeAll(async () => {
    local = await LocalSns.start({ iam: { policies, credentials }, topics: [{ arn: encrypted, kmsMasterKeyId: topicKeyArn }, { arn: plain }] });
  });
  afterAll(() => local.close());

  test('a publisher with sns:Publish and the topic key publishes to the encrypted topic', async () => {
    const out = await client('publisher').send(new PublishCommand({ TopicArn: encrypted, Message: 'm' }));
    expect(out.MessageId).toBeDefined();
  });

  test('without sns:Publish: AuthorizationError, HTTP 403, naming the action, role and topic', async () => {
    const err = await client('outsider').send(new PublishCommand({ TopicArn: plain, Message: 'm' })).catch((e) => e);
    expect(err.name).toBe('AuthorizationErrorException');
    expect(err.$metadata.httpStatusCode).toBe(403);
    expect(err.message).toMatch(/outsider.* is not authorized to perform: SNS:Publish on resource: arn:aws:sns:us-east-1:000000000000:plain/);
  });

  test('the topic policy alone can allow the publisher', async () => {
    await expect(client('stranger').send(new PublishCommand({ TopicArn: plain, Message: 'm' }))).resolves.toBeDefined();
    const err = await client('stranger').send(new PublishCommand({ TopicArn: encrypted, Message: 'm' })).catch((e) => e);
    expect(err.name).toBe('AuthorizationErrorException');
  });

  test('an encrypted topic needs the key: KMSAccessDenied without kms:GenerateDataKey', async () => {
    const before = local.messages.length;
    const err = await client('publisher-nokms').send(new PublishCommand({ TopicArn: encrypted, Message: 'm' })).catch((e) => e);
    expect(err.name).toBe('KMSAccessDeniedException');
    expect(err.message).toMatch(/kms:GenerateDataKey/);
    expect(local.messages.length).toBe(before);
    await expect(client('publisher-nokms').send(new PublishCommand({ TopicArn: plain, Message: 'm' }))).resolves.toBeDefined();
  });

  test('an unknown access key is refused', async () => {
    const c = new SNSClient({ endpoint: local.endpoint, region: REGION, credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' }, maxAttempts: 1 });
    const err = await c.send(new PublishCommand({ TopicArn: plain, Message: 'm' })).catch((e) => e);
    expect(err.$metadata.httpStatusCode).toBe(403);
    expect(err.name).toMatch(/InvalidClientTokenId/);
  });
});

describe('Step Functions', () => {
  const invoked: string[] = [];
  const lambda = { invoke: async (arn: string) => { invoked.push(arn); return { payload: { ok: true }, requestId: 'r' } as any; } };
  const definition = (fn: string) => ({
    StartAt: 'Call',
    States: {
      Call: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: fn, Payload: {} },
        Retry: [{ ErrorEquals: ['Lambda.AWSLambdaException'], MaxAttempts: 1, IntervalSeconds: 1 }],
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
  });

  test('the role must allow lambda:InvokeFunction: a denial is Lambda.AWSLambdaException, retried and caught', async () => {
    const sfn = new LocalStepFunctions({ lambda, region: REGION, accountId: ACCOUNT, retryScale: 0.001, iam: { policies, credentials } });
    const ok = sfn.register({ name: 'ok', definition: definition(FN_OK), roleArn: roleOf('machine').arn });
    const denied = sfn.register({ name: 'denied', definition: definition(FN_DENIED), roleArn: roleOf('machine').arn });
    const a = await sfn.startExecution(ok, {}).result;
    expect(a.status).toBe('SUCCEEDED');
    expect(invoked).toEqual([FN_OK]);
    const b = await sfn.startExecution(denied, {}).result;
    expect(b.status).toBe('SUCCEEDED'); // caught
    const failed = b.history.filter((h) => h.type === 'TaskStateFailed' || h.error !== undefined);
    expect(failed[0].error).toBe('Lambda.AWSLambdaException');
    expect(failed[0].cause).toMatch(/machine.* is not authorized to perform: lambda:InvokeFunction on resource: .*fn-denied.*Status Code: 403; Error Code: AccessDeniedException/);
    expect(b.history.some((h) => h.type === 'StateRetried')).toBe(true);
    expect(b.history.some((h) => h.state === 'Caught')).toBe(true);
    expect(invoked).toEqual([FN_OK]);
    await sfn.close();
  });

  test('a qualified function ARN is covered by the <fn>:* grant; without enforcement nothing is checked', async () => {
    const sfn = new LocalStepFunctions({ lambda, region: REGION, accountId: ACCOUNT, iam: { policies, credentials } });
    const arn = sfn.register({ name: 'q', definition: { StartAt: 'C', States: { C: { Type: 'Task', Resource: `${FN_OK}:live`, End: true } } }, roleArn: roleOf('machine').arn });
    expect((await sfn.startExecution(arn, {}).result).status).toBe('SUCCEEDED');
    const open = new LocalStepFunctions({ lambda, region: REGION, accountId: ACCOUNT });
    const o = open.register({ name: 'o', definition: definition(FN_DENIED) });
    expect((await open.startExecution(o, {}).result).history.some((h) => h.error !== undefined)).toBe(false);
    await sfn.close();
    await open.close();
  });

  test('a state machine without RoleArn cannot be registered with enforcement on', () => {
    const sfn = new LocalStepFunctions({ lambda, iam: { policies, credentials } });
    expect(() => sfn.register({ name: 'x', definition: definition(FN_OK) })).toThrow(/RoleArn/);
  });

  test('sns:publish is signed as the role: SNS.AuthorizationErrorException without sns:Publish', async () => {
    const local = await LocalSns.start({ iam: { policies, credentials } });
    const endpoints = { sns: local.endpoint };
    const sfn = new LocalStepFunctions({ lambda, region: REGION, accountId: ACCOUNT, endpoints, iam: { policies, credentials } });
    const def = (topic: string) => ({ StartAt: 'P', States: { P: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', Parameters: { TopicArn: topic, Message: 'x' }, End: true } } });
    const ok = sfn.register({ name: 'p1', definition: def(`arn:aws:sns:${REGION}:${ACCOUNT}:plain`), roleArn: roleOf('machine').arn });
    const no = sfn.register({ name: 'p2', definition: def(`arn:aws:sns:${REGION}:${ACCOUNT}:encrypted`), roleArn: roleOf('machine').arn });
    expect((await sfn.startExecution(ok, {}).result).status).toBe('SUCCEEDED');
    const r = await sfn.startExecution(no, {}).result;
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('SNS.AuthorizationErrorException');
    expect(r.cause).toMatch(/is not authorized to perform: SNS:Publish/);
    expect(local.messages).toHaveLength(1);
    await sfn.close();
    await local.close();
  });
});

describe('EventBridge', () => {
  const event = { bucket: 'b', key: 'data/batch/2025-01-01/a.jsonl', size: 1 };
  const rule = (roleArn: string | undefined, dlq?: string) => ({
    name: 'r',
    arn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/r`,
    eventPattern: { source: ['aws.s3'] },
    targets: [{ id: 't', arn: MACHINE, roleArn, ...(dlq ? { deadLetterConfig: { Arn: dlq } } : {}), retryPolicy: { MaximumRetryAttempts: 5 } }],
  });

  test('the target role needs states:StartExecution; a denial is not retried and goes to the DLQ', async () => {
    const started: string[] = [];
    const targets = { startExecution: (arn: string) => { started.push(arn); return { executionArn: `${arn}:x`, result: Promise.resolve({ status: 'SUCCEEDED' }) }; } };
    const dead: unknown[] = [];
    const denied = new LocalEventBridge({ rules: [rule(roleOf('events-none').arn, 'arn:aws:sqs:us-east-1:000000000000:dlq')], targets, iam: { policies }, onDeadLetter: (m) => dead.push(m) });
    denied.objectsCreated([event]);
    await denied.waitForIdle();
    expect(started).toEqual([]);
    const [f] = denied.failedDeliveries();
    expect(f).toMatchObject({ status: 'FAILED', attempts: 1, errorCode: 'NO_PERMISSIONS', deadLetterQueue: 'arn:aws:sqs:us-east-1:000000000000:dlq' });
    expect(f.error).toMatch(/events-none.* is not authorized to perform: states:StartExecution on resource: .*stateMachine:m/);
    expect(dead).toEqual([expect.objectContaining({ attributes: expect.objectContaining({ ERROR_CODE: 'NO_PERMISSIONS', RETRY_ATTEMPTS: '0' }) })]);

    const allowed = new LocalEventBridge({ rules: [rule(roleOf('events-ok').arn)], targets, iam: { policies } });
    allowed.objectsCreated([event]);
    await allowed.waitForIdle();
    expect(started).toEqual([MACHINE]);
    expect(allowed.failedDeliveries()).toEqual([]);

    const noRole = new LocalEventBridge({ rules: [rule(undefined)], targets, iam: { policies } });
    noRole.objectsCreated([event]);
    await noRole.waitForIdle();
    expect(noRole.failedDeliveries()[0].error).toMatch(/no RoleArn/);

    // The dead-letter queue's policy must let EventBridge send to it; otherwise the event is dropped.
    const closed = new LocalEventBridge({ rules: [rule(roleOf('events-none').arn, 'arn:aws:sqs:us-east-1:000000000000:closed-dlq')], targets, iam: { policies } });
    closed.objectsCreated([event]);
    await closed.waitForIdle();
    expect(closed.deadLetterMessages()).toEqual([]);
    expect(closed.failedDeliveries()[0].deadLetterQueue).toBeUndefined();
    expect(closed.failedDeliveries()[0].deadLetterError).toMatch(/events\.amazonaws\.com is not authorized to perform: sqs:SendMessage .*dropped/);
  });
});

describe('Athena', () => {
  let s3: Server;
  let endpoint: string;
  const puts: Array<{ key: string; headers: IncomingHttpHeaders }> = [];
  let athena: LocalAthena;

  const table: GlueTableInput = {
    Name: 't',
    TableType: 'EXTERNAL_TABLE',
    StorageDescriptor: {
      Columns: [{ Name: 'id', Type: 'string' }],
      Location: 's3://data/t/',
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', Parameters: {} },
    },
  } as GlueTableInput;

  beforeAll(async () => {
    s3 = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const key = decodeURIComponent(new URL(req.url!, 'http://x').pathname.slice(1));
        const file = join(root, 's3', key);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, Buffer.concat(chunks));
        puts.push({ key, headers: req.headers });
        res.end();
      });
    });
    await new Promise<void>((r) => s3.listen(0, '127.0.0.1', () => r()));
    endpoint = `http://127.0.0.1:${(s3.address() as AddressInfo).port}`;
    mkdirSync(join(root, 's3', 'data', 't'), { recursive: true });
    writeFileSync(join(root, 's3', 'data', 't', 'a.jsonl'), '{"id":"A"}\n{"id":"B"}\n');
    athena = await LocalAthena.start({ s3: { endpoint, rootDir: join(root, 's3') }, workDir: join(root, 'athena'), region: REGION, iam: { policies, credentials } });
    athena.registerTable('db', table);
    athena.registerWorkGroupConfiguration('wg', {
      EnforceWorkGroupConfiguration: true,
      ResultConfiguration: { OutputLocation: 's3://data/results/', AclConfiguration: { S3AclOption: 'BUCKET_OWNER_FULL_CONTROL' } },
    });
  });
  afterAll(async () => {
    await athena.close();
    await new Promise<void>((r) => s3.close(() => r()));
  });

  async function run(name: string, on: LocalAthena = athena): Promise<QueryExecution> {
    const client = new AthenaClient({ endpoint: on.endpoint, region: REGION, credentials: credentials.for(roleOf(name)), maxAttempts: 1 });
    const { QueryExecutionId } = await client.send(new StartQueryExecutionCommand({ QueryString: 'SELECT count(*) FROM t', WorkGroup: 'wg', QueryExecutionContext: { Database: 'db' } }));
    for (;;) {
      const q = (await client.send(new GetQueryExecutionCommand({ QueryExecutionId }))).QueryExecution!;
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(q.Status!.State!)) return q;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('an allowed caller runs the query; Athena writes the results as the caller, with the workgroup ACL', async () => {
    const q = await run('analyst');
    expect(q.Status?.State).toBe('SUCCEEDED');
    const put = puts.find((p) => p.key === `data/results/${q.QueryExecutionId}.csv`)!;
    expect(put.headers['x-amz-acl']).toBe('bucket-owner-full-control');
    expect(put.headers.authorization).toContain(`Credential=${credentials.for(roleOf('analyst')).accessKeyId}/`);
  });

  test('athena:StartQueryExecution on the workgroup: AccessDeniedException', async () => {
    const err = await run('outsider').catch((e) => e);
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toMatch(/outsider.* is not authorized to perform: athena:StartQueryExecution on resource: arn:aws:athena:us-east-1:000000000000:workgroup\/wg/);
  });

  test('glue:GetTable as the caller: the query FAILS (user error)', async () => {
    const q = await run('analyst-noglue');
    expect(q.Status?.State).toBe('FAILED');
    expect(q.Status?.AthenaError?.ErrorCategory).toBe(2);
    expect(q.Status?.StateChangeReason).toMatch(/is not authorized to perform: glue:GetTable on resource: arn:aws:glue:us-east-1:000000000000:(catalog|database\/db|table\/db\/t).*AmazonDataCatalog/);
  });

  test('s3:GetObject on the table files as the caller', async () => {
    const q = await run('analyst-noread');
    expect(q.Status?.State).toBe('FAILED');
    expect(q.Status?.StateChangeReason).toMatch(/Permission denied on S3 path: s3:\/\/data\/t\/a\.jsonl.*s3:GetObject/);
  });

  test('a KMS-encrypted table file needs kms:Decrypt on its key for the caller', async () => {
    const kmsAthena = await LocalAthena.start({
      s3: { endpoint, rootDir: join(root, 's3') },
      workDir: join(root, 'athena-kms'),
      region: REGION,
      iam: { policies, credentials, objectKmsKey: (bucket) => (bucket === 'data' ? topicKeyArn : undefined) },
    });
    try {
      kmsAthena.registerTable('db', table);
      kmsAthena.registerWorkGroup('wg', { outputLocation: 's3://data/results/', enforce: true });
      const denied = await run('analyst', kmsAthena);
      expect(denied.Status?.State).toBe('FAILED');
      expect(denied.Status?.StateChangeReason).toMatch(/Permission denied on S3 path: s3:\/\/data\/t\/a\.jsonl.*kms:Decrypt/);
      expect((await run('analyst-kms', kmsAthena)).Status?.State).toBe('SUCCEEDED');
    } finally {
      await kmsAthena.close();
    }
  });

  test('the workgroup ACL needs s3:PutObjectAcl on the results location', async () => {
    const before = puts.length;
    const q = await run('analyst-noacl');
    expect(q.Status?.State).toBe('FAILED');
    expect(q.Status?.StateChangeReason).toMatch(/^Access denied when writing output to url: s3:\/\/data\/results\/.*s3:PutObjectAcl/);
    expect(puts.length).toBe(before);
  });
});
