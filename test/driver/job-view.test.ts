// The timeline a job's page gets: bounded, ordered, and starting where the job started.
import { describe, expect, it } from "vitest";
import type { AttemptRecord } from "../../src/driver/progress/job-progress.js";
import { TIMELINE_TASKS, timelineOf } from "../../src/driver/ui/job-view.js";

const T0 = 1_700_000_000_000;

function attempt(stageId: string, taskIndex: number, attempt: number, launchedAt: number, task: AttemptRecord["task"] = "bundle"): AttemptRecord {
  return { stageId, task, taskIndex, attempt, speculative: false, launchedAt: T0 + launchedAt, reads: 1, writes: 1 };
}

describe("timelineOf", () => {
  it("keeps the first tasks' attempts only, in stage order, and counts every task", () => {
    const stages = [{ id: "s1" }, { id: "s2" }];
    // 1000 tasks of s2 launched first, then 1000 of s1, each with two attempts (the second
    // recorded before the first, as a retry's record may be): 4000 attempts in all.
    const attempts = [
      ...Array.from({ length: 1000 }, (_, i) => [attempt("s2", i, 1, 10 + i), attempt("s2", i, 0, 5 + i)]).flat(),
      ...Array.from({ length: 1000 }, (_, i) => [attempt("s1", 999 - i, 1, 2000 + i), attempt("s1", 999 - i, 0, 1500 + i)]).flat(),
    ];
    const timeline = timelineOf(stages, attempts);
    expect(timeline.tasks).toBe(2000);
    expect(timeline.startedAt).toBe(T0 + 5);
    expect(timeline.attempts).toHaveLength(2 * TIMELINE_TASKS);
    // s1's tasks come first (stage order), by index, each task's attempts in order.
    expect(timeline.attempts.slice(0, 4).map((a) => `${a.stageId}/${a.taskIndex}#${a.attempt}`)).toEqual(["s1/0#0", "s1/0#1", "s1/1#0", "s1/1#1"]);
    expect(new Set(timeline.attempts.map((a) => a.stageId))).toEqual(new Set(["s1"]));
    expect(timeline.attempts.at(-1)).toMatchObject({ stageId: "s1", taskIndex: TIMELINE_TASKS - 1, attempt: 1 });
  });

  it("puts a stage's merge tasks after its bundle tasks, and keeps every task under the limit", () => {
    const attempts = [attempt("s1", 0, 0, 30, "merge"), attempt("s2", 0, 0, 40), attempt("s1", 1, 0, 20), attempt("s1", 0, 0, 10)];
    const timeline = timelineOf([{ id: "s1" }, { id: "s2" }], attempts);
    expect(timeline.attempts.map((a) => `${a.stageId} ${a.task} ${a.taskIndex}`)).toEqual(["s1 bundle 0", "s1 bundle 1", "s1 merge 0", "s2 bundle 0"]);
    expect(timeline.tasks).toBe(4);
  });

  it("has no start before any attempt", () => {
    expect(timelineOf([{ id: "s1" }], [])).toEqual({ tasks: 0, attempts: [] });
  });
});
