// The CDK app, synthesized with cdk-nag's AwsSolutions pack as a validation plugin (synthesis
// fails on any finding not acknowledged with a reason), and its resources checked with
// aws-cdk-lib/assertions. No AWS account and no Docker: image assets are only staged at synth.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { App, Stack, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { BeamLambdaRunnerStack, JOB_SERVER_PORT, JOB_UI_PORT, RunnerStorageStack } from "../../cdk/index.js";

const run = promisify(execFile);

function synthesized(): { app: App; runner: Template; storage: Template } {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const runnerStack = new BeamLambdaRunnerStack(app, "Runner", { runner: { worker: { reservedConcurrency: 50 } } });
  const storageStack = new RunnerStorageStack(app, "Storage");
  app.synth();
  return { app, runner: Template.fromStack(runnerStack), storage: Template.fromStack(storageStack) };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function statements(template: Template): { policy: string; statement: Statement }[] {
  return Object.entries(template.findResources("AWS::IAM::Policy")).flatMap(([policy, r]) =>
    ((r as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement).map((statement) => ({ policy, statement })),
  );
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe("the CDK app", () => {
  const { runner, storage } = synthesized();

  it("synthesizes with cdk-nag's AwsSolutions pack and no unacknowledged finding", () => {
    // synthesized() would have thrown otherwise; this is the control that the pack does run.
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, "Careless");
    new s3.Bucket(stack, "Open", { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL });
    expect(() => app.synth()).toThrow(/AwsSolutions-S1|AwsSolutions-S10/);
  });

  it("`npx cdk synth` runs (cdk.json's app, both stacks) and builds its images from exactly cdk/docker's Dockerfiles", async () => {
    const out = mkdtempSync(join(tmpdir(), "cdk-out-"));
    const synth = (...extra: string[]) =>
      run("npx", ["cdk", "synth", "--quiet", "--no-notices", "--output", out, ...extra], {
        env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: "true" },
        maxBuffer: 64 << 20,
      });
    const { stdout, stderr } = await synth();
    expect(stdout + stderr).toContain("Successfully synthesized");
    for (const stack of ["BeamLambdaRunner", "BeamLambdaRunnerStorage"]) {
      const template = JSON.parse(readFileSync(join(out, `${stack}.template.json`), "utf8")) as { Resources: Record<string, unknown> };
      expect(Object.keys(template.Resources).length).toBeGreaterThan(5);
    }
    type Images = Record<string, { source: { directory: string; dockerFile: string; dockerBuildArgs?: Record<string, string> } }>;
    const images = () => Object.values((JSON.parse(readFileSync(join(out, "BeamLambdaRunner.assets.json"), "utf8")) as { dockerImages: Images }).dockerImages);
    // The two images scripts/docker.sh builds and tests, from the same files: no second recipe.
    expect(images().map((i) => i.source.dockerFile).sort()).toEqual(["cdk/docker/job-server.Dockerfile", "cdk/docker/worker.Dockerfile"]);
    for (const { source } of images()) {
      expect(readFileSync(join(out, source.directory, source.dockerFile), "utf8")).toBe(readFileSync(source.dockerFile, "utf8"));
      expect(source.dockerBuildArgs).toBeUndefined();
    }
    // A mirror of the base, as a user behind Docker Hub's limits names it, reaches both builds.
    await synth("-c", "nodeImage=123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/node:22-bookworm-slim");
    expect(images().map((i) => i.source.dockerBuildArgs?.NODE_IMAGE)).toEqual([
      "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/node:22-bookworm-slim",
      "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/node:22-bookworm-slim",
    ]);
  });

  it("encrypts and closes the bucket, requires TLS, and expires scratch data", () => {
    for (const template of [runner, storage]) {
      template.hasResourceProperties("AWS::S3::Bucket", {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: "runner-bucket/" }),
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: "Enabled" }),
            Match.objectLike({ Prefix: "runner/0/jobs/", ExpirationInDays: 2 }),
            Match.objectLike({ Prefix: "runner/7/jobs/", ExpirationInDays: 2 }),
            Match.objectLike({ Prefix: "runner/7/artifacts/", ExpirationInDays: 30 }),
          ]),
        },
      });
      const policies = Object.values(template.findResources("AWS::S3::BucketPolicy"));
      expect(policies.length).toBe(2);
      for (const p of policies) {
        expect(JSON.stringify(p)).toContain('"aws:SecureTransport":"false"');
      }
    }
  });

  it("has a results queue with a dead-letter queue, both encrypted and TLS-only", () => {
    storage.resourceCountIs("AWS::SQS::Queue", 2);
    storage.hasResourceProperties("AWS::SQS::Queue", {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [Match.stringLikeRegexp("DeadLetterQueue"), "Arn"] }, maxReceiveCount: 5 },
    });
    const queuePolicies = Object.values(storage.findResources("AWS::SQS::QueuePolicy"));
    expect(queuePolicies.length).toBe(2);
    for (const p of queuePolicies) expect(JSON.stringify(p)).toContain('"aws:SecureTransport":"false"');
  });

  it("runs the worker as a container-image function with no Lambda retries and the results queue as on-failure destination", () => {
    runner.hasResourceProperties("AWS::Lambda::Function", {
      PackageType: "Image",
      Timeout: 900,
      MemorySize: 3008,
      ReservedConcurrentExecutions: 50,
      EphemeralStorage: { Size: 10240 },
      Architectures: ["x86_64"],
      Environment: { Variables: { BEAM_LAMBDA_STORE: Match.anyValue(), BEAM_LAMBDA_LOG_FORMAT: "json" } },
    });
    runner.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [Match.stringLikeRegexp("ResultsQueue"), "Arn"] } } },
    });
  });

  it("serves the job endpoint from Fargate behind an internal Network Load Balancer, with expiring logs", () => {
    runner.hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", { Type: "network", Scheme: "internal" });
    runner.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", { Port: JOB_SERVER_PORT, Protocol: "TCP" });
    // The job UI beside it, on its own listener and target group.
    runner.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", { Port: JOB_UI_PORT, Protocol: "TCP" });
    runner.hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", { Port: JOB_UI_PORT, Protocol: "TCP" });
    expect(Object.keys(runner.findOutputs("*")).filter((id) => id.includes("JobUi"))).toHaveLength(1);
    runner.hasResourceProperties("AWS::ECS::Service", {
      LaunchType: "FARGATE",
      DesiredCount: 1,
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: "DISABLED" }) },
    });
    runner.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [
        Match.objectLike({
          Name: "job-server",
          Command: Match.arrayWith(["--ui-port", String(JOB_UI_PORT)]),
          PortMappings: [Match.objectLike({ ContainerPort: JOB_SERVER_PORT }), Match.objectLike({ ContainerPort: JOB_UI_PORT })],
        }),
      ],
    });
    runner.hasResourceProperties("AWS::ECS::TaskDefinition", { ContainerDefinitions: [Match.objectLike({ Name: "executor" })] });
    const logGroups = Object.values(runner.findResources("AWS::Logs::LogGroup"));
    expect(logGroups.length).toBeGreaterThanOrEqual(4);
    for (const g of logGroups) expect((g as { Properties: { RetentionInDays?: number } }).Properties.RetentionInDays).toBe(30);
    runner.hasResourceProperties("AWS::ECS::Cluster", { ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }] });
  });

  it("grants no wildcard action, and Resource '*' only where the API has no resource-level permission", () => {
    const all = statements(runner);
    expect(all.length).toBeGreaterThan(0);
    for (const { policy, statement } of all) {
      for (const action of actionsOf(statement)) expect(action, `${policy}: ${action}`).not.toMatch(/\*/);
      if (statement.Resource === "*") {
        // ECR's token and X-Ray/EC2 describes have no resource-level permissions.
        for (const action of actionsOf(statement)) expect(["ecr:GetAuthorizationToken"], `${policy}: ${action} on *`).toContain(action);
      }
    }
  });

  it("lets the job server invoke only the worker, touch only the runner's prefix and queue, and run only the executor task", () => {
    const jobServer = statements(runner).filter(({ policy }) => /JobServerTaskTaskRole/.test(policy)).map(({ statement }) => statement);
    const byAction = (action: string) => jobServer.filter((s) => actionsOf(s).includes(action));
    expect(JSON.stringify(byAction("lambda:InvokeFunction"))).toMatch(/Worker[0-9A-F]+","Arn"/);
    expect(JSON.stringify(byAction("s3:PutObject"))).toContain("/runner/*");
    expect(JSON.stringify(byAction("s3:ListBucket"))).toContain('"s3:prefix":["runner/*"]');
    expect(JSON.stringify(byAction("sqs:ReceiveMessage"))).toMatch(/ResultsQueue[0-9A-F]+","Arn"/);
    const runTask = byAction("ecs:RunTask");
    expect(runTask.length).toBe(1);
    expect(JSON.stringify(runTask[0]!.Resource)).toMatch(/ExecutorTask/);
    expect(runTask[0]!.Condition).toBeDefined();
    const passRole = byAction("iam:PassRole");
    expect(passRole.length).toBe(1);
    expect(JSON.stringify(passRole[0]!.Resource)).toMatch(/ExecutorTask(Task|Execution)Role/);
    // The worker may send to the results queue, and never receive from it or invoke functions.
    const worker = statements(runner).filter(({ policy }) => /WorkerRole/.test(policy)).flatMap(({ statement }) => actionsOf(statement));
    expect(worker).toContain("sqs:SendMessage");
    expect(worker).not.toContain("sqs:ReceiveMessage");
    expect(worker.some((a) => a.startsWith("lambda:") || a.startsWith("ecs:"))).toBe(false);
  });
});
