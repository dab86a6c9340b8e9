// ExecutorBackend against a fake ActorHost: each actor is a small HTTP server in this process
// that answers /invoke like an executor, except for tasks of the job named "stuck", which it
// never answers (user code that hangs). A real executor cannot be made to hang on cue.
import { type Server, createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { Actor, ActorHealth, ActorHost, ActorSpec } from "../../src/actors/actor.js";
import { TASK_SPEC_VERSION, type MergeTaskSpec, type TaskResult } from "../../src/common/task-spec.js";
import { ExecutorBackend } from "../../src/backends/executor-backend.js";

class FakeExecutor implements Actor {
  readonly id: string;
  stopped = false;
  /** Resolves when the actor has received its first task. */
  readonly received: Promise<void>;
  private onReceived!: () => void;

  constructor(
    private readonly server: Server,
    private readonly port: number,
  ) {
    this.id = `fake-${port}`;
    this.received = new Promise((resolve) => (this.onReceived = resolve));
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.onReceived();
        const spec = JSON.parse(Buffer.concat(chunks).toString("utf8")) as MergeTaskSpec;
        if (spec.jobId === "stuck") return;
        const result: TaskResult = { ok: true, outputs: [], monitoringInfos: [], workerPid: port };
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(result));
      });
    });
  }

  async address(): Promise<string> {
    return `127.0.0.1:${this.port}`;
  }

  async health(): Promise<ActorHealth> {
    return { state: this.stopped ? "stopped" : "running" };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

class FakeActorHost implements ActorHost {
  readonly started: FakeExecutor[] = [];

  async start(_spec: ActorSpec): Promise<FakeExecutor> {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
    const actor = new FakeExecutor(server, port);
    this.started.push(actor);
    return actor;
  }
}

function task(jobId: string): MergeTaskSpec {
  return { version: TASK_SPEC_VERSION, kind: "merge", jobId, stageId: "s0", stageName: "merge", taskIndex: 0, attempt: 0, materializationId: "m", inputs: [], outputKey: `jobs/${jobId}/merged` };
}

/** The attempt's result, or "still running" if it has none within `ms`. */
function within(attempt: Promise<TaskResult>, ms: number): Promise<TaskResult | "still running"> {
  return Promise.race([attempt, new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), ms))]);
}

let backend: ExecutorBackend | undefined;

afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

describe("ExecutorBackend.cancelJob", () => {
  it("when a job is cancelled while its attempt runs on an executor, it fails the attempt at once and stops that executor", async () => {
    const host = new FakeActorHost();
    backend = new ExecutorBackend({ host, executors: 1, env: {} });
    const attempt = backend.invoke(task("stuck"));
    while (host.started.length === 0) await new Promise((r) => setTimeout(r, 10));
    await host.started[0]!.received;

    backend.cancelJob("stuck");

    expect(await within(attempt, 2000)).toEqual({ ok: false, retryable: false, workerPid: 0, error: "job stuck was cancelled" });
    expect(host.started[0]!.stopped).toBe(true);
  });

  it("after a cancel, the next job's attempt runs on a fresh executor", async () => {
    const host = new FakeActorHost();
    backend = new ExecutorBackend({ host, executors: 1, env: {} });
    const stuck = backend.invoke(task("stuck"));
    while (host.started.length === 0) await new Promise((r) => setTimeout(r, 10));
    await host.started[0]!.received;
    const waiting = backend.invoke(task("other"));

    backend.cancelJob("stuck");

    await within(stuck, 2000);
    const result = await within(waiting, 5000);
    expect(result).toMatchObject({ ok: true });
    expect(host.started.length).toBe(2);
    expect(backend.stats.executorsStarted).toBe(2);
  });

  it("drops the job's queued attempts and leaves other jobs' running attempts alone", async () => {
    const host = new FakeActorHost();
    backend = new ExecutorBackend({ host, executors: 1, env: {} });
    const running = backend.invoke(task("stuck"));
    while (host.started.length === 0) await new Promise((r) => setTimeout(r, 10));
    await host.started[0]!.received;
    const queued = backend.invoke(task("cancelled"));

    backend.cancelJob("cancelled");

    expect(await within(queued, 1000)).toEqual({ ok: false, retryable: false, workerPid: 0, error: "job cancelled was cancelled" });
    expect(await within(running, 200)).toBe("still running");
    expect(host.started[0]!.stopped).toBe(false);
  });
});
