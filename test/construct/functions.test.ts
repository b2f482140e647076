import * as path from 'path';
import { Match } from 'aws-cdk-lib/assertions';
import { actionsOf, statementsOf, synth } from './helpers';
import { lambdaAssetPath } from '../../src/assets';
import { DEFAULT_REPORTS_PREFIX, METRICS_NAMESPACE, OBSERVABILITY_ENV } from '../../src/contract/observability';

/** The functions building block (src/pipeline/functions.ts, src/pipeline/grants.ts): the three Lambdas, their environment and least-privilege grants. */
const { template, pipeline } = synth();

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
      'EXPIRING_PREFIX', 'EXPIRY_MONTHS', 'GLUE_DATABASE', 'PIPELINE_NAME', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME', 'PRODUCTION_PREFIX', 'QUARANTINE_PREFIX', 'QUERY_WAIT_SAFETY_MS', 'RAW_PREFIX', 'REPORTS_PREFIX',
      'RESULTS_PREFIX', 'VALIDATED_PREFIX', 'VALIDATED_TABLE',
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

  test('every function carries the observability contract: PIPELINE_NAME, the metrics namespace and REPORTS_PREFIX', () => {
    expect(pipeline.pipelineName).toMatch(/^medlaunch-elt-[a-z0-9-]+$/);
    expect(pipeline.alarmNamePrefix).toBe(`${pipeline.pipelineName}-`);
    for (const fn of Object.values(fns) as any[]) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        [OBSERVABILITY_ENV.pipelineName]: pipeline.pipelineName,
        [OBSERVABILITY_ENV.metricsNamespace]: METRICS_NAMESPACE,
        [OBSERVABILITY_ENV.reportsPrefix]: DEFAULT_REPORTS_PREFIX,
      });
    }
    expect(pipeline.reportsPrefix).toBe(DEFAULT_REPORTS_PREFIX);
  });

  test('code comes from the pre-built asset folders', () => {
    for (const name of ['validator', 'query-runner', 'publish-results'] as const) {
      expect(lambdaAssetPath(name)).toBe(path.resolve(__dirname, '..', '..', 'assets', 'lambda', name));
    }
  });

  test('least privilege: the processor only reads raw and writes its three prefixes', () => {
    const st = statementsOf(template, 'PipelineProcessorRoleDefaultPolicy');
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
    const st = statementsOf(template, 'PipelineQueryRunnerRoleDefaultPolicy');
    const get = st.find((s) => actionsOf([s]).includes('s3:GetObject'));
    expect(JSON.stringify(get.Resource)).not.toContain('/data/batch/');
  });

  test('least privilege: the processor deletes only under its own output prefixes (deleted raw files), never raw objects', () => {
    const st = statementsOf(template, 'PipelineProcessorRoleDefaultPolicy');
    const del = st.filter((s) => actionsOf([s]).includes('s3:DeleteObject'));
    expect(del).toHaveLength(1);
    const res = JSON.stringify(del[0].Resource);
    for (const prefix of ['/validated/*', '/expiring/*', '/quarantine/*']) expect(res).toContain(prefix);
    expect(res).not.toContain('/data/batch/');
  });

  test('least privilege: the query runner gets Athena on the workgroup and Glue on the database and tables', () => {
    const st = statementsOf(template, 'PipelineQueryRunnerRoleDefaultPolicy');
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

  test('least privilege: the publisher reads results and the file summaries, writes production and the run reports only', () => {
    const st = statementsOf(template, 'PipelinePublisherRoleDefaultPolicy');
    const put = st.find((s) => actionsOf([s]).includes('s3:PutObject'));
    const putRes = JSON.stringify(put.Resource);
    expect(putRes).toContain('/production/state_counts/*');
    expect(putRes).toContain('/reports/*');
    expect(putRes).not.toContain('/results/');
    expect(putRes).not.toContain('_summaries');
    // reads (Get) cover what it writes too: the report's and the watermarks' conditional writes read them first
    const get = JSON.stringify(st.find((s) => actionsOf([s]).includes('s3:GetObject')).Resource);
    for (const prefix of ['/results/state_counts/*', '/validated/_summaries/*', '/production/state_counts/*', '/reports/*']) expect(get).toContain(prefix);
    expect(get).not.toContain('/validated/*');
    expect(actionsOf(st)).toContain('s3:ListBucket');
    expect(actionsOf(st)).not.toContain('s3:DeleteObject');
    expect(JSON.stringify(st)).not.toContain('athena:');
  });

  test('no reserved concurrency unless asked; the prop sets it on each function', () => {
    expect(JSON.stringify(fns)).not.toContain('ReservedConcurrentExecutions');
    const t = synth({ reservedConcurrentExecutions: 5 }).template;
    t.resourcePropertiesCountIs('AWS::Lambda::Function', { ReservedConcurrentExecutions: 5 }, 3);
  });
});
