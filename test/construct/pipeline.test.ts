import * as path from 'path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { definitionOf, only, synth } from './helpers';
import { lambdaAssetPath } from '../../src/assets';
import { FACILITY_RECORD_SCHEMA } from '../../src/schema/facility-record';
import { glueColumnsFromSchema } from '../../src/schema/glue-columns';

const { template, pipeline } = synth();
const synthBuckets = () => template.findResources('AWS::S3::Bucket');

function statementsOf(roleLogicalIdPrefix: string): any[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const entry = Object.entries(policies).find(([id]) => id.startsWith(roleLogicalIdPrefix));
  if (!entry) throw new Error(`no policy ${roleLogicalIdPrefix}`);
  return (entry[1] as any).Properties.PolicyDocument.Statement;
}

function actionsOf(statements: any[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

describe('storage', () => {
  test('one KMS key with rotation, RETAIN by default', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('data bucket: KMS, block public access, versioning, EventBridge, access logs, lifecycle', () => {
    const data = template.findResources('AWS::S3::Bucket', { Properties: { NotificationConfiguration: Match.anyValue() } });
    expect(Object.keys(data)).toHaveLength(0); // EventBridge is turned on through the notifications custom resource
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() },
          }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'data-bucket/' },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' }),
            Match.objectLike({ Prefix: 'athena-results/', ExpirationInDays: 7, Status: 'Enabled' }),
          ]),
        },
      },
    });
  });

  test('two buckets (data + access logs), both TLS-only', () => {
    template.resourceCountIs('AWS::S3::Bucket', 2);
    const policies = template.findResources('AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const p of Object.values(policies) as any[]) {
      expect(p.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
      ]));
    }
  });

  test('access log bucket uses SSE-S3 (the only encryption S3 log delivery supports)', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
    expect(pipeline.accessLogsBucket).toBeDefined();
  });

  test("prefixes default to the contract's layout (docs/contract.md §3)", () => {
    expect([pipeline.rawPrefix, pipeline.validatedPrefix, pipeline.expiringPrefix, pipeline.quarantinePrefix,
      pipeline.curatedPrefix, pipeline.resultsPrefix, pipeline.productionPrefix, pipeline.athenaResultsPrefix]).toEqual([
      'data/batch/', 'validated/', 'expiring/', 'quarantine/', 'curated/facility_metrics/', 'results/state_counts/',
      'production/state_counts/', 'athena-results/',
    ]);
  });
});

