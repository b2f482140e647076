// A CDK app in Go that deploys the medlaunch-elt AccreditationPipeline with the same props as
// examples/python/app.py. `npx projen package:go` compiles and vets it against the module it builds
// (scripts/go-build.sh).
//
//	go run . [-outdir DIR]
package main

import (
	"flag"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/medlaunch/medlaunch-elt-go/medlaunchelt"
)

func main() {
	defer jsii.Close()
	outdir := flag.String("outdir", "cdk.out", "cloud assembly directory")
	flag.Parse()

	app := awscdk.NewApp(&awscdk.AppProps{Outdir: outdir})
	stack := awscdk.NewStack(app, jsii.String("MedlaunchElt"), nil)

	pipeline := medlaunchelt.NewAccreditationPipeline(stack, jsii.String("Pipeline"), &medlaunchelt.AccreditationPipelineProps{
		AlarmEmails:  jsii.Strings("data-oncall@example.com"),
		RawPrefix:    jsii.String("incoming/facilities/"),
		ExpiryMonths: jsii.Number(3),
		QueryTimeout: awscdk.Duration_Minutes(jsii.Number(5)),
		// A disposable stack: buckets are emptied and deleted with it (the default is RETAIN).
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	awscdk.NewCfnOutput(stack, jsii.String("DataBucketName"), &awscdk.CfnOutputProps{Value: pipeline.Bucket().BucketName()})
	awscdk.NewCfnOutput(stack, jsii.String("StateMachineArn"), &awscdk.CfnOutputProps{Value: pipeline.StateMachine().StateMachineArn()})

	app.Synth(nil)
}
