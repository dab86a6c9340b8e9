// The CDK app behind `npx cdk deploy` (cdk.json): the whole runner as one stack, checked by
// cdk-nag's AwsSolutions rules at synth. `BeamLambdaRunnerStorage` is the bucket-and-queue part
// alone (deployed to LocalStack in the tests).
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { BeamLambdaRunnerStack, RunnerStorageStack } from "../lib/stacks.js";

const app = new App();
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
// `-c nodeImage=REGISTRY/node:22-bookworm-slim`: the images' base from a mirror instead of Docker Hub.
const nodeImage = app.node.tryGetContext("nodeImage") as string | undefined;
new BeamLambdaRunnerStack(app, "BeamLambdaRunner", {
  env,
  description: "beam-lambda-runner: a serverless Apache Beam runner",
  ...(nodeImage && { runner: { nodeImage } }),
});
new RunnerStorageStack(app, "BeamLambdaRunnerStorage", { env, description: "beam-lambda-runner storage only (bucket, results queue, DLQ)" });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