describe('catalog', () => {
  test('data and logs are retained by default; the catalog and workgroup (no data, fixed names) are deleted', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::KMS::Key']) {
      for (const r of Object.values(template.findResources(type)) as any[]) expect(r.DeletionPolicy).toBe('Retain');
    }
    for (const type of ['AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup']) {
      for (const r of Object.values(template.findResources(type)) as any[]) expect(r.DeletionPolicy).toBe('Delete');
    }
  });

  test('Glue database with a derived, valid name', () => {
    const db = only(template, 'AWS::Glue::Database').props;
    expect(db.DatabaseInput.Name).toMatch(/^medlaunch_elt_[a-z0-9_]+$/);
    expect(db.DatabaseInput.Name).toBe(pipeline.databaseName);
  });

  test('validated_facilities: OpenX JSON SerDe, columns from the one schema, projection on snapshot_date', () => {
    const tables = template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'validated_facilities' } } });
    const t = (Object.values(tables)[0] as any).Properties.TableInput;
    expect(t.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(t.StorageDescriptor.Columns).toEqual(glueColumnsFromSchema().map((c) => ({ Name: c.name, Type: c.type })));
    // nested struct/array columns derive from the schema
    const byName = Object.fromEntries(t.StorageDescriptor.Columns.map((c: any) => [c.Name, c.Type]));
    expect(byName.location).toBe('struct<address:string,city:string,state:string,zip:string>');
    expect(byName.services).toBe('array<string>');
    expect(byName.accreditations).toMatch(/^array<struct<accreditation_body:string,/);
    expect(Object.keys(FACILITY_RECORD_SCHEMA.properties)).toContain('snapshot_date');
    expect(byName.snapshot_date).toBeUndefined();
    expect(t.PartitionKeys).toEqual([{ Name: 'snapshot_date', Type: 'string' }]);
    expect(t.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.snapshot_date.type': 'date',
      'projection.snapshot_date.format': 'yyyy-MM-dd',
    });
    const template0 = t.Parameters['storage.location.template'];
    expect(template0['Fn::Join'][1][0]).toBe('s3://');
    expect(template0['Fn::Join'][1][1]).toEqual({ Ref: Object.keys(synthBuckets()).find((id) => id.startsWith('PipelineDataBucket')) });
    expect(template0['Fn::Join'][1][2]).toBe('/validated/snapshot_date=${snapshot_date}/');
  });

  test('facility_metrics: Parquet table of the Stage 1 columns under the curated prefix', () => {
    const tables = template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'facility_metrics' } } });
    const t = (Object.values(tables)[0] as any).Properties.TableInput;
    expect(t.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    expect(t.StorageDescriptor.Columns).toEqual([
      { Name: 'facility_id', Type: 'string' },
      { Name: 'facility_name', Type: 'string' },
      { Name: 'employee_count', Type: 'int' },
      { Name: 'number_of_offered_services', Type: 'int' },
      { Name: 'expiry_date_of_first_accreditation', Type: 'date' },
      { Name: 'earliest_accreditation_expiry', Type: 'date' },
    ]);
    expect(t.PartitionKeys).toEqual([{ Name: 'snapshot_date', Type: 'string' }]);
    expect(t.Parameters['projection.enabled']).toBe('true');
    expect(JSON.stringify(t.StorageDescriptor.Location)).toContain('/curated/facility_metrics/');
    expect(JSON.stringify(t.Parameters['storage.location.template'])).toContain('/curated/facility_metrics/snapshot_date=${snapshot_date}/');
  });
});

describe('Athena workgroup', () => {
  test('engine v3, enforced, KMS results, cutoff, CloudWatch metrics', () => {
    const wg = only(template, 'AWS::Athena::WorkGroup').props;
    expect(wg.Name).toBe(pipeline.workGroupName);
    expect(wg.WorkGroupConfiguration).toMatchObject({
      EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
      EnforceWorkGroupConfiguration: true,
      PublishCloudWatchMetricsEnabled: true,
      BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
      ResultConfiguration: { EncryptionConfiguration: { EncryptionOption: 'SSE_KMS' } },
    });
    expect(JSON.stringify(wg.WorkGroupConfiguration.ResultConfiguration.OutputLocation)).toContain('/athena-results/');
  });

  test('bytesScannedCutoffPerQuery prop', () => {
    const t = synth({ bytesScannedCutoffPerQuery: 50_000_000 }).template;
    expect(only(t, 'AWS::Athena::WorkGroup').props.WorkGroupConfiguration.BytesScannedCutoffPerQuery).toBe(50_000_000);
  });
});

