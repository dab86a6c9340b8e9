// What a job is doing, for people: each stage's tasks (pending, running, done, failed attempts,
// retries, speculative copies), the bytes and elements it read and wrote, and every attempt's
// times for a timeline. The scheduler's events feed it (run-plan.ts, attempts.ts); the CLI's
// progress line and the UI read snapshots of it. It decides nothing: the scheduler's own state
// stays in scheduler/.
import type { TaskOutputResult } from "../../common/task-spec.js";
import type { ExecutionPlan, Stage } from "../planner/index.js";
import type { AttemptEvent } from "../scheduler/index.js";

/** How an attempt ended. `superseded`: it succeeded after another attempt of its task had committed. */
export type AttemptOutcome = "committed" | "superseded" | "failed" | "lost";

export interface AttemptRecord {
  stageId: string;
  /** `merge` for a push-merge task of the stage's outputs. */
  task: "bundle" | "merge";
  taskIndex: number;
  attempt: number;
  speculative: boolean;
  /** Milliseconds since the epoch. */
  launchedAt: number;
  /** When the backend started running it (it may queue it first). */
  startedAt?: number;
  endedAt?: number;
  outcome?: AttemptOutcome;
  workerPid?: number;
  /** The first line of a failed attempt's error. */
  error?: string;
  /** Object-store GETs it makes: its descriptor, and one per input range (main and side inputs, merge inputs). */
  reads: number;
  /** Objects it writes: one per output. */
  writes: number;
}

/** The store requests one attempt of `template` makes, as docs/shuffle.md counts them (feeds of pipelined inputs aside). */
function requestsOf(template: AttemptEvent["template"]): { reads: number; writes: number } {
  if (template.kind === "merge") return { reads: template.inputs.length, writes: 1 };
  const main = template.main.kind === "edge" ? template.main.ranges.length : 0;
  const side = template.sideInputs.reduce((sum, s) => sum + s.input.ranges.length, 0);
  return { reads: 1 + main + side, writes: template.outputs.length };
}

export interface StageProgress {
  id: string;
  name: string;
  /** `failed` / `cancelled`: it was still running when the job failed or was cancelled. */
  state: "waiting" | "running" | "done" | "failed" | "cancelled";
  /** Tasks the stage runs; undefined until it launches (one per partition, fewer for small inputs). */
  tasks?: number;
  running: number;
  done: number;
  /** Attempts that failed for their code. */
  failed: number;
  /** Attempts that lost their worker. */
  lost: number;
  /** Attempts beyond each task's first (after a failure, a loss, or as a copy). */
  retried: number;
  speculative: number;
  /** Tasks started before their input was complete. */
  early: number;
  mergeTasks: number;
  /** Map outputs merged by those tasks. */
  mergedObjects: number;
  /** What its committed producers wrote for its main input (side inputs aside). */
  elementsIn: number;
  bytesIn: number;
  elementsOut: number;
  bytesOut: number;
  /** The part of bytesOut written for a GroupByKey (outputs every reader groups). */
  bytesShuffled: number;
  startedAt?: number;
  endedAt?: number;
}

export interface ProgressSnapshot {
  stages: StageProgress[];
  attempts: AttemptRecord[];
  /** Sums over the stages. */
  totals: { stages: number; stagesDone: number; tasks: number; tasksDone: number; running: number; failed: number; lost: number };
}

const firstLine = (text: string) => text.split("\n", 1)[0]!.slice(0, 500);

export class JobProgress {
  private readonly stages = new Map<string, StageProgress>();
  private readonly attempts: AttemptRecord[] = [];
  /** Attempts by stage, task kind, task and attempt number. */
  private readonly byKey = new Map<string, AttemptRecord>();
  /** The attempt each task succeeded with first (the one the scheduler commits), by stage, task kind and task. */
  private readonly winners = new Map<string, number>();
  /** What committed tasks wrote, by materialization (TaskOutputResult.id). */
  private readonly written = new Map<string, { elements: number; bytes: number }>();
  /** Each stage's main-input materializations. */
  private readonly mainSources = new Map<string, string[]>();
  /** Tasks with an attempt launched, by stage, task kind and task. */
  private readonly launchedTasks = new Set<string>();
  private readonly listeners = new Set<() => void>();

  constructor(plan: ExecutionPlan) {
    for (const s of plan.stages) {
      this.mainSources.set(s.id, s.main.kind === "edge" ? s.main.edge.sources : []);
      this.stages.set(s.id, {
        id: s.id,
        name: s.name,
        state: "waiting",
        running: 0,
        done: 0,
        failed: 0,
        lost: 0,
        retried: 0,
        speculative: 0,
        early: 0,
        mergeTasks: 0,
        mergedObjects: 0,
        elementsIn: 0,
        bytesIn: 0,
        elementsOut: 0,
        bytesOut: 0,
        bytesShuffled: 0,
      });
    }
  }

  /** Called after every change (the UI's live stream throttles it). */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private stage(id: string): StageProgress {
    return this.stages.get(id)!;
  }

