// The scheduler on hand-built plans against a fake Backend and a local object store: what it
// launches, retries, copies, merges and starts early, and how a job ends.
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { FeedContent } from "../../src/common/task-spec.js";
import type { ExecutionPlan } from "../../src/driver/planner/index.js";
import { EarlyTaskSlots, type RunOptions, StageFailedError, WorkerLostError, runPlan } from "../../src/driver/scheduler/index.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { type AttemptScript, FakeBackend, labelOf } from "./fake-backend.js";
import { handBuiltPlan, outputOf } from "./hand-built-plan.js";

const JOB = "job-1";
const roots: string[] = [];
afterAll(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

function newStore(): LocalObjectStore {
  const root = mkdtempSync(join(tmpdir(), "run-plan-test-"));
  roots.push(root);
  return new LocalObjectStore(root);
}

/**
 * Options every case starts from: two partitions, inputs always split (no small-input path),
 * and early-task slots of the job's own (as if it were alone on the backend).
 */
const baseOptions = (jobId = JOB): RunOptions => ({
  jobId,
  pipelineOptionsJson: "{}",
  artifactPrefix: `artifacts/${jobId}`,
  partitions: 2,
  maxAttempts: 3,
  smallInput: { elements: 0, bytes: 0 },
  earlySlots: new EarlyTaskSlots(),
});

/** What a run did, as the scheduler reported it and as the backend saw it. */
interface Outcome {
  error?: unknown;
  backend: FakeBackend;
  store: LocalObjectStore;
  /** Per committed task, the attempt that committed (`B/1#1`). */
  commits: string[];
  earlyStarts: string[];
  speculativeStarts: string[];
  /** Inputs of each committed merge. */
  merges: number[];
}

async function runJob(
  plan: ExecutionPlan,
  backend: FakeBackend,
  store: LocalObjectStore,
  options: Partial<RunOptions> & { jobId?: string },
  cancelAt?: string,
): Promise<Outcome> {
  const controller = new AbortController();
  const outcome: Outcome = { backend, store, commits: [], earlyStarts: [], speculativeStarts: [], merges: [] };
  if (cancelAt) {
    const previous = backend.onInvoke;
    backend.onInvoke = (task) => {
      previous?.(task);
      if (labelOf(task) === cancelAt) setTimeout(() => controller.abort(new Error("job-1 was cancelled")), 10);
    };
  }
  outcome.error = await runPlan(plan, backend, store, {
    ...baseOptions(options.jobId),
    ...options,
    signal: controller.signal,
    onTaskCommitted: (_stage, _task, result) => outcome.commits.push(labelOf(backend.invocations[result.workerPid]!)),
    onEarlyStart: (stage, task) => outcome.earlyStarts.push(`${stage.id}/${task}`),
    onSpeculativeStart: (stage, task) => outcome.speculativeStarts.push(`${stage.id}/${task}`),
    onMergeCommitted: (_id, inputs) => outcome.merges.push(inputs),
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  // Losing copies and tasks told to stop still finish: wait, so that nothing they do is missed.
  await backend.idle();
  return outcome;
}

interface Case {
  name: string;
  plan: ExecutionPlan;
  script?: Record<string, AttemptScript>;
  options?: Partial<RunOptions>;
  /** Cancel the job 10 ms after this attempt starts. */
  cancelAt?: string;
  check(outcome: Outcome): void | Promise<void>;
}

const chain = handBuiltPlan({ A: {}, B: { reads: "A" }, C: { reads: "B", grouped: true } });
const mapThenGroup = handBuiltPlan({ A: {}, B: { reads: "A", grouped: true } });
const boom = "Traceback ...\nValueError: boom [while running 'B-transform']";
const invoked = (o: Outcome) => o.backend.invocations.map(labelOf);
/** Every attempt from `from` to `to` of task B/0 fails with `failure`. */
const failingB0 = (from: number, to: number, failure: AttemptScript["failure"]): Record<string, AttemptScript> =>
  Object.fromEntries(Array.from({ length: to - from + 1 }, (_, i) => [`B/0#${from + i}`, { failure }]));
const lostWorker = { error: "worker process 123 died (code null, signal SIGKILL)", retryable: true, cause: "infrastructure" as const };
const userError = { error: boom, retryable: true, cause: "user" as const };
/** What onAttemptFailed reported (one case uses it). */
const reported: string[] = [];
/** A small backoff, so that cases losing many workers stay fast. */
const quickRetry = { maxLosses: 20, backoffMs: 1, maxBackoffMs: 4 };
/** Start times of B/0's attempts, in ms since the first. */
const startsOfB0 = (o: Outcome) => {
  const times = o.backend.invocations.flatMap((t, i) => (labelOf(t).startsWith("B/0#") ? [o.backend.startTimes[i]!] : []));
  return times.map((t) => t - times[0]!);
};
const position = (o: Outcome, event: string) => {
  const at = o.backend.events.indexOf(event);
  expect(at, `event '${event}' in ${o.backend.events.join(", ")}`).toBeGreaterThanOrEqual(0);
  return at;
};

/** `chain` with B as a splittable DoFn's Process step: its main input is restrictions. */
const splittable: ExecutionPlan = {
  ...chain,
  stages: chain.stages.map((s) => (s.id === "B" ? { ...s, splitsRestrictions: true } : s)),
};

const cases: Case[] = [
  {
    name: "runs a small input as one task",
    plan: chain,
    options: { smallInput: { elements: 1000, bytes: 1 << 20 }, pipelining: false },
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.commits.filter((l) => l.startsWith("B/"))).toEqual(["B/0#0"]);
    },
  },
  {
    name: "spreads a splittable DoFn's restrictions over tasks, however small they are",
    plan: splittable,
    options: { smallInput: { elements: 1000, bytes: 1 << 20 }, pipelining: false },
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.commits.filter((l) => l.startsWith("B/")).sort()).toEqual(["B/0#0", "B/1#0"]);
    },
  },
  {
    name: "runs every stage and commits one attempt per task",
    plan: chain,
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.commits.sort()).toEqual(["A/0#0", "B/0#0", "B/1#0", "C/0#0", "C/1#0"]);
    },
  },
  {
    name: "retries a retryable failure and hands readers the attempt that succeeded",
    plan: chain,
    options: { pipelining: false },
    script: { "B/1#0": { failure: { error: "worker lost", retryable: true } } },
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.commits).toContain("B/1#1");
      const keys = [...o.backend.mainInputKeys("C/0#0"), ...o.backend.mainInputKeys("C/1#0")];
      expect(keys).toContain(`jobs/${JOB}/stages/B/task-1/attempt-1/${outputOf("B")}`);
      expect(keys.filter((k) => k.includes("task-1/attempt-0"))).toEqual([]);
    },
  },
  {
    name: "fails the stage on a non-retryable failure, naming the stage, task and transform",
    plan: chain,
    options: { pipelining: false },
    script: { "B/1#0": { failure: { error: boom, retryable: false } } },
    check: (o) => {
      expect(o.error).toBeInstanceOf(StageFailedError);
      expect(o.error).toMatchObject({ stageId: "B", taskIndex: 1, transform: "B-transform" });
      expect((o.error as Error).message).toMatch(/^stage B failed in task 1 at transform 'B-transform': Traceback/);
      expect(invoked(o)).not.toContain("B/1#1");
      expect(invoked(o).filter((l) => l.startsWith("C/"))).toEqual([]);
    },
  },
  {
    name: "fails the stage once a task has failed on every attempt",
    plan: chain,
    options: { pipelining: false, maxAttempts: 3 },
    script: Object.fromEntries([0, 1, 2].map((a) => [`B/0#${a}`, { failure: { error: "worker lost", retryable: true } }])),
    check: (o) => {
      expect(o.error).toMatchObject({ stageId: "B", taskIndex: 0, reason: "worker lost" });
      expect(invoked(o).filter((l) => l.startsWith("B/0#"))).toEqual(["B/0#0", "B/0#1", "B/0#2"]);
    },
  },
  {
    name: "when a task loses its worker more often than the user-failure budget, it still commits",
    plan: chain,
    options: { pipelining: false, maxAttempts: 4, infrastructureRetry: quickRetry },
    script: failingB0(0, 9, lostWorker),
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.commits).toContain("B/0#10");
      expect(o.commits.filter((l) => l.startsWith("C/"))).toHaveLength(2);
    },
  },
  {
    name: "when user code fails on 4 attempts, the job fails naming the stage, even after worker losses",
    plan: chain,
    options: { pipelining: false, maxAttempts: 4, infrastructureRetry: quickRetry },
    // Losses in between do not count: the 4th user failure is attempt 6.
    script: { ...failingB0(0, 1, userError), ...failingB0(2, 3, lostWorker), ...failingB0(4, 5, userError) },
    check: (o) => {
      expect(o.error).toBeInstanceOf(StageFailedError);
      expect(o.error).toMatchObject({ stageId: "B", taskIndex: 0, transform: "B-transform" });
      expect((o.error as Error).message).toMatch(/^stage B failed in task 0 at transform 'B-transform'/);
      expect(invoked(o).filter((l) => l.startsWith("B/0#"))).toHaveLength(6);
      expect(invoked(o).filter((l) => l.startsWith("C/"))).toEqual([]);
    },
  },
  {
    name: "a failure of unknown cause (a worker of an older version) counts as a user failure",
    plan: chain,
    options: { pipelining: false, maxAttempts: 4, infrastructureRetry: quickRetry },
    script: failingB0(0, 9, { error: "something broke", retryable: true }),
    check: (o) => {
      expect(o.error).toBeInstanceOf(StageFailedError);
      expect(invoked(o).filter((l) => l.startsWith("B/0#"))).toHaveLength(4);
    },
  },
  {
    name: "when a task has lost its worker as often as the infrastructure budget allows, the job fails saying so",
    plan: chain,
    options: { pipelining: false, maxAttempts: 4, infrastructureRetry: { ...quickRetry, maxLosses: 6 } },
    script: failingB0(0, 9, lostWorker),
    check: (o) => {
      expect(o.error).toBeInstanceOf(WorkerLostError);
      expect(o.error).toMatchObject({ stageId: "B", taskIndex: 0, losses: 6 });
      expect((o.error as Error).message).toMatch(/^stage B task 0: lost its worker 6 times \(infrastructure.*\): worker process 123 died/);
      expect(invoked(o).filter((l) => l.startsWith("B/0#"))).toHaveLength(6);
    },
  },
  {
    name: "a non-retryable failure stays final whatever its cause",
    plan: chain,
    options: { pipelining: false, infrastructureRetry: quickRetry },
    script: failingB0(0, 0, { ...lostWorker, retryable: false }),
    check: (o) => {
      expect(o.error).toBeInstanceOf(StageFailedError);
      expect(invoked(o).filter((l) => l.startsWith("B/0#"))).toEqual(["B/0#0"]);
    },
  },
  {
    name: "waits before relaunching a task that lost its worker, doubling the wait up to its cap",
    plan: chain,
    options: { pipelining: false, infrastructureRetry: { maxLosses: 20, backoffMs: 40, maxBackoffMs: 100 } },
    script: failingB0(0, 3, lostWorker),
    check: (o) => {
      expect(o.error).toBeUndefined();
      // Attempts take DEFAULT_DELAY_MS (5 ms) each; then waits of 40, 80, 100 (capped), 100 ms.
      const starts = startsOfB0(o);
      const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
      expect(gaps).toHaveLength(4);
      [40, 80, 100, 100].forEach((wait, i) => {
        expect(gaps[i]).toBeGreaterThanOrEqual(wait);
        expect(gaps[i]).toBeLessThan(wait + 200);
      });
    },
  },
  {
    name: "reports each failed attempt with what the task has used of each budget",
    plan: chain,
    options: { pipelining: false, infrastructureRetry: quickRetry, onAttemptFailed: (stage, task, f) => reported.push(`${stage.id}/${task} ${f.cause} ${f.userFailures}/${f.losses}`) },
    script: { ...failingB0(0, 1, lostWorker), ...failingB0(2, 2, userError) },
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(reported).toEqual(["B/0 infrastructure 0/1", "B/0 infrastructure 0/2", "B/0 user 1/2"]);
    },
  },
  {
    name: "retries a user failure at once",
    plan: chain,
    options: { pipelining: false, infrastructureRetry: { maxLosses: 20, backoffMs: 1000, maxBackoffMs: 1000 } },
    script: failingB0(0, 0, userError),
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(startsOfB0(o)[1]).toBeLessThan(200);
    },
  },
  {
    name: "copies a straggler; the first attempt to succeed commits and the loser's result is ignored",
    plan: chain,
    options: { pipelining: false, partitions: 3, speculation: { quantile: 0.5, multiplier: 1.5, minRuntimeMs: 100 } },
    // The straggler ends (successfully) while C still runs: its result must change nothing.
    script: { "B/2#0": { delayMs: 700 }, "C/0#0": { delayMs: 1000 }, "C/1#0": { delayMs: 1000 }, "C/2#0": { delayMs: 1000 } },
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.speculativeStarts).toEqual(["B/2"]);
      expect(o.commits.filter((l) => l.startsWith("B/2#"))).toEqual(["B/2#1"]);
      expect(position(o, "end B/2#0 ok")).toBeLessThan(position(o, "end C/0#0 ok"));
      const keys = [0, 1, 2].flatMap((t) => o.backend.mainInputKeys(`C/${t}#0`));
      expect(keys.filter((k) => k.includes("B/task-2/"))).toEqual([0, 1, 2].map(() => `jobs/${JOB}/stages/B/task-2/attempt-1/${outputOf("B")}`));
    },
  },
  {
    name: "times an attempt from when the backend starts it: one queued behind others is no straggler",
    plan: chain,
    options: { pipelining: false, partitions: 3, speculation: { quantile: 0.5, multiplier: 1.5, minRuntimeMs: 100 } },
    // Queued for 700 ms (a backend at its concurrency), then quick like the others.
    script: { "B/2#0": { queuedMs: 700 } },
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.speculativeStarts).toEqual([]);
      expect(o.commits).toContain("B/2#0");
    },
  },
  {
    name: "cancelling mid-job stops scheduling (no retry, no next stage) and the job ends cancelled",
    plan: chain,
    options: { pipelining: false },
    script: { "A/0#0": { delayMs: 100, failure: { error: "worker lost", retryable: true } } },
    cancelAt: "A/0#0",
    check: (o) => {
      expect((o.error as Error).message).toBe("job-1 was cancelled");
      expect(invoked(o)).toEqual(["A/0#0"]);
    },
  },
  {
    name: "cancelling tells tasks waiting on feeds to stop",
    plan: mapThenGroup,
    script: { "A/0#0": { delayMs: 200 } },
    cancelAt: "A/0#0",
    check: async (o) => {
      expect((o.error as Error).message).toBe("job-1 was cancelled");
      expect(o.backend.events).toContain("end B/0#0 failed");
      // A ends after the cancel. Its late result must not rewrite the feed without the failure:
      // give anything it set off time to reach the store before reading the feed.
      expect(o.backend.events).toContain("end A/0#0 ok");
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [feed] = await o.store.list(`jobs/${JOB}/feeds/`);
      const content = JSON.parse((await o.store.get(feed!)).toString()) as FeedContent;
      expect(content.failed).toBe("job-1 was cancelled");
    },
  },
  {
    name: "with pipelining on, starts downstream tasks on feeds before the upstream stage is done",
    plan: mapThenGroup,
    script: { "A/0#0": { delayMs: 100 } },
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.earlyStarts).toEqual(["B/0", "B/1"]);
      expect(position(o, "start B/0#0")).toBeLessThan(position(o, "end A/0#0 ok"));
      const b0 = o.backend.invocations.find((t) => labelOf(t) === "B/0#0")!;
      expect(b0.kind === "bundle" && b0.main.kind === "edge" && b0.main.feeds).toEqual([{ key: `jobs/${JOB}/feeds/m0`, expected: 1, partition: 0 }]);
    },
  },
  {
    name: "with pipelining off, starts downstream tasks only once the upstream stage is done",
    plan: mapThenGroup,
    options: { pipelining: false },
    script: { "A/0#0": { delayMs: 100 } },
    check: (o) => {
      expect(o.error).toBeUndefined();
      expect(o.earlyStarts).toEqual([]);
      expect(position(o, "start B/0#0")).toBeGreaterThan(position(o, "end A/0#0 ok"));
    },
  },
  {
    name: "a stage with timers never starts early",
    plan: handBuiltPlan({ A: {}, B: { reads: "A", grouped: true, timers: true } }),
    script: { "A/0#0": { delayMs: 50 } },
    check: (o) => {
      expect(o.earlyStarts).toEqual([]);
      expect(position(o, "start B/0#0")).toBeGreaterThan(position(o, "end A/0#0 ok"));
    },
  },
  {
    name: "a failing upstream stage fails its feeds, so early tasks stop waiting",
    plan: mapThenGroup,
    script: { "A/0#0": { delayMs: 50, failure: { error: "no such file", retryable: false } } },
    check: (o) => {
      expect(o.error).toMatchObject({ stageId: "A", taskIndex: 0 });
      expect(o.backend.events).toEqual(expect.arrayContaining(["end B/0#0 failed", "end B/1#0 failed"]));
    },
  },
  {
    name: "merges map outputs in groups of F as they commit; readers get the merged objects",
    plan: chain,
    options: { pipelining: false, partitions: 4, merge: { threshold: 1, factor: 2 } },
    check: (o) => {
      expect(o.error).toBeUndefined();
      // A is one task: nothing to merge. B's and C's four outputs each become two merged objects.
      expect(o.merges).toEqual([2, 2, 2, 2]);
      expect(invoked(o).filter((l) => l.startsWith("merge B"))).toEqual(["merge B.out/0#0", "merge B.out/1#0"]);
      // Merged objects are read in the order the merges committed.
      expect(o.backend.mainInputKeys("C/0#0").sort()).toEqual([`jobs/${JOB}/merges/m1/0/attempt-0`, `jobs/${JOB}/merges/m1/1/attempt-0`]);
    },
  },
];

