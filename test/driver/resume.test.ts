// A job resumed from its journal after its job server died: each run skips what the runs before it
// committed, numbers its attempts past theirs, and reads committed outputs only; across all runs
// every task is committed exactly once. The scheduler runs on the fake backend; the journal is
// the real one, on a local store.
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CommitRecord, JobJournal } from "../../src/driver/journal/job-journal.js";
import type { ExecutionPlan } from "../../src/driver/planner/index.js";
import { ATTEMPTS_PER_RUN, EarlyTaskSlots, type MergeOptions, runPlan } from "../../src/driver/scheduler/index.js";
import { JournalKeys, LocalObjectStore } from "../../src/store/index.js";
import { FakeBackend, labelOf } from "./fake-backend.js";
import { handBuiltPlan } from "./hand-built-plan.js";

const JOB = "job-r";
const PARTITIONS = 4;
const roots: string[] = [];
afterAll(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

/** A→B→C, C grouping B's output: 1 + 4 + 4 tasks. */
const plan = handBuiltPlan({ A: {}, B: { reads: "A" }, C: { reads: "B", grouped: true } });
const ALL_TASKS = ["A/0", "B/0", "B/1", "B/2", "B/3", "C/0", "C/1", "C/2", "C/3"];

interface RunOutcome {
  error?: unknown;
  backend: FakeBackend;
  /** Tasks whose commit this run recorded. */
  recorded: string[];
}

/**
 * One run of the job, as one job server would run it. `dieAfter`: the server dies as soon as
 * that many of this run's commits are recorded: nothing it does after reaches the journal.
 */
async function runOnce(store: LocalObjectStore, runPlanOf: ExecutionPlan, dieAfter: number | undefined, merge?: MergeOptions): Promise<RunOutcome> {
  const journal = new JobJournal(store, JOB);
  const run = await journal.beginRun();
  const journaled = run === 0 ? undefined : await JobJournal.read(store, JOB);
  const backend = new FakeBackend(store);
  const controller = new AbortController();
  const recorded: string[] = [];
  let dead = false;
  let commits = 0;
  const error = await runPlan(runPlanOf, backend, store, {
    jobId: JOB,
    pipelineOptionsJson: "{}",
    artifactPrefix: `artifacts/${JOB}`,
    partitions: PARTITIONS,
    maxAttempts: 3,
    smallInput: { elements: 0, bytes: 0 },
    earlySlots: new EarlyTaskSlots(),
    signal: controller.signal,
    merge,
    resume: { committed: journaled?.commits ?? [], firstAttempt: run * ATTEMPTS_PER_RUN },
    commitLog: async (_stage, task, monitoringInfos) => {
      if (dead) throw new Error("the server is dead");
      const last = ++commits === dieAfter;
      dead = last;
      await journal.recordCommit({ ...task, monitoringInfos });
      recorded.push(`${task.stageId}/${task.taskIndex}`);
      if (last) controller.abort(new Error("killed"));
    },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  await backend.idle();
  return { error, backend, recorded };
}

async function journaledCommits(store: LocalObjectStore): Promise<CommitRecord[]> {
  return (await JobJournal.read(store, JOB))?.commits ?? [];
}

describe("a job resumed from its journal", () => {
  it.each([
    { name: "plain", merge: undefined },
    { name: "with push-merge (restored stages are read unmerged)", merge: { threshold: 1, factor: 2 } },
  ])("finishes across two deaths, every task committed exactly once ($name)", async ({ merge }) => {
    const root = mkdtempSync(join(tmpdir(), "resume-test-"));
    roots.push(root);
    const store = new LocalObjectStore(root);
    // The pipeline record is what a restarted server plans again; this test hands the same plan.
    await store.put(new JournalKeys(JOB).job, Buffer.from(JSON.stringify({ name: "r", pipelineOptions: {}, partitions: PARTITIONS })));
    await store.put(new JournalKeys(JOB).pipeline, new Uint8Array());

    const first = await runOnce(store, plan, 3, merge);
    expect(String(first.error)).toMatch(/killed|dead/);
    const afterFirst = (await journaledCommits(store)).map((c) => `${c.stageId}/${c.taskIndex}`);
    expect(afterFirst.sort()).toEqual([...first.recorded].sort());

    const second = await runOnce(store, plan, 2, merge);
    expect(String(second.error)).toMatch(/killed|dead/);
    const third = await runOnce(store, plan, undefined, merge);
    expect(third.error).toBeUndefined();

    // Every task was recorded by exactly one run, and the journal holds each once.
    const recorded = [...first.recorded, ...second.recorded, ...third.recorded];
    expect([...recorded].sort()).toEqual(ALL_TASKS);
    const commits = await journaledCommits(store);
    expect(commits.map((c) => `${c.stageId}/${c.taskIndex}`).sort()).toEqual(ALL_TASKS);
    // A later run starts no task an earlier run committed, and numbers its attempts past the earlier runs'.
    for (const [n, run] of [second, third].entries()) {
      const before = n === 0 ? first.recorded : [...first.recorded, ...second.recorded];
      const started = run.backend.invocations.filter((t) => t.kind === "bundle").map((t) => `${t.stageId}/${t.taskIndex}`);
      expect(started.filter((t) => before.includes(t))).toEqual([]);
      for (const t of run.backend.invocations) expect(t.attempt).toBeGreaterThanOrEqual((n + 1) * ATTEMPTS_PER_RUN);
    }
    // C's tasks in the last run read exactly the committed outputs of B, one object per B task
    // (B's merges of an earlier run are not journaled: its committed outputs are read unmerged).
    const committedB = commits.filter((c) => c.stageId === "B").flatMap((c) => c.outputs.map((o) => o.key));
    const lastC = third.backend.invocations.filter((t) => t.kind === "bundle" && t.stageId === "C");
    expect(lastC.length).toBeGreaterThan(0);
    for (const t of lastC) expect([...third.backend.mainInputKeys(labelOf(t))].sort()).toEqual([...committedB].sort());
  });

  it("refuses to record a task's commit twice", async () => {
    const root = mkdtempSync(join(tmpdir(), "resume-test-"));
    roots.push(root);
    const journal = new JobJournal(new LocalObjectStore(root), JOB);
    const record: CommitRecord = { stageId: "B", taskIndex: 1, whole: false, outputs: [], monitoringInfos: [] };
    await journal.recordCommit(record);
    await expect(journal.recordCommit(record)).rejects.toThrow(/already committed/);
  });
});
