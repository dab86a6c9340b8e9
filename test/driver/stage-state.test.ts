import { describe, expect, it } from "vitest";
import { StageRun } from "../../src/driver/scheduler/stage-state.js";
import { handBuiltPlan } from "./hand-built-plan.js";

const [stage] = handBuiltPlan({ A: {} }).stages;

describe("a stage's state", () => {
  it("carries early starts and their commits into the launched stage, then ends done", () => {
    const run = new StageRun(stage!);
    run.startEarly(1);
    expect(run.recordCommit()).toBe(true);
    expect(run.state).toEqual({ kind: "waiting", early: new Set([1]), committed: 1 });
    run.launch(2);
    expect(run.state).toEqual({ kind: "running", tasks: 2, committed: 1 });
    expect(run.allCommitted).toBe(false);
    run.recordCommit();
    expect(run.allCommitted).toBe(true);
    run.finish();
    expect(run.state).toEqual({ kind: "done", tasks: 2 });
  });

  it("ignores commits once failed, and keeps the first failure", () => {
    const run = new StageRun(stage!);
    run.launch(2);
    run.fail(new Error("first"));
    run.fail(new Error("second"));
    expect(run.recordCommit()).toBe(false);
    expect(run.state).toEqual({ kind: "failed", error: new Error("first") });
  });

  it.each([
    ["launch twice", (run: StageRun) => (run.launch(1), run.launch(1)), "stage A cannot launch: it is running"],
    ["start early once launched", (run: StageRun) => (run.launch(1), run.startEarly(0)), "stage A cannot start partition 0 early: it is running"],
    ["finish before launching", (run: StageRun) => run.finish(), "stage A cannot finish: it is waiting"],
    ["commit once done", (run: StageRun) => (run.launch(0), run.finish(), run.recordCommit()), "stage A cannot commit a task: it is done"],
  ])("refuses to %s", (_name, act, message) => {
    expect(() => act(new StageRun(stage!))).toThrow(message);
  });
});
