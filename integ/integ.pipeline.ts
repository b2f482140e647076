/**
 * Integration test of AccreditationPipeline: deploys the pipeline (removalPolicy DESTROY), uploads
 * a sample raw file, waits until the state machine execution for it SUCCEEDED and checks that the
 * production results and the snapshot's run report exist.
 *
 *   npx projen integ:update   # synthesize and write integ/integ.pipeline.ts.snapshot (no deploy)
 *   npx projen integ          # verify the committed snapshot (no deploy)
 *   npx integ-runner --directory integ --language typescript --force   # deploy for real (AWS account)
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccreditationPipeline } from '../src';

const SNAPSHOT_DATE = '2025-08-10';
const SAMPLE_KEY = `data/batch/${SNAPSHOT_DATE}/integ-sample.jsonl`;
// Three records of the shipped sample data (valid, of several states): small enough to inline.
const SAMPLE = readFileSync(path.join(__dirname, '..', 'data', 'batch', SNAPSHOT_DATE, 'facilities_0001.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim() !== '').slice(0, 3).join('\n') + '\n';

const app = new App();
const stack = new Stack(app, 'MedlaunchEltPipelineInteg');
const pipeline = new AccreditationPipeline(stack, 'Pipeline', {
  removalPolicy: RemovalPolicy.DESTROY,
  queryPollInterval: Duration.seconds(5),
  stateMachineTimeout: Duration.minutes(30),
});

const integ = new IntegTest(app, 'AccreditationPipelineInteg', {
  testCases: [stack],
  diffAssets: false,
  cdkCommandOptions: { destroy: { args: { force: true } } },
});

// 1. Upload a raw file: EventBridge starts the state machine.
const upload = integ.assertions.awsApiCall('S3', 'putObject', {
  Bucket: pipeline.bucket.bucketName,
  Key: SAMPLE_KEY,
  Body: SAMPLE,
  ContentType: 'application/x-ndjson',
});
upload.provider.addToRolePolicy({
  Effect: 'Allow',
  Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
  Resource: [pipeline.encryptionKey.keyArn],
});

// 2. Wait until an execution SUCCEEDED (the only object uploaded is the sample).
const executions = integ.assertions.awsApiCall('StepFunctions', 'listExecutions', {
  stateMachineArn: pipeline.stateMachine.stateMachineArn,
  statusFilter: 'SUCCEEDED',
});
executions.provider.addToRolePolicy({
  Effect: 'Allow',
  Action: ['states:ListExecutions'],
  Resource: [pipeline.stateMachine.stateMachineArn],
});
executions.expect(ExpectedResult.objectLike({
  executions: Match.arrayWith([Match.objectLike({ status: 'SUCCEEDED' })]),
})).waitForAssertions({ totalTimeout: Duration.minutes(25), interval: Duration.seconds(30) });

// 3. The production results exist: the CSV and the JSON of the snapshot.
const production = integ.assertions.awsApiCall('S3', 'listObjectsV2', {
  Bucket: pipeline.bucket.bucketName,
  Prefix: `${pipeline.productionPrefix}snapshot_date=${SNAPSHOT_DATE}/`,
});
production.provider.addToRolePolicy({
  Effect: 'Allow',
  Action: ['s3:ListBucket'],
  Resource: [pipeline.bucket.bucketArn],
});
production.expect(ExpectedResult.objectLike({
  KeyCount: 2,
  Contents: Match.arrayWith([
    Match.objectLike({ Key: `${pipeline.productionPrefix}snapshot_date=${SNAPSHOT_DATE}/state_counts.csv` }),
    Match.objectLike({ Key: `${pipeline.productionPrefix}snapshot_date=${SNAPSHOT_DATE}/state_counts.json` }),
  ]),
}));

// 4. The run report of the published snapshot exists (src/contract/observability.ts, RunReport).
const report = integ.assertions.awsApiCall('S3', 'listObjectsV2', {
  Bucket: pipeline.bucket.bucketName,
  Prefix: `${pipeline.reportsPrefix}snapshot_date=${SNAPSHOT_DATE}/`,
});
report.provider.addToRolePolicy({
  Effect: 'Allow',
  Action: ['s3:ListBucket'],
  Resource: [pipeline.bucket.bucketArn],
});
report.expect(ExpectedResult.objectLike({
  Contents: Match.arrayWith([
    Match.objectLike({ Key: `${pipeline.reportsPrefix}snapshot_date=${SNAPSHOT_DATE}/report.json` }),
  ]),
}));

upload.next(executions).next(production).next(report);

app.synth();
