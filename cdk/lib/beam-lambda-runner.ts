// BeamLambdaRunner: everything the runner needs in one AWS account, as one construct.
// - RunnerStorage: the bucket (artifacts, shuffle data) and the SQS results queue with its DLQ;
// - the worker Lambda function, a container image with Node.js, Python and the pinned
//   apache-beam (cdk/docker/worker.Dockerfile), invoked asynchronously with no Lambda-side
//   retries and the results queue as its on-failure destination (the driver retries);
// - the job server as a Fargate service on gRPC port 8099 behind an internal Network Load
//   Balancer, and the task definition of Fargate executors for tasks over Lambda's limits;
// - least-privilege roles: each may touch only the runner's prefix, queues, function and tasks.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type CfnElement, CfnOutput, Duration, Size, Stack, Token, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecrAssets from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { RunnerStorage, type RunnerStorageProps } from "./runner-storage.js";

/** The repository: the Docker build context of both images. */
const SOURCE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** What the images never need: local installs, caches, outputs and tests. */
const BUILD_EXCLUDES = ["node_modules", ".venv", ".cache", ".git", "cdk.out", "build", "test", "bench", "**/*.log"];
export const JOB_SERVER_PORT = 8099;
/** The job UI's port on the job server (its default --ui-port). */
export const JOB_UI_PORT = 8098;

export interface WorkerFunctionProps {
  /** MB of memory (also buys CPU: 1,769 MB is one vCPU). Default 3008. */
  memorySize?: number;
  /** Default 15 minutes, Lambda's maximum: the driver's task timeout follows it. */
  timeout?: Duration;
  architecture?: lambda.Architecture;
  /** Invocations at once; the job server keeps its in-flight invocations at this. Default 100. */
  reservedConcurrency?: number;
  /** /tmp, where the shuffle spills. Default 10 GiB. */
  ephemeralStorageSize?: Size;
}

export interface FargateActorProps {
  cpu?: number;
  memoryLimitMiB?: number;
}

export interface BeamLambdaRunnerProps {
  storage?: RunnerStorageProps;
  worker?: WorkerFunctionProps;
  jobServer?: FargateActorProps;
  /** Fargate executors for stages over Lambda's limits. Default 4 vCPU, 16 GiB. */
  executor?: FargateActorProps;
  /** Default: a new VPC over 2 AZs with one NAT gateway and flow logs. */
  vpc?: ec2.IVpc;
  /** Days the log groups keep logs. Default one month. */
  logRetention?: logs.RetentionDays;
  /** The repository to build the images from (default: this one). */
  sourceDirectory?: string;
  /**
   * The base both images build FROM, their NODE_IMAGE build argument: Node.js 22 on Debian
   * bookworm. Default: the Dockerfiles' own, node:22-bookworm-slim from Docker Hub. Name a mirror
   * here (an ECR pull-through cache, a private registry) where Docker Hub is out of reach or
   * rate-limited; scripts/docker.sh passes a locally made one the same way.
   */
  nodeImage?: string;
}

export class BeamLambdaRunner extends Construct {
  readonly storage: RunnerStorage;
  readonly worker: lambda.DockerImageFunction;
  readonly cluster: ecs.Cluster;
  readonly jobServer: ecs.FargateService;
  readonly executorTask: ecs.FargateTaskDefinition;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  /** host:port of the Beam job endpoint, inside the VPC. */
  readonly jobEndpoint: string;

