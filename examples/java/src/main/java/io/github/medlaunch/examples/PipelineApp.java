package io.github.medlaunch.examples;

import io.github.medlaunch.elt.AccreditationPipeline;
import java.util.List;
import software.amazon.awscdk.App;
import software.amazon.awscdk.AppProps;
import software.amazon.awscdk.CfnOutput;
import software.amazon.awscdk.Duration;
import software.amazon.awscdk.RemovalPolicy;
import software.amazon.awscdk.Stack;

/**
 * The Java twin of examples/python/app.py: the same stack and props (cdk-nag is applied from Python and
 * TypeScript only: the Maven repository CI reaches does not serve cdk-nag 2.38.2).
 *
 * <pre>mvn compile exec:java [-Dexec.args="--outdir DIR"]</pre>
 */
public final class PipelineApp {
    private PipelineApp() {
    }

    public static void main(final String[] args) {
        // The CDK CLI passes its output directory in CDK_OUTDIR; run directly, the app writes ./cdk.out.
        String outdir = System.getenv().getOrDefault("CDK_OUTDIR", "cdk.out");
        if (args.length == 2 && args[0].equals("--outdir")) {
            outdir = args[1];
        } else if (args.length != 0) {
            System.err.println("usage: PipelineApp [--outdir DIR]");
            System.exit(2);
        }

        App app = new App(AppProps.builder().outdir(outdir).build());
        Stack stack = new Stack(app, "MedlaunchElt");

        AccreditationPipeline pipeline = AccreditationPipeline.Builder.create(stack, "Pipeline")
                .alarmEmails(List.of("data-oncall@example.com"))
                .rawPrefix("incoming/facilities/")
                .expiryMonths(3)
                .queryTimeout(Duration.minutes(5))
                // A disposable stack: buckets are emptied and deleted with it (the default is RETAIN).
                .removalPolicy(RemovalPolicy.DESTROY)
                .build();
        CfnOutput.Builder.create(stack, "DataBucketName").value(pipeline.getBucket().getBucketName()).build();
        CfnOutput.Builder.create(stack, "StateMachineArn").value(pipeline.getStateMachine().getStateMachineArn()).build();

        app.synth();
    }
}
