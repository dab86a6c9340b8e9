// The Fargate actor host's ECS calls against moto's server (moto/start.sh; npm test starts it):
// RunTask with the command overridden, DescribeTasks for health and the task's private address,
// StopTask. moto does not run containers, so what is checked is the API conversation.
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client, ModifyVpcAttributeCommand } from "@aws-sdk/client-ec2";
import { CreateClusterCommand, DescribeTasksCommand, ECSClient, RegisterTaskDefinitionCommand } from "@aws-sdk/client-ecs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorFailedError } from "../../src/actors/actor.js";
import { FargateActorHost } from "../../src/actors/fargate-actor-host.js";

const MOTO = process.env.MOTO_ENDPOINT ?? "http://127.0.0.1:5005";
const clientConfig = { endpoint: MOTO, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
const ecs = new ECSClient(clientConfig);

let host: FargateActorHost;
let cluster: string;
let taskDefinition: string;

beforeAll(async () => {
  const ec2 = new EC2Client(clientConfig);
  let vpcId: string;
  try {
    vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.20.0.0/16" }))).Vpc!.VpcId!;
  } catch (e) {
    throw new Error(`moto is not reachable at ${MOTO} (start it with moto/start.sh; npm test does): ${(e as Error).message}`, { cause: e });
  }
  // moto advances a task's state on every read by default; a real task stays RUNNING until stopped.
  const transition = await fetch(`${MOTO}/moto-api/state-manager/set-transition`, {
    method: "POST",
    body: JSON.stringify({ model_name: "ecs::task", transition: { progression: "manual", times: 1_000_000 } }),
  });
  expect(transition.ok).toBe(true);
  // As in the VPC the CDK stack creates (moto's ECS needs it to name the task's ENI).
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.20.1.0/24" }))).Subnet!.SubnetId!;
  const group = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: `executors-${Date.now()}`, Description: "executors" }))).GroupId!;
  cluster = (await ecs.send(new CreateClusterCommand({ clusterName: `beam-lambda-${Date.now()}` }))).cluster!.clusterArn!;
  taskDefinition = (
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "beam-lambda-executor",
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "4096",
        memory: "16384",
        // moto sums container-level memory (a task-level figure alone makes its RunTask fail).
        containerDefinitions: [{ name: "executor", image: "beam-lambda-runner:test", essential: true, cpu: 4096, memory: 16384, portMappings: [{ containerPort: 8100 }] }],
      }),
    )
  ).taskDefinition!.taskDefinitionArn!;
  host = new FargateActorHost({ cluster, taskDefinition, containerName: "executor", subnets: [subnet], securityGroups: [group], ecs, pollMs: 50 });
});

afterAll(async () => {
  await fetch(`${MOTO}/moto-api/state-manager/unset-transition`, { method: "POST", body: JSON.stringify({ model_name: "ecs::task" }) });
});

describe("Fargate actor host (moto ECS)", () => {
  it("runs the task with the command overridden, reports it running at its private address, and stops it", async () => {
    const actor = await host.start({ command: "executor", args: ["--store", "s3://b/p"], port: 8100, env: { BEAM_LAMBDA_STORE: "s3://b/p" } });
    expect(actor.id).toMatch(/^arn:aws:ecs:us-east-1:\d+:task\//);
    const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [actor.id] }));
    const task = tasks![0]!;
    expect(task.taskDefinitionArn).toBe(taskDefinition);
    expect(task.launchType).toBe("FARGATE");
    expect(task.startedBy).toBe("beam-lambda-executor");
    expect(task.overrides?.containerOverrides?.[0]).toMatchObject({
      name: "executor",
      command: ["executor", "--store", "s3://b/p", "--host", "0.0.0.0", "--port", "8100"],
      environment: [{ name: "BEAM_LAMBDA_STORE", value: "s3://b/p" }],
    });
    expect(await actor.health()).toEqual({ state: "running" });
    const eniAddress = task.attachments?.[0]?.details?.find((d) => d.name === "privateIPv4Address")?.value;
    expect(eniAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await actor.address(5000)).toBe(`${eniAddress}:8100`);
    await actor.stop("test over");
    const health = await actor.health();
    expect(health.state).toBe("stopped");
    expect(health.detail).toContain("test over");
    await expect(actor.address(1000)).rejects.toThrow(ActorFailedError);
  });

  it("names the task definition and the reason when RunTask starts nothing", async () => {
    const broken = new FargateActorHost({ ...host.options, cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/missing" });
    await expect(broken.start({ command: "executor", port: 8100 })).rejects.toThrow(/missing|not found|Cluster/i);
  });
});