describe('Lambda functions', () => {
  const fns = template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Runtime: 'nodejs24.x' } });

  test('three functions: nodejs24.x, arm64, X-Ray, explicit log group, no async DLQ', () => {
    expect(Object.keys(fns)).toHaveLength(3);
    for (const fn of Object.values(fns) as any[]) {
      expect(fn.Properties).toMatchObject({
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: expect.anything() },
        KmsKeyArn: expect.anything(),
      });
      expect(fn.Properties.DeadLetterConfig).toBeUndefined();
    }
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 365, KmsKeyId: Match.anyValue() }, 4);
  });

  test('environment is the docs/design.md contract', () => {
    const env = (fns[Object.keys(fns).find((id) => id.startsWith('PipelineQueryRunner'))!] as any).Properties.Environment.Variables;
    expect(Object.keys(env).sort()).toEqual([
      'ATHENA_OUTPUT_LOCATION', 'ATHENA_RESULTS_PREFIX', 'ATHENA_WORKGROUP', 'CURATED_PREFIX', 'CURATED_TABLE', 'DATA_BUCKET',
      'EXPIRING_PREFIX', 'EXPIRY_MONTHS', 'GLUE_DATABASE', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_SERVICE_NAME', 'PRODUCTION_PREFIX',
      'QUARANTINE_PREFIX', 'QUERY_WAIT_SAFETY_MS', 'RAW_PREFIX', 'RESULTS_PREFIX', 'VALIDATED_PREFIX', 'VALIDATED_TABLE',
    ]);
    expect(env).toMatchObject({
      RAW_PREFIX: 'data/batch/',
      VALIDATED_TABLE: 'validated_facilities',
      CURATED_TABLE: 'facility_metrics',
      EXPIRY_MONTHS: '6',
      QUERY_WAIT_SAFETY_MS: '10000',
      GLUE_DATABASE: pipeline.databaseName,
      ATHENA_WORKGROUP: pipeline.workGroupName,
      POWERTOOLS_SERVICE_NAME: 'medlaunch-elt-query-runner',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
  });

  test('code comes from the pre-built asset folders', () => {
    for (const name of ['validator', 'query-runner', 'publish-results'] as const) {
      expect(lambdaAssetPath(name)).toBe(path.resolve(__dirname, '..', '..', 'assets', 'lambda', name));
    }
  });

  test('the one DLQ (the rule target\'s) is a KMS-encrypted SQS queue', () => {
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() }, 1);
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    expect(pipeline.dlqs).toEqual([pipeline.ruleDeadLetterQueue]);
  });

  test('least privilege: the processor only reads raw and writes its three prefixes', () => {
    const st = statementsOf('PipelineProcessorRoleDefaultPolicy');
    const json = JSON.stringify(st);
    expect(json).toContain('/data/batch/*');
    expect(json).toContain('/validated/*');
    expect(json).not.toContain('/production/');
    expect(json).not.toContain('athena:');
    const put = st.find((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes('s3:PutObject'));
    expect(JSON.stringify(put.Resource)).not.toContain('/data/batch/');
    expect(actionsOf(st)).not.toContain('s3:*');
  });

  test('least privilege: the query runner cannot read raw objects', () => {
    const st = statementsOf('PipelineQueryRunnerRoleDefaultPolicy');
    const get = st.find((s) => actionsOf([s]).includes('s3:GetObject'));
    expect(JSON.stringify(get.Resource)).not.toContain('/data/batch/');
  });

  test('the pending-input wait is gone: no PENDING_INPUT_WINDOW_SECONDS; pendingInputWindow is still accepted and ignored', () => {
    const envOf = (t: Template) => Object.values(t.findResources('AWS::Lambda::Function'))
      .map((f: any) => f.Properties.Environment?.Variables?.PENDING_INPUT_WINDOW_SECONDS).filter((v) => v !== undefined);
    expect(envOf(template)).toEqual([]);
    const deprecated = synth(() => ({ pendingInputWindow: Duration.days(5) })).template;
    expect(envOf(deprecated)).toEqual([]);
    expect(definitionOf(deprecated).States.WaitQuietPeriod.Seconds).toBe(30);
  });

  test('snapshotQuietPeriod: 30 s by default, the Wait before the ticket is read back', () => {
    expect(definitionOf(template).States.WaitQuietPeriod).toMatchObject({ Type: 'Wait', Seconds: 30, Next: 'ReadTicket' });
    expect(definitionOf(synth(() => ({ snapshotQuietPeriod: Duration.seconds(5) })).template).States.WaitQuietPeriod.Seconds).toBe(5);
  });

  test('least privilege: the processor deletes only under its own output prefixes (deleted raw files), never raw objects', () => {
    const st = statementsOf('PipelineProcessorRoleDefaultPolicy');
    const del = st.filter((s) => actionsOf([s]).includes('s3:DeleteObject'));
    expect(del).toHaveLength(1);
    const res = JSON.stringify(del[0].Resource);
    for (const prefix of ['/validated/*', '/expiring/*', '/quarantine/*']) expect(res).toContain(prefix);
    expect(res).not.toContain('/data/batch/');
  });

  test('the rule starts an execution for created and deleted data files', () => {
    const rule: any = Object.values(template.findResources('AWS::Events::Rule'))[0];
    expect(rule.Properties.EventPattern['detail-type']).toEqual(['Object Created', 'Object Deleted']);
  });

  test('least privilege: the query runner gets Athena on the workgroup and Glue on the database and tables', () => {
    const st = statementsOf('PipelineQueryRunnerRoleDefaultPolicy');
    const athena = st.find((s) => actionsOf([s]).includes('athena:StartQueryExecution'));
    expect(JSON.stringify(athena.Resource)).toContain(`:workgroup/${pipeline.workGroupName}`);
    const glue = st.find((s) => actionsOf([s]).includes('glue:GetTable'));
    expect(actionsOf([glue]).sort()).toEqual(['glue:GetDatabase', 'glue:GetPartition', 'glue:GetPartitions', 'glue:GetTable']);
    const res = JSON.stringify(glue.Resource);
    expect(res).toContain(`:table/${pipeline.databaseName}/validated_facilities`);
    expect(res).toContain(`:table/${pipeline.databaseName}/facility_metrics`);
    expect(res).toContain(`:database/${pipeline.databaseName}`);
    expect(actionsOf(st)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']));
  });

  test('least privilege: the publisher reads results and writes production only', () => {
    const st = statementsOf('PipelinePublisherRoleDefaultPolicy');
    const put = st.find((s) => actionsOf([s]).includes('s3:PutObject'));
    expect(JSON.stringify(put.Resource)).toContain('/production/state_counts/*');
    expect(JSON.stringify(put.Resource)).not.toContain('/results/');
    expect(JSON.stringify(st)).not.toContain('athena:');
  });

  test('no reserved concurrency unless asked; the prop sets it on each function', () => {
    expect(JSON.stringify(fns)).not.toContain('ReservedConcurrentExecutions');
    const t = synth({ reservedConcurrentExecutions: 5 }).template;
    t.resourcePropertiesCountIs('AWS::Lambda::Function', { ReservedConcurrentExecutions: 5 }, 3);
  });
});

