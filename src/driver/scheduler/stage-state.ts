// Where each stage of a job is, and which stages are ready to launch.
//
//   waiting ──launch──▶ running ──finish──▶ done
//      │                   │
//      └──────fail─────────┴──▶ failed
//
// A waiting stage may already run pipelined tasks for some partitions (pipelined-feeds.ts); they
// count among its tasks when it launches the rest.
import type { Stage } from "../planner/index.js";

export type StageState =
  /** Some upstream stage is not done. `early`: partitions whose task started on feeds, `committed` of them. */
  | { kind: "waiting"; early: ReadonlySet<number>; committed: number }
  /** Every task is launched; `committed` of `tasks` have committed. */
  | { kind: "running"; tasks: number; committed: number }
  /** Every task committed and every output is complete (merged, when merging). */
  | { kind: "done"; tasks: number }
  /** A task or merge failed for good; later commits of the stage are ignored. */
  | { kind: "failed"; error: unknown };

/** One stage of a running job, with guarded transitions. */
export class StageRun {
  /** The waiting state's `early`, which only this object adds to. */
  private readonly earlyPartitions = new Set<number>();
  private current: StageState = { kind: "waiting", early: this.earlyPartitions, committed: 0 };

  constructor(readonly stage: Stage) {}

  get state(): StageState {
    return this.current;
  }

  /** Whether the stage launched all its tasks (or ended): it launches nothing more. */
  get launched(): boolean {
    return this.current.kind !== "waiting";
  }

  /** The stage's task count, once it launched them all. */
  get tasks(): number | undefined {
    return this.current.kind === "running" || this.current.kind === "done" ? this.current.tasks : undefined;
  }

  /** Partitions whose task started early; none once the stage has launched. */
  get early(): ReadonlySet<number> {
    return this.current.kind === "waiting" ? this.current.early : new Set();
  }

  startEarly(partition: number): void {
    this.expect("waiting", `start partition ${partition} early`);
    this.earlyPartitions.add(partition);
  }

  /** Every remaining task is launched: `tasks` counts the early ones too. */
  launch(tasks: number): void {
    const { committed } = this.expect("waiting", "launch");
    this.current = { kind: "running", tasks, committed };
  }

  /** Counts a committed task; false when the stage failed and the commit is to be ignored. */
  recordCommit(): boolean {
    const state = this.current;
    if (state.kind === "failed") return false;
    if (state.kind === "done") throw this.illegal("commit a task");
    this.current = { ...state, committed: state.committed + 1 };
    return true;
  }

  /** Whether every task has committed (outputs may still await their merges). */
  get allCommitted(): boolean {
    return this.current.kind === "running" && this.current.committed >= this.current.tasks;
  }

  finish(): void {
    const { tasks } = this.expect("running", "finish");
    this.current = { kind: "done", tasks };
  }

  /** Fails the stage; the first failure stays. */
  fail(error: unknown): void {
    if (this.current.kind === "failed") return;
    if (this.current.kind === "done") throw this.illegal("fail");
    this.current = { kind: "failed", error };
  }

  private expect<K extends StageState["kind"]>(kind: K, action: string): Extract<StageState, { kind: K }> {
    if (this.current.kind !== kind) throw this.illegal(action);
    return this.current as Extract<StageState, { kind: K }>;
  }

  private illegal(action: string): Error {
    return new Error(`stage ${this.stage.id} cannot ${action}: it is ${this.current.kind}`);
  }
}

/** The stages of one job, in plan order, and who produces each materialization. */
export class StageRuns implements Iterable<StageRun> {
  private readonly runs: StageRun[];
  private readonly byId = new Map<string, StageRun>();
  private readonly producers = new Map<string, StageRun>();

  constructor(stages: Stage[]) {
    this.runs = stages.map((stage) => new StageRun(stage));
    for (const run of this.runs) {
      this.byId.set(run.stage.id, run);
      for (const o of run.stage.outputs) this.producers.set(o.id, run);
    }
  }

  [Symbol.iterator](): Iterator<StageRun> {
    return this.runs[Symbol.iterator]();
  }

  get(stageId: string): StageRun {
    const run = this.byId.get(stageId);
    if (!run) throw new Error(`no stage '${stageId}' in the plan`);
    return run;
  }

  producerOf(materializationId: string): StageRun {
    const run = this.producers.get(materializationId);
    if (!run) throw new Error(`no stage writes materialization '${materializationId}'`);
    return run;
  }

  /** Whether every stage `stage` reads is done: it can launch all its tasks. */
  upstreamDone(stage: Stage): boolean {
    return stage.upstream.every((id) => this.get(id).state.kind === "done");
  }

  get allDone(): boolean {
    return this.runs.every((r) => r.state.kind === "done");
  }

  /** Whether some stage has launched and not ended: something will still happen. */
  get anyRunning(): boolean {
    return this.runs.some((r) => r.state.kind === "running");
  }
}
