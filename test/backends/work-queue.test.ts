// The invariants every backend gets from WorkQueue: the limit and order, per-job cancel, close.
import { describe, expect, it } from "vitest";
import { WorkQueue, type WorkQueueOptions } from "../../src/backends/work-queue.js";

interface Work {
  job: string;
  name: string;
}

/** A queue whose started work finishes when the test says; records what it was asked to do. */
function queueOf(limit: number, options: Partial<WorkQueueOptions<Work, string>> = {}) {
  const started: string[] = [];
  const stoppedJobs: string[] = [];
  const finishers = new Map<string, (outcome: string) => void>();
  const queue = new WorkQueue<Work, string>({
    owner: "the test backend",
    limit,
    jobOf: (work) => work.job,
    start: (work) => {
      started.push(work.name);
      return new Promise((resolve) => finishers.set(work.name, resolve));
    },
    stopJob: (job) => stoppedJobs.push(job),
    failure: (error) => `failed: ${error}`,
    ...options,
  });
  const finish = (name: string) => finishers.get(name)!(`${name} done`);
  return { queue, started, stoppedJobs, finish };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("WorkQueue", () => {
  it("runs at most `limit` pieces of work at once, and the next waiting one when one finishes", async () => {
    const { queue, started, finish } = queueOf(2);
    const outcomes = ["a", "b", "c"].map((name) => queue.submit({ job: "j", name }));
    expect(started).toEqual(["a", "b"]);

    finish("b");
    await settled();

    expect(started).toEqual(["a", "b", "c"]);
    expect(await outcomes[1]).toBe("b done");
  });

  it("tells the submitter when its work leaves the line and starts, not before", async () => {
    const { queue, finish } = queueOf(1);
    const told: string[] = [];
    for (const name of ["a", "b"]) void queue.submit({ job: "j", name }, () => told.push(name));
    expect(told).toEqual(["a"]);

    finish("a");
    await settled();

    expect(told).toEqual(["a", "b"]);
  });

  it("puts work that goes first at the front of the line", async () => {
    const fifo = queueOf(1);
    const ordered = queueOf(1, { goesFirst: (work) => work.name.startsWith("retry") });
    for (const { queue } of [fifo, ordered]) for (const name of ["first", "second", "retry"]) void queue.submit({ job: "j", name });

    fifo.finish("first");
    ordered.finish("first");
    await settled();

    expect(fifo.started).toEqual(["first", "second"]);
    expect(ordered.started).toEqual(["first", "retry"]);
  });

  it("gives a free slot to the job running the fewest, so a one-task job does not wait behind a 200-task job", async () => {
    const { queue, started, finish } = queueOf(2);
    for (let i = 0; i < 200; i++) void queue.submit({ job: "big", name: `big-${i}` });
    const small = queue.submit({ job: "small", name: "small" });
    expect(started).toEqual(["big-0", "big-1"]);

    finish("big-0");
    await settled();

    // FIFO would have started big-2 (and 197 more before it).
    expect(started).toEqual(["big-0", "big-1", "small"]);
    finish("small");
    expect(await small).toBe("small done");
  });

  it("takes turns between jobs that run as many pieces", async () => {
    const { queue, started, finish } = queueOf(1);
    void queue.submit({ job: "z", name: "z" });
    for (const job of ["a", "b", "c"]) for (let i = 0; i < 2; i++) void queue.submit({ job, name: `${job}${i}` });

    for (const name of ["z", "a0", "b0", "c0", "a1", "b1"]) {
      finish(name);
      await settled();
    }

    // FIFO would have run a0 a1 b0 b1 c0 c1.
    expect(started).toEqual(["z", "a0", "b0", "c0", "a1", "b1", "c1"]);
  });

  it("when the owner has no free slot, the work waits until the owner pumps", async () => {
    let freeSlots = 0;
    const started: string[] = [];
    const { queue } = queueOf(4, {
      start: (work) => {
        if (freeSlots === 0) return undefined;
        freeSlots--;
        started.push(work.name);
        return new Promise(() => undefined);
      },
    });
    void queue.submit({ job: "j", name: "a" });
    expect(started).toEqual([]);

    freeSlots = 1;
    queue.pump();

    expect(started).toEqual(["a"]);
  });

  it("when a job is cancelled, it fails the job's waiting and running work at once, asks the owner to stop it, and drops late outcomes", async () => {
    const { queue, started, stoppedJobs, finish } = queueOf(2);
    const running = queue.submit({ job: "cancelled", name: "running" });
    const other = queue.submit({ job: "other", name: "other" });
    const waiting = queue.submit({ job: "cancelled", name: "waiting" });
    const next = queue.submit({ job: "other", name: "next" });

    queue.cancelJob("cancelled");
    finish("running");

    expect(await running).toBe("failed: job cancelled was cancelled");
    expect(await waiting).toBe("failed: job cancelled was cancelled");
    expect(stoppedJobs).toEqual(["cancelled"]);
    // The running work's slot went to the next work of another job.
    expect(started).toEqual(["running", "other", "next"]);
    finish("other");
    expect(await other).toBe("other done");
    finish("next");
    expect(await next).toBe("next done");
  });

  it("when closed, it refuses new work, fails waiting work, awaits the owner's shutdown, then fails what is still running", async () => {
    const { queue, finish } = queueOf(2);
    const reported = queue.submit({ job: "j", name: "reported" });
    const silent = queue.submit({ job: "j", name: "silent" });
    const waiting = queue.submit({ job: "j", name: "waiting" });
    let shutdownRan = false;

    const closed = queue.close(async () => {
      expect(await waiting).toBe("failed: the test backend is shut down");
      finish("reported");
      await settled();
      shutdownRan = true;
    });

    expect(queue.closed).toBe(true);
    expect(await queue.submit({ job: "j", name: "late" })).toBe("failed: the test backend is shut down");
    await closed;
    expect(shutdownRan).toBe(true);
    expect(await reported).toBe("reported done");
    expect(await silent).toBe("failed: the test backend is shut down");
  });

  it("passes an owner's error on to the caller", async () => {
    const { queue } = queueOf(1, { start: () => Promise.reject(new Error("the store is unreachable")) });
    await expect(queue.submit({ job: "j", name: "a" })).rejects.toThrow("the store is unreachable");
  });
});