describe('state machine and rule', () => {
  test('Standard, logging ALL to a KMS-encrypted log group, X-Ray', () => {
    const sm = only(template, 'AWS::StepFunctions::StateMachine').props;
    expect(sm.StateMachineType).toBe('STANDARD');
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    expect(sm.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', [Match.stringLikeRegexp('^/aws/vendedlogs/states/'), Match.anyValue()]] },
      KmsKeyId: Match.anyValue(),
    });
  });

  test('JSONPath only, with the integrations aws-local-stepfunctions runs', () => {
    const def = definitionOf(template);
    expect(def.QueryLanguage).toBe('JSONPath');
    const all: [string, any][] = [];
    const walk = (states: Record<string, any>) => {
      for (const [name, s] of Object.entries(states)) {
        all.push([name, s]);
        for (const b of s.Branches ?? []) walk(b.States);
      }
    };
    walk(def.States);
    const names = all.map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining([
      'ProcessObject', 'RefreshSnapshot', 'StartExtract', 'WaitForExtract', 'PollExtract', 'StartStateCounts',
      'WaitForStateCounts', 'PollStateCounts', 'PublishResults', 'NotifyFailure', 'Failed',
    ]));
    for (const [name, s] of all) {
      expect(['Task', 'Wait', 'Choice', 'Parallel', 'Pass', 'Succeed', 'Fail']).toContain(s.Type);
      if (s.Type === 'Task') {
        expect(s.Resource).toMatch(/^arn:aws:states:::(lambda:invoke|sns:publish)$/);
        expect(s.TimeoutSeconds).toBeGreaterThan(0);
        expect(s.Retry?.length).toBeGreaterThan(0);
        if (s.Resource.endsWith('lambda:invoke')) {
          expect(s.Retry).toEqual([expect.objectContaining({
            ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException',
              'Lambda.TooManyRequestsException', 'TransientError'],
            JitterStrategy: 'FULL',
            BackoffRate: 2,
          }), expect.objectContaining({
            // timeouts: a bounded retry (the handlers are idempotent)
            ErrorEquals: ['Sandbox.Timedout', 'States.Timeout'],
            MaxAttempts: 2,
            JitterStrategy: 'FULL',
          })]);
          // permanent errors are never retried
          expect(JSON.stringify(s.Retry)).not.toMatch(/QueryFailedError|QueryCancelledError|InvalidEventError|States\.ALL/);
        }
      }
      expect(JSON.stringify(s)).not.toMatch(/\.sync|JSONata|"Map"/);
      void name;
    }
  });

  test('task timeouts exceed the function timeouts', () => {
    const def = definitionOf(template);
    expect(def.States.ProcessObject.TimeoutSeconds).toBe(600 + 60);
    expect(def.States.RefreshSnapshot.Branches[0].States.PollExtract.TimeoutSeconds).toBe(120 + 60);
    expect(def.TimeoutSeconds).toBe(3 * 3600);
  });

  test('EventBridge rule: Object Created and Object Deleted under the raw prefix of the bucket, retry policy and SQS DLQ', () => {
    const rule = only(template, 'AWS::Events::Rule').props;
    expect(rule.EventPattern).toMatchObject({
      'source': ['aws.s3'],
      'detail-type': ['Object Created', 'Object Deleted'],
      'detail': { bucket: { name: [expect.anything()] }, object: { key: expect.arrayContaining([{ wildcard: 'data/batch/*.jsonl' }]) } },
    });
    expect(rule.Targets).toHaveLength(1);
    expect(rule.Targets[0]).toMatchObject({
      RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 6 * 3600 },
      DeadLetterConfig: { Arn: expect.anything() },
    });
  });
});

