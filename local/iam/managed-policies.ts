/**
 * AWS managed policies cannot be read offline. The few that CDK attaches on its own are copied here
 * (their default version, from the AWS Managed Policy Reference); any other AWS managed policy ARN
 * makes {@link IamPolicies.fromTemplate} refuse the template with a message naming it.
 */
import type { PolicyDocumentJson } from './policy';

/** Policy name (after `:policy/`) → document. */
export const AWS_MANAGED_POLICIES: Readonly<Record<string, PolicyDocumentJson>> = {
  // v1 (default). CDK gives it to every Lambda role it creates, including its singleton handlers
  // (e.g. the S3 bucket-notifications handler).
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: '*',
    }],
  },
  // v3 (default). CDK adds it to the role of a Lambda function placed in a VPC.
  'service-role/AWSLambdaVPCAccessExecutionRole': {
    Version: '2012-10-17',
    Statement: [{
      Sid: 'AWSLambdaVPCAccessExecutionPermissions',
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses'],
      Resource: '*',
    }],
  },
};

/** The document of an AWS managed policy ARN (`arn:<partition>:iam::aws:policy/<name>`), or undefined. */
export function awsManagedPolicy(arn: string): PolicyDocumentJson | undefined {
  const m = /^arn:[^:]+:iam::aws:policy\/(.+)$/.exec(arn);
  return m ? AWS_MANAGED_POLICIES[m[1]] : undefined;
}
