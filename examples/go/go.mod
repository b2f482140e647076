module github.com/medlaunch/medlaunch-elt-go-example

go 1.25

require (
	github.com/aws/aws-cdk-go/awscdk/v2 v2.245.0
	github.com/aws/jsii-runtime-go v1.140.0
	github.com/medlaunch/medlaunch-elt-go/medlaunchelt v0.0.0
)

// Until the module is published: the one `npx projen package:go` generates.
replace github.com/medlaunch/medlaunch-elt-go/medlaunchelt => ../../dist/go/medlaunchelt
