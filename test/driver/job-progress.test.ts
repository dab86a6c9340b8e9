// JobProgress as the scheduler feeds it: per-stage task counts, failed / lost / retried attempts,
// bytes and elements, and a timeline record per attempt, on a hand-built plan against the fake
// backend (failures scripted).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JobProgress } from "../../src/driver/progress/job-progress.js";
import { EarlyTaskSlots, runPlan } from "../../src/driver/scheduler/index.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { FakeBackend } from "./fake-backend.js";
import { handBuiltPlan } from "./hand-built-plan.js";

describe("JobProgress", () => {
  it("counts each stage's tasks, failed, lost and retried attempts, and records every attempt's times", async () => {
    const plan = handBuiltPlan({ A: {}, B: { reads: "A", grouped: true }, C: { reads: "B" } });
    const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "job-progress-")));
    const backend = new FakeBackend(store, {
      "B/0#0": { failure: { error: "ValueError: boom\nTraceback ...", retryable: true, cause: "user" } },
      "B/1#0": { failure: { error: "worker process 7 died", retryable: true, cause: "infrastructure" } },
    });
    const progress = new JobProgress(plan);
    const snapshots: number[] = [];
    progress.subscribe(() => snapshots.push(progress.snapshot().totals.tasksDone));
    await runPlan(plan, backend, store, {
      jobId: "job-p",
      pipelineOptionsJson: "{}",
      artifactPrefix: "artifacts/job-p",
      partitions: 2,
      maxAttempts: 3,
      infrastructureRetry: { maxLosses: 3, backoffMs: 1, maxBackoffMs: 1 },
      smallInput: { elements: 0, bytes: 0 },
      earlySlots: new EarlyTaskSlots(),
      pipelining: false,
      onAttemptEvent: (e) => progress.attemptEvent(e),
      onStageTasks: (stage, tasks) => progress.stageLaunched(stage, tasks),
      onStageDone: (stage) => progress.stageDone(stage),
      onTaskCommitted: (stage, _task, result) => progress.taskCommitted(stage, result.outputs),
    });
    await backend.idle();
    const { stages, attempts, totals } = progress.snapshot();
    const [a, b, c] = stages;
    expect(a).toMatchObject({ id: "A", state: "done", tasks: 1, done: 1, failed: 0, lost: 0, retried: 0, running: 0 });
    expect(b).toMatchObject({ id: "B", state: "done", tasks: 2, done: 2, failed: 1, lost: 1, retried: 2, running: 0 });
    expect(c).toMatchObject({ id: "C", state: "done", tasks: 2, done: 2, running: 0 });
    // Every attempt the backend ran is on the timeline, with its outcome; launched ≤ started ≤ ended.
    expect(attempts).toHaveLength(backend.invocations.length);
    expect(attempts.filter((r) => r.outcome === "committed")).toHaveLength(5);
    expect(attempts.find((r) => r.stageId === "B" && r.taskIndex === 0 && r.attempt === 0)).toMatchObject({ outcome: "failed", error: "ValueError: boom" });
    expect(attempts.find((r) => r.stageId === "B" && r.taskIndex === 1 && r.attempt === 0)).toMatchObject({ outcome: "lost" });
    for (const r of attempts) expect(r.launchedAt <= r.startedAt! && r.startedAt! <= r.endedAt!).toBe(true);
    // Bytes out are the committed objects' sizes (the fake writes 10 bytes per partition, a byte
    // per element); B read what A wrote, through a GroupByKey, so A's output was shuffled.
    expect(a!.bytesOut).toBe(20);
    expect(a!.elementsOut).toBe(20);
    expect(b).toMatchObject({ bytesIn: a!.bytesOut, elementsIn: a!.elementsOut });
    expect(a!.bytesShuffled).toBe(a!.bytesOut);
    expect(b!.bytesShuffled).toBe(0);
    expect(c).toMatchObject({ bytesIn: b!.bytesOut, elementsIn: b!.elementsOut });
    expect(a!.elementsIn).toBe(0);
    expect(totals).toMatchObject({ stages: 3, stagesDone: 3, tasks: 5, tasksDone: 5, failed: 1, lost: 1 });
    // Listeners heard the counts grow to the end.
    expect(snapshots.at(-1)).toBe(5);
  });

  it.each(["failed", "cancelled"] as const)("marks a stage still running when the job is %s as such, and leaves waiting ones waiting", (how) => {
    const plan = handBuiltPlan({ A: {}, B: { reads: "A" } });
    const progress = new JobProgress(plan);
    progress.stageLaunched(plan.stages[0]!, 1);
    progress.jobEnded(how);
    const [a, b] = progress.snapshot().stages;
    expect(a!.state).toBe(how);
    expect(a!.endedAt).toBeDefined();
    expect(b!.state).toBe("waiting");
  });
});