describe('alerting', () => {
  test('KMS-encrypted SNS topic, TLS only', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('alarms for failures not alerted, timed-out/aborted executions and the rule\'s lost events, all notify the topic', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(5);
    expect(pipeline.alarms).toHaveLength(5);
    const metrics = Object.values(alarms).map((a: any) => a.Properties.MetricName).sort();
    expect(metrics).toEqual([
      'ApproximateNumberOfMessagesVisible', 'ExecutionsAborted', 'ExecutionsTimedOut', 'InvocationsFailedToBeSentToDlq',
      `${pipeline.alarmNamePrefix}FailuresNotAlerted`,
    ]);
    const topicId = only(template, 'AWS::SNS::Topic').logicalId;
    for (const a of Object.values(alarms) as any[]) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  test('alarm e-mails become subscriptions', () => {
    const t = synth({ alarmEmails: ['oncall@example.com', 'qa@example.org'] }).template;
    t.resourceCountIs('AWS::SNS::Subscription', 2);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  test('the key policy lets CloudWatch Logs, EventBridge and CloudWatch alarms use the key', () => {
    const key = only(template, 'AWS::KMS::Key').props;
    const principals = JSON.stringify(key.KeyPolicy.Statement.map((s: any) => s.Principal));
    expect(principals).toContain('logs.us-east-1.amazonaws.com');
    expect(principals).toContain('events.amazonaws.com');
    expect(principals).toContain('cloudwatch.amazonaws.com');
  });
});

describe('props', () => {
  test('custom prefixes reach the rule, tables, lifecycle and environment', () => {
    const { template: t } = synth({ rawPrefix: 'in/', validatedPrefix: 'ok/', athenaResultsPrefix: 'aq/', expiryMonths: 3 });
    expect(only(t, 'AWS::Events::Rule').props.EventPattern.detail.object.key).toEqual(expect.arrayContaining([{ wildcard: 'in/*.json.gz' }]));
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ RAW_PREFIX: 'in/', VALIDATED_PREFIX: 'ok/', EXPIRY_MONTHS: '3' }) } });
    t.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: 'aq/' })]) } });
  });

  test('removalPolicy DESTROY deletes buckets (auto-delete), key, logs and the workgroup', () => {
    const { template: t } = synth({ removalPolicy: RemovalPolicy.DESTROY });
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    t.hasResourceProperties('AWS::Athena::WorkGroup', { RecursiveDeleteOption: true });
    for (const type of ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup']) {
      for (const r of Object.values(t.findResources(type)) as any[]) expect(r.DeletionPolicy).toBe('Delete');
    }
  });

  test('logRetention, databaseName and workGroupName', () => {
    const { template: t } = synth({ logRetention: logs.RetentionDays.ONE_MONTH, databaseName: 'accreditation', workGroupName: 'acc-wg' });
    t.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 4);
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'accreditation' } });
    t.hasResourceProperties('AWS::Glue::Table', { DatabaseName: 'accreditation' });
    t.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'acc-wg' });
  });
});
