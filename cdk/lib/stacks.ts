// The deployable stacks: the whole runner, and its storage alone (what LocalStack community can
// deploy: it has no Lambda or ECS without Docker).
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { BeamLambdaRunner, type BeamLambdaRunnerProps } from "./beam-lambda-runner.js";
import { RunnerStorage, type RunnerStorageProps } from "./runner-storage.js";

export class BeamLambdaRunnerStack extends Stack {
  readonly runner: BeamLambdaRunner;

  constructor(scope: Construct, id: string, props: StackProps & { runner?: BeamLambdaRunnerProps } = {}) {
    super(scope, id, props);
    this.runner = new BeamLambdaRunner(this, "Runner", props.runner);
  }
}

export class RunnerStorageStack extends Stack {
  readonly storage: RunnerStorage;

  constructor(scope: Construct, id: string, props: StackProps & { storage?: RunnerStorageProps } = {}) {
    super(scope, id, props);
    this.storage = new RunnerStorage(this, "Storage", props.storage);
    new CfnOutput(this, "Bucket", { value: this.storage.bucket.bucketName });
    new CfnOutput(this, "StoreUrl", { value: this.storage.storeUrl, description: "--store for beam-lambda job-server --backend aws" });
    new CfnOutput(this, "ResultsQueueUrl", { value: this.storage.resultsQueue.queueUrl });
    new CfnOutput(this, "DeadLetterQueueUrl", { value: this.storage.deadLetterQueue.queueUrl });
  }
}
