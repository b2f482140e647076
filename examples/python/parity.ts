// The TypeScript twin of app.py: the same stack, the same props, the same cdk-nag set-up, line for line.
// `npx projen test:python` synthesizes both and compares them (scripts/python-parity.ts).
// It imports the compiled library (lib/), the code the Python wheel embeds.
import { App, Aspects, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import { AccreditationPipeline } from '../../lib';

export function synthesizeTwin(outdir: string): void {
  const app = new App({ outdir });
  const stack = new Stack(app, 'MedlaunchElt');

  const pipeline = new AccreditationPipeline(stack, 'Pipeline', {
    alarmEmails: ['data-oncall@example.com'],
    rawPrefix: 'incoming/facilities/',
    expiryMonths: 3,
    queryTimeout: Duration.minutes(5),
    removalPolicy: RemovalPolicy.DESTROY,
  });
  new CfnOutput(stack, 'DataBucketName', { value: pipeline.bucket.bucketName });
  new CfnOutput(stack, 'StateMachineArn', { value: pipeline.stateMachine.stateMachineArn });

  NagSuppressions.addResourceSuppressionsByPath(
    stack,
    `/${stack.stackName}/Custom::S3AutoDeleteObjectsCustomResourceProvider`,
    [
      { id: 'AwsSolutions-IAM4', reason: 'CDK-owned provider of autoDeleteObjects (removal_policy DESTROY only); uses AWSLambdaBasicExecutionRole for its own logs.' },
      { id: 'AwsSolutions-L1', reason: 'CDK-owned provider of autoDeleteObjects; its runtime is chosen by aws-cdk-lib.' },
    ],
    true,
  );
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));

  app.synth();
}
