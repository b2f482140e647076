#!/usr/bin/env python3
"""A CDK app in Python that deploys the medlaunch-elt AccreditationPipeline.

    python3 -m venv .venv && . .venv/bin/activate
    pip install -r requirements.txt
    python3 app.py                  # synthesizes into ./cdk.out (or: npx aws-cdk synth)

The same app in TypeScript is parity.ts; `npx projen test:python` checks that both synthesize the
same template and that cdk-nag reports the same findings for both.
"""
import argparse
import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions
from medlaunch_elt import AccreditationPipeline

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
# The CDK CLI passes its output directory in CDK_OUTDIR; run directly, the app writes ./cdk.out.
parser.add_argument("--outdir", default=os.environ.get("CDK_OUTDIR", "cdk.out"), help="cloud assembly directory (default: cdk.out)")
args = parser.parse_args()

app = cdk.App(outdir=args.outdir)
stack = cdk.Stack(app, "MedlaunchElt")

pipeline = AccreditationPipeline(
    stack,
    "Pipeline",
    alarm_emails=["data-oncall@example.com"],
    raw_prefix="incoming/facilities/",
    expiry_months=3,
    query_timeout=cdk.Duration.minutes(5),
    # A disposable stack: buckets are emptied and deleted with it (the default is RETAIN).
    removal_policy=cdk.RemovalPolicy.DESTROY,
)
cdk.CfnOutput(stack, "DataBucketName", value=pipeline.bucket.bucket_name)
cdk.CfnOutput(stack, "StateMachineArn", value=pipeline.state_machine.state_machine_arn)

# cdk-nag: the construct ships its own acknowledgements. With removal_policy=DESTROY, aws-cdk-lib adds
# its auto-delete-objects provider to the stack; that one is CDK's, so the app acknowledges it.
NagSuppressions.add_resource_suppressions_by_path(
    stack,
    f"/{stack.stack_name}/Custom::S3AutoDeleteObjectsCustomResourceProvider",
    [
        NagPackSuppression(id="AwsSolutions-IAM4", reason="CDK-owned provider of autoDeleteObjects (removal_policy DESTROY only); uses AWSLambdaBasicExecutionRole for its own logs."),
        NagPackSuppression(id="AwsSolutions-L1", reason="CDK-owned provider of autoDeleteObjects; its runtime is chosen by aws-cdk-lib."),
    ],
    True,
)
# Findings are annotations of the synthesized stack (the CDK CLI prints them and refuses to deploy on an
# error); every rule's outcome is also written to <outdir>/AwsSolutions--MedlaunchElt-NagReport.csv.
cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))

app.synth()
