// The construct library: embed the runner in your own CDK app.
export { BeamLambdaRunner, type BeamLambdaRunnerProps, type FargateActorProps, type WorkerFunctionProps, JOB_SERVER_PORT, JOB_UI_PORT } from "./lib/beam-lambda-runner.js";
export { RunnerStorage, type RunnerStorageProps } from "./lib/runner-storage.js";
export { BeamLambdaRunnerStack, RunnerStorageStack } from "./lib/stacks.js";
