// Actors: long-lived runner processes with an address, for what must outlive a Lambda
// invocation: the job server itself, and executors for tasks over Lambda's limits (15 minutes,
// 10 GB). A host starts them somewhere: a child process here (LocalActorHost) or a Fargate task
// (FargateActorHost); the caller sees the same start / address / health / stop either way.

/** What to run: a `beam-lambda` command (`job-server`, `executor`) listening on `port`. */
export interface ActorSpec {
  command: "job-server" | "executor";
  /** Further arguments of the command (the host adds --host and --port). */
  args?: string[];
  port: number;
  env?: Record<string, string>;
}

export type ActorState = "starting" | "running" | "stopped";

export interface ActorHealth {
  state: ActorState;
  /** Why it stopped, or what it waits for. */
  detail?: string;
}

export interface Actor {
  readonly id: string;
  /** host:port once running; rejects if it stops first or does not come up within `timeoutMs`. */
  address(timeoutMs?: number): Promise<string>;
  health(): Promise<ActorHealth>;
  stop(reason?: string): Promise<void>;
}

export interface ActorHost {
  start(spec: ActorSpec): Promise<Actor>;
}

export class ActorFailedError extends Error {
  override name = "ActorFailedError";
}

/** Polls `health` until running, then returns `whenRunning()`. */
export async function waitUntilRunning(actor: Actor, whenRunning: () => Promise<string | undefined>, timeoutMs: number, pollMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = await actor.health();
    if (health.state === "stopped") throw new ActorFailedError(`actor ${actor.id} stopped before it was running: ${health.detail ?? "no reason given"}`);
    if (health.state === "running") {
      const address = await whenRunning();
      if (address) return address;
    }
    if (Date.now() > deadline) throw new ActorFailedError(`actor ${actor.id} was not running within ${timeoutMs} ms (${health.detail ?? health.state})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
