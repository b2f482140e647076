// The TypeScript twin of app.py (and of examples/java): the same stack, the same props, the same cdk-nag
// set-up, line for line. `npx projen test:python` / `test:java` synthesize both and compare them
// (scripts/consumer-parity.ts). It imports the library's source (src/), which the packages embed compiled.
import { App, Aspects, CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagSuppressions } from 'cdk-nag';
import { AccreditationPipeline } from '../../src';

/** `nag: false` leaves cdk-nag out, like the Java app. */
export function synthesizeTwin(outdir: string, options: { nag: boolean } = { nag: true }): void {
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

  if (options.nag) {
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
  }

  app.synth();
}