describe("runPlan against a fake backend", () => {
  it.each(cases)("$name", async (c) => {
    const store = newStore();
    const outcome = await runJob(c.plan, new FakeBackend(store, c.script), store, c.options ?? {}, c.cancelAt);
    await c.check(outcome);
  });

  it("counts early tasks across the jobs sharing a backend's slots, leaving it a slot for retries", async () => {
    const store = newStore();
    const earlySlots = new EarlyTaskSlots();
    // Three slots, so at most two early tasks between both jobs. The second job starts once
    // the first holds both; its X commits while they still wait for A.
    const backend = new FakeBackend(store, { "A/0#0": { delayMs: 200 }, "X/0#0": { delayMs: 50 } }, 3);
    const second = new Promise<Outcome>((resolve) => {
      backend.onInvoke = (task) => {
        if (labelOf(task) === "B/1#0") resolve(runJob(handBuiltPlan({ X: {}, Y: { reads: "X", grouped: true } }), backend, store, { jobId: "job-2", earlySlots }));
      };
    });
    const first = await runJob(mapThenGroup, backend, store, { jobId: "job-1", earlySlots });
    const { error, earlyStarts } = await second;
    expect([first.error, error]).toEqual([undefined, undefined]);
    expect(first.earlyStarts).toEqual(["B/0", "B/1"]);
    expect(earlyStarts).toEqual([]);
  });
});