  constructor(scope: Construct, id: string, props: BeamLambdaRunnerProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const source = props.sourceDirectory ?? SOURCE_ROOT;
    const buildArgs = props.nodeImage ? { NODE_IMAGE: props.nodeImage } : undefined;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const logGroup = (name: string) => new logs.LogGroup(this, `${name}Logs`, { retention });
    this.storage = new RunnerStorage(this, "Storage", props.storage);
    const { storage } = this;

    // --- The worker function ---
    const architecture = props.worker?.architecture ?? lambda.Architecture.X86_64;
    const timeout = props.worker?.timeout ?? Duration.minutes(15);
    const reservedConcurrency = props.worker?.reservedConcurrency ?? 100;
    const workerRole = new iam.Role(this, "WorkerRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "beam-lambda worker: reads and writes the runner's prefix, reports to the results queue",
    });
    this.grantStore(workerRole);
    storage.resultsQueue.grantSendMessages(workerRole);
    const workerLogs = logGroup("Worker");
    workerLogs.grantWrite(workerRole);
    this.worker = new lambda.DockerImageFunction(this, "Worker", {
      code: lambda.DockerImageCode.fromImageAsset(source, {
        file: "cdk/docker/worker.Dockerfile",
        exclude: BUILD_EXCLUDES,
        buildArgs,
        platform: architecture === lambda.Architecture.ARM_64 ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64,
      }),
      architecture,
      memorySize: props.worker?.memorySize ?? 3008,
      timeout,
      ephemeralStorageSize: props.worker?.ephemeralStorageSize ?? Size.gibibytes(10),
      reservedConcurrentExecutions: reservedConcurrency,
      role: workerRole,
      logGroup: workerLogs,
      // JSON log lines, with job, stage, task and attempt ids as fields CloudWatch Logs Insights can query.
      environment: { BEAM_LAMBDA_STORE: storage.storeUrl, BEAM_LAMBDA_LOG_FORMAT: "json" },
      // The driver retries and speculates; Lambda only reports what it gave up on.
      retryAttempts: 0,
      onFailure: new SqsDestination(storage.resultsQueue),
    });