  stageLaunched(stage: Stage, tasks: number): void {
    const s = this.stage(stage.id);
    s.tasks = tasks;
    if (s.state === "waiting") s.state = "running";
    s.startedAt ??= Date.now();
    this.changed();
  }

  earlyStart(stage: Stage): void {
    const s = this.stage(stage.id);
    s.early++;
    if (s.state === "waiting") s.state = "running";
    s.startedAt ??= Date.now();
    this.changed();
  }

  stageDone(stage: Stage): void {
    const s = this.stage(stage.id);
    s.state = "done";
    s.endedAt = Date.now();
    this.changed();
  }

  /** The job has ended (`done`, or `failed` or `cancelled` with stages still running): those stages end with it. */
  jobEnded(how: "done" | "failed" | "cancelled"): void {
    const now = Date.now();
    for (const s of this.stages.values()) {
      if (s.state === "running" && how !== "done") s.state = how;
      if (s.state !== "waiting") s.endedAt ??= now;
    }
    this.changed();
  }

  mergeCommitted(stage: Stage, inputs: number): void {
    const s = this.stage(stage.id);
    s.mergeTasks++;
    s.mergedObjects += inputs;
    this.changed();
  }

  /** A bundle task committed with these outputs. */
  taskCommitted(stage: Stage, outputs: TaskOutputResult[]): void {
    const s = this.stage(stage.id);
    s.done++;
    for (const o of outputs) {
      const bytes = o.offsets.at(-1) ?? 0;
      s.elementsOut += o.elements;
      s.bytesOut += bytes;
      if (o.format === "keyed") s.bytesShuffled += bytes;
      const written = this.written.get(o.id) ?? { elements: 0, bytes: 0 };
      this.written.set(o.id, { elements: written.elements + o.elements, bytes: written.bytes + bytes });
    }
    this.changed();
  }

  attemptEvent(e: AttemptEvent): void {
    const task = e.template.kind === "merge" ? "merge" : "bundle";
    const taskKey = `${e.stage.id}/${task}/${e.template.taskIndex}`;
    const key = `${taskKey}/${e.attempt}`;
    const s = this.stage(e.stage.id);
    if (e.phase === "launched") {
      const record: AttemptRecord = {
        stageId: e.stage.id,
        task,
        taskIndex: e.template.taskIndex,
        attempt: e.attempt,
        speculative: e.speculative,
        launchedAt: e.at,
        ...requestsOf(e.template),
      };
      const earlier = this.launchedTasks.has(taskKey);
      this.launchedTasks.add(taskKey);
      this.attempts.push(record);
      this.byKey.set(key, record);
      if (task === "bundle") {
        if (earlier) s.retried++;
        if (e.speculative) s.speculative++;
      }
    } else {
      const record = this.byKey.get(key);
      if (!record) return;
      if (e.phase === "started") {
        record.startedAt = e.at;
        if (task === "bundle") s.running++;
      } else {
        record.endedAt = e.at;
        if (task === "bundle" && record.startedAt !== undefined) s.running = Math.max(0, s.running - 1);
        record.startedAt ??= e.at;
        const result = e.result!;
        record.workerPid = result.workerPid;
        if (result.ok) {
          // The scheduler commits the first attempt of a task to succeed; a later one is ignored.
          record.outcome = this.winners.has(taskKey) ? "superseded" : "committed";
          if (record.outcome === "committed") this.winners.set(taskKey, e.attempt);
        } else {
          record.outcome = result.retryable && result.cause === "infrastructure" ? "lost" : "failed";
          record.error = firstLine(result.error);
          if (task === "bundle") s[record.outcome]++;
        }
      }
    }
    this.changed();
  }

  /** Each stage's progress as of now (copies), without the attempts: what a progress line needs. */
  stageViews(): StageProgress[] {
    return [...this.stages.values()].map((s) => {
      const read = this.mainSources.get(s.id)!.map((id) => this.written.get(id) ?? { elements: 0, bytes: 0 });
      return { ...s, elementsIn: read.reduce((sum, w) => sum + w.elements, 0), bytesIn: read.reduce((sum, w) => sum + w.bytes, 0) };
    });
  }

  /** The sums over `stages` (stageViews() unless given). */
  totals(stages: StageProgress[] = this.stageViews()): ProgressSnapshot["totals"] {
    const totals = { stages: stages.length, stagesDone: 0, tasks: 0, tasksDone: 0, running: 0, failed: 0, lost: 0 };
    for (const s of stages) {
      if (s.state === "done") totals.stagesDone++;
      totals.tasks += s.tasks ?? 0;
      totals.tasksDone += s.done;
      totals.running += s.running;
      totals.failed += s.failed;
      totals.lost += s.lost;
    }
    return totals;
  }

  /** Stages, totals and every attempt (copies), for the UI. */
  snapshot(): ProgressSnapshot {
    const stages = this.stageViews();
    return { stages, attempts: this.attempts.map((a) => ({ ...a })), totals: this.totals(stages) };
  }
}
