// Actors as Fargate tasks: RunTask of the runner's task definition with the command overridden,
// DescribeTasks for health and the task's private address, StopTask to stop. The task
// definition, cluster, subnets and security group come from the CDK stack (BeamLambdaRunner
// passes them to the job server as BEAM_LAMBDA_EXECUTOR_*).
import { DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand, type Task } from "@aws-sdk/client-ecs";
import { type Actor, ActorFailedError, type ActorHealth, type ActorHost, type ActorSpec, waitUntilRunning } from "./actor.js";

export interface FargateActorHostOptions {
  cluster: string;
  taskDefinition: string;
  /** The container whose command is overridden. */
  containerName: string;
  subnets: string[];
  securityGroups: string[];
  ecs?: ECSClient;
  /** Poll interval while a task starts (Fargate takes tens of seconds). */
  pollMs?: number;
}

const STARTING = new Set(["PROVISIONING", "PENDING", "ACTIVATING"]);

class FargateActor implements Actor {
  constructor(
    readonly id: string,
    private readonly port: number,
    private readonly host: FargateActorHost,
  ) {}

  private async describe(): Promise<Task | undefined> {
    const { tasks } = await this.host.ecs.send(new DescribeTasksCommand({ cluster: this.host.options.cluster, tasks: [this.id] }));
    return tasks?.[0];
  }

  async health(): Promise<ActorHealth> {
    const task = await this.describe();
    if (!task) return { state: "stopped", detail: "ECS does not know the task" };
    const status = task.lastStatus ?? "UNKNOWN";
    if (status === "RUNNING") return { state: "running" };
    if (STARTING.has(status)) return { state: "starting", detail: status };
    return { state: "stopped", detail: `${status}${task.stoppedReason ? `: ${task.stoppedReason}` : ""}` };
  }

  address(timeoutMs = 300_000): Promise<string> {
    return waitUntilRunning(
      this,
      async () => {
        const task = await this.describe();
        const ip = task?.attachments
          ?.find((a) => a.type === "ElasticNetworkInterface")
          ?.details?.find((d) => d.name === "privateIPv4Address")?.value;
        return ip ? `${ip}:${this.port}` : undefined;
      },
      timeoutMs,
      this.host.options.pollMs ?? 2000,
    );
  }

  async stop(reason = "stopped by beam-lambda"): Promise<void> {
    await this.host.ecs.send(new StopTaskCommand({ cluster: this.host.options.cluster, task: this.id, reason }));
  }
}

export class FargateActorHost implements ActorHost {
  readonly ecs: ECSClient;

  constructor(readonly options: FargateActorHostOptions) {
    this.ecs = options.ecs ?? new ECSClient({});
  }

  async start(spec: ActorSpec): Promise<Actor> {
    const { cluster, taskDefinition, containerName, subnets, securityGroups } = this.options;
    const response = await this.ecs.send(
      new RunTaskCommand({
        cluster,
        taskDefinition,
        launchType: "FARGATE",
        count: 1,
        startedBy: `beam-lambda-${spec.command}`,
        networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups, assignPublicIp: "DISABLED" } },
        overrides: {
          containerOverrides: [
            {
              name: containerName,
              command: [spec.command, ...(spec.args ?? []), "--host", "0.0.0.0", "--port", String(spec.port)],
              environment: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
            },
          ],
        },
      }),
    );
    const task = response.tasks?.[0];
    if (!task?.taskArn) {
      const why = (response.failures ?? []).map((f) => `${f.arn ?? ""} ${f.reason ?? ""} ${f.detail ?? ""}`.trim()).join("; ");
      throw new ActorFailedError(`RunTask of ${taskDefinition} in ${cluster} started no task: ${why || "no reason given"}`);
    }
    return new FargateActor(task.taskArn, spec.port, this);
  }
}