    // --- Network and cluster ---
    const vpc =
      props.vpc ??
      new ec2.Vpc(this, "Vpc", {
        maxAzs: 2,
        natGateways: 1,
        flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup("VpcFlow")), trafficType: ec2.FlowLogTrafficType.REJECT } },
      });
    this.cluster = new ecs.Cluster(this, "Cluster", { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const image = ecs.ContainerImage.fromAsset(source, { file: "cdk/docker/job-server.Dockerfile", exclude: BUILD_EXCLUDES, buildArgs, platform: ecrAssets.Platform.LINUX_AMD64 });

    // --- Fargate executors: the worker handler as a long-lived actor, for oversized tasks ---
    this.executorTask = new ecs.FargateTaskDefinition(this, "ExecutorTask", {
      cpu: props.executor?.cpu ?? 4096,
      memoryLimitMiB: props.executor?.memoryLimitMiB ?? 16384,
      ephemeralStorageGiB: 100,
    });
    this.grantStore(this.executorTask.taskRole);
    storage.resultsQueue.grantSendMessages(this.executorTask.taskRole);
    this.executorTask.addContainer("executor", {
      image,
      command: ["executor", "--host", "0.0.0.0", "--port", "8100"],
      portMappings: [{ containerPort: 8100 }],
      environment: { BEAM_LAMBDA_STORE: storage.storeUrl, BEAM_LAMBDA_LOG_FORMAT: "json" },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: "executor", logGroup: logGroup("Executor") }),
    });

    // --- The job server ---
    const jobServerTask = new ecs.FargateTaskDefinition(this, "JobServerTask", {
      cpu: props.jobServer?.cpu ?? 1024,
      memoryLimitMiB: props.jobServer?.memoryLimitMiB ?? 4096,
    });
    const jobServerRole = jobServerTask.taskRole;
    this.worker.grantInvoke(jobServerRole);
    this.grantStore(jobServerRole);
    jobServerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
        resources: [storage.resultsQueue.queueArn],
      }),
    );
    const tasksInCluster = stack.formatArn({ service: "ecs", resource: "task", resourceName: `${this.cluster.clusterName}/*` });
    jobServerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["ecs:RunTask"],
        resources: [this.executorTask.taskDefinitionArn],
        conditions: { ArnEquals: { "ecs:cluster": this.cluster.clusterArn } },
      }),
    );
    jobServerRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["ecs:DescribeTasks", "ecs:StopTask"], resources: [tasksInCluster] }));
    jobServerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["iam:PassRole"],
        resources: [this.executorTask.taskRole.roleArn, this.executorTask.obtainExecutionRole().roleArn],
      }),
    );
    const jobServerSecurityGroup = new ec2.SecurityGroup(this, "JobServerSecurityGroup", { vpc, description: "Beam job endpoint, from inside the VPC" });
    jobServerSecurityGroup.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(JOB_SERVER_PORT), "Beam job and artifact services");
    jobServerSecurityGroup.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(JOB_UI_PORT), "the job UI");
    const executorSecurityGroup = new ec2.SecurityGroup(this, "ExecutorSecurityGroup", { vpc, description: "Fargate executors, reached by the job server" });
    executorSecurityGroup.addIngressRule(jobServerSecurityGroup, ec2.Port.tcp(8100), "tasks from the job server");
    jobServerTask.addContainer("job-server", {
      image,
      // Only the VPC reaches the endpoint (its security group), and Beam's Python client cannot
      // send a bearer token: the stack serves it without one, as before.
      command: ["job-server", "--host", "0.0.0.0", "--port", String(JOB_SERVER_PORT), "--ui-port", String(JOB_UI_PORT), "--backend", "aws", "--allow-unauthenticated"],
      portMappings: [{ containerPort: JOB_SERVER_PORT }, { containerPort: JOB_UI_PORT }],
      environment: {
        BEAM_LAMBDA_LOG_FORMAT: "json",
        BEAM_LAMBDA_FUNCTION_NAME: this.worker.functionName,
        BEAM_LAMBDA_RESULTS_QUEUE_URL: storage.resultsQueue.queueUrl,
        BEAM_LAMBDA_STORE: storage.storeUrl,
        BEAM_LAMBDA_CONCURRENCY: String(reservedConcurrency),
        BEAM_LAMBDA_TASK_TIMEOUT_SECONDS: String(timeout.toSeconds()),
        BEAM_LAMBDA_EXECUTOR_CLUSTER: this.cluster.clusterArn,
        BEAM_LAMBDA_EXECUTOR_TASK_DEFINITION: this.executorTask.taskDefinitionArn,
        BEAM_LAMBDA_EXECUTOR_SUBNETS: vpc.privateSubnets.map((s) => s.subnetId).join(","),
        BEAM_LAMBDA_EXECUTOR_SECURITY_GROUP: executorSecurityGroup.securityGroupId,
      },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: "job-server", logGroup: logGroup("JobServer") }),
    });
    this.jobServer = new ecs.FargateService(this, "JobServer", {
      cluster: this.cluster,
      taskDefinition: jobServerTask,
      desiredCount: 1,
      // A new job server is up before the old one stops; a release that cannot start rolls back.
      minHealthyPercent: 100,
      circuitBreaker: { rollback: true },
      assignPublicIp: false,
      securityGroups: [jobServerSecurityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });
    const nlbSecurityGroup = new ec2.SecurityGroup(this, "LoadBalancerSecurityGroup", { vpc, description: "Beam job endpoint load balancer" });
    nlbSecurityGroup.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(JOB_SERVER_PORT), "Beam clients inside the VPC");
    nlbSecurityGroup.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(JOB_UI_PORT), "job UI browsers inside the VPC");
    jobServerSecurityGroup.addIngressRule(nlbSecurityGroup, ec2.Port.tcp(JOB_SERVER_PORT), "from the load balancer");
    jobServerSecurityGroup.addIngressRule(nlbSecurityGroup, ec2.Port.tcp(JOB_UI_PORT), "the job UI from the load balancer");
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, "JobEndpoint", { vpc, internetFacing: false, securityGroups: [nlbSecurityGroup] });
    this.loadBalancer
      .addListener("Grpc", { port: JOB_SERVER_PORT, protocol: elbv2.Protocol.TCP })
      .addTargets("JobServer", { port: JOB_SERVER_PORT, protocol: elbv2.Protocol.TCP, targets: [this.jobServer], healthCheck: { protocol: elbv2.Protocol.TCP } });
    this.jobEndpoint = `${this.loadBalancer.loadBalancerDnsName}:${JOB_SERVER_PORT}`;
    this.loadBalancer.addListener("JobUi", { port: JOB_UI_PORT, protocol: elbv2.Protocol.TCP }).addTargets("JobServerUi", {
      port: JOB_UI_PORT,
      protocol: elbv2.Protocol.TCP,
      targets: [this.jobServer.loadBalancerTarget({ containerName: "job-server", containerPort: JOB_UI_PORT })],
      healthCheck: { protocol: elbv2.Protocol.TCP },
    });

    new CfnOutput(this, "JobEndpointOutput", { key: "JobEndpoint", value: this.jobEndpoint, description: "--job_endpoint for Beam pipelines (inside the VPC)" });
    new CfnOutput(this, "JobUiOutput", { key: "JobUi", value: `http://${this.loadBalancer.loadBalancerDnsName}:${JOB_UI_PORT}`, description: "the job UI (inside the VPC)" });
    new CfnOutput(this, "BucketOutput", { key: "Bucket", value: storage.bucket.bucketName });
    new CfnOutput(this, "ResultsQueueOutput", { key: "ResultsQueueUrl", value: storage.resultsQueue.queueUrl });
    new CfnOutput(this, "WorkerFunctionOutput", { key: "WorkerFunction", value: this.worker.functionName });
    this.suppressReviewedFindings(jobServerTask, [jobServerSecurityGroup, nlbSecurityGroup, executorSecurityGroup], workerRole);
  }

  /** Object read/write under the store's prefix, and listing of that prefix only. */
  private grantStore(role: iam.IRole): void {
    const { storage } = this;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], resources: [storage.objectArns] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [storage.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${storage.prefix}*`] } },
      }),
    );
  }

  /**
   * cdk-nag (AwsSolutions) findings reviewed and accepted, each on the narrowest construct and,
   * for wildcard resources, for that one resource pattern only.
   */
  private suppressReviewedFindings(jobServerTask: ecs.FargateTaskDefinition, securityGroups: ec2.SecurityGroup[], workerRole: iam.Role): void {
    const stack = Stack.of(this);
    // How cdk-nag prints a pseudo parameter: the value when the stack's env names it, else <Name>.
    const concrete = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<${pseudo}>` : value);
    const logicalId = (c: Construct) => stack.resolve(stack.getLogicalId(c.node.defaultChild as CfnElement)) as string;
    const storeObjects = `AwsSolutions-IAM5[Resource::<${logicalId(this.storage.bucket)}.Arn>/${this.storage.prefix}*]`;
    for (const role of [workerRole, this.executorTask.taskRole, jobServerTask.taskRole]) {
      Validations.of(role).acknowledge({
        id: storeObjects,
        reason: "Object keys are made per job under the runner's prefix; access is granted on that prefix and nothing wider.",
      });
    }
    Validations.of(jobServerTask.taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalId(this.worker)}.Arn>:*]`,
      reason: "Invoking the worker function's own versions and aliases (what Function.grantInvoke grants); no other function.",
    });
    Validations.of(jobServerTask.taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:${concrete(stack.region, "AWS::Region")}:${concrete(stack.account, "AWS::AccountId")}:task/<${logicalId(this.cluster)}>/*]`,
      reason: "Fargate executor task ids are assigned by RunTask; DescribeTasks and StopTask are limited to this cluster's tasks.",
    });
    for (const task of [jobServerTask, this.executorTask]) {
      Validations.of(task.obtainExecutionRole()).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason: "ecr:GetAuthorizationToken, which ECS needs to pull the image, has no resource-level permissions.",
      });
      Validations.of(task).acknowledge({
        id: "AwsSolutions-ECS2",
        reason: "The variables are non-secret configuration (function name, queue URL, bucket, subnets); access comes from the task role, never from values.",
      });
    }
    for (const group of securityGroups) {
      Validations.of(group).acknowledge({
        id: "AwsSolutions-EC23",
        reason: "Ingress is the VPC's own CIDR block (or another of the runner's security groups); the rule cannot read the CIDR because it is a token at synth.",
      });
    }
    Validations.of(this.loadBalancer).acknowledge({
      id: "AwsSolutions-ELB2",
      reason: "Network Load Balancers write access logs only for TLS listeners; the job endpoint is a plain TCP (gRPC) listener inside the VPC.",
    });
  }
}
