// Actors as child processes of this one: `beam-lambda <command> --host 127.0.0.1 --port P`.
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { portOpen } from "../common/net.js";
import { userCodeEnv } from "../common/worker-env.js";
import { type Actor, type ActorHealth, type ActorHost, type ActorSpec, waitUntilRunning } from "./actor.js";

const CLI = join(resolve(fileURLToPath(new URL("../..", import.meta.url))), "bin", "beam-lambda.js");

class LocalActor implements Actor {
  private readonly stderr: string[] = [];
  private readonly exited: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
  ) {
    child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr.push(chunk.toString());
      if (this.stderr.length > 100) this.stderr.shift();
    });
    this.exited = new Promise((r) => child.once("exit", () => r()));
  }

  get id(): string {
    return `local-${this.child.pid}`;
  }

  /** The process id, for tests and operators. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  async health(): Promise<ActorHealth> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      const tail = this.stderr.join("").trim().split("\n").slice(-5).join("\n");
      return { state: "stopped", detail: `exited (code ${this.child.exitCode}, signal ${this.child.signalCode})${tail ? `: ${tail}` : ""}` };
    }
    return (await portOpen(this.port)) ? { state: "running" } : { state: "starting", detail: `waiting for port ${this.port}` };
  }

  address(timeoutMs = 60_000): Promise<string> {
    return waitUntilRunning(this, async () => `127.0.0.1:${this.port}`, timeoutMs, 100);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const killLater = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(killLater);
  }
}

export class LocalActorHost implements ActorHost {
  async start(spec: ActorSpec): Promise<LocalActor> {
    const child = spawn(process.execPath, [CLI, spec.command, ...(spec.args ?? []), "--host", "127.0.0.1", "--port", String(spec.port)], {
      env: { ...userCodeEnv(process.env), ...spec.env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    return new LocalActor(child, spec.port);
  }
}
