// jest setup: aws-cdk-lib prints a stack trace for every read of a deprecated property inside the library
// itself (e.g. CfnWorkGroup's workGroupConfigurationUpdates while synthesizing); keep test output readable.
process.env.JSII_DEPRECATED ??= 'quiet';
