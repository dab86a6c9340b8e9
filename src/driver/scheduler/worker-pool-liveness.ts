// How long each SDK worker pool (LOOPBACK / EXTERNAL environment) of one job has been out of
// reach. A LOOPBACK pool lives in the submitting client's process: once that process has exited,
// every attempt fails at once as an infrastructure loss, and retrying them for the whole loss
// budget would only keep the job RUNNING (and its slots taken) for minutes. A pool that no
// attempt has reached for `timeoutMs` is gone, and the job fails saying so.
import { WorkerPoolGoneError } from "./errors.js";

export class WorkerPoolLiveness {
  /** By pool address: when an attempt first failed to reach it, since one last did. */
  private readonly unreachableSince = new Map<string, number>();

  constructor(private readonly timeoutMs: number) {}

  /** An attempt could not reach the pool at `address`: the error to fail the job with once it has been out of reach too long. */
  unreachable(address: string, now = Date.now()): WorkerPoolGoneError | undefined {
    const since = this.unreachableSince.get(address) ?? now;
    this.unreachableSince.set(address, since);
    return now - since >= this.timeoutMs ? new WorkerPoolGoneError(address, now - since) : undefined;
  }

  /** An attempt in the pool's environment succeeded: the pool is there. */
  reached(address: string): void {
    this.unreachableSince.delete(address);
  }
}
