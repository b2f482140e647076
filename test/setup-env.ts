// jest setup: aws-cdk-lib prints a stack trace for every read of a deprecated property inside the library
// itself (e.g. CfnWorkGroup's workGroupConfigurationUpdates while synthesizing); keep test output readable.
process.env.JSII_DEPRECATED ??= 'quiet';
// The Lambda handlers create their Powertools logger when they are imported, before a test can set the
// level: without this, handler tests print the INFO lines meant for CloudWatch. Tests that need the
// logs set POWERTOOLS_LOG_LEVEL themselves; Lambdas run by the local runner get the template's level.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
