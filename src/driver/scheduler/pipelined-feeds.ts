// Pipelining (docs/shuffle.md): once every producer of a stage's main input has launched all
// its tasks, and its side inputs are complete, some of its tasks start early. Their input names
// a feed for each incomplete source: an object the driver rewrites as outputs commit (map
// outputs, or merged objects when merging), listing every output so far and how many to
// expect. An early task fetches what it knows, polls the feed for the rest, and so reads
// committed outputs while the producers' last tasks still run.
import type { Backend } from "../../backends/backend.js";
import { type FeedContent, type InputFeed, type ObjectRange, type TaskInput, rangeOf } from "../../common/task-spec.js";
import type { JobKeys, ObjectStore } from "../../store/index.js";
import type { Edge } from "../planner/index.js";
import type { EarlyTaskSlots } from "./early-task-slots.js";
import type { Materialization, Materializations } from "./materializations.js";
import type { StageRun, StageRuns } from "./stage-state.js";

/** The feeds of one job's materializations, each written once some task reads it. */
export class Feeds {
  private readonly watched = new Map<Materialization, { key: string; writes: Promise<void> }>();
  /** Why the job ended, once it has: every later write carries it, so no feed forgets it. */
  private failed?: string;

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: JobKeys,
    private readonly materializations: Materializations,
    /** A feed could not be written: the job fails, as a task would wait on it for ever. */
    private readonly onWriteFailed: (e: unknown) => void,
  ) {}

  /** An input whose complete sources are read as ranges and the others through their feeds. */
  input(edge: Edge, partition: number): TaskInput {
    const ranges: ObjectRange[] = [];
    const feeds: InputFeed[] = [];
    for (const source of edge.sources) {
      const m = this.materializations.get(source);
      if (m.complete) {
        for (const out of m.outputs) ranges.push(rangeOf(out, partition));
        continue;
      }
      let feed = this.watched.get(m);
      if (!feed) this.watched.set(m, (feed = { key: this.keys.feed(m.ordinal), writes: Promise.resolve() }));
      feeds.push({ key: feed.key, expected: m.expectedOutputs, partition });
      this.write(m);
    }
    return { read: edge.read, wireCoderId: edge.wireCoderId, ranges, feeds };
  }

  /** Rewrites `m`'s feed, if read, with every output readers may take so far; writes stay in order. */
  write(m: Materialization): void {
    const feed = this.watched.get(m);
    if (!feed) return;
    const content: FeedContent = { outputs: [...m.outputs], failed: this.failed };
    feed.writes = feed.writes.then(() => this.store.put(feed.key, Buffer.from(JSON.stringify(content)))).catch(this.onWriteFailed);
  }

  /** Tells tasks waiting on feeds that the job failed, so none waits for outputs that never come. */
  async close(e: unknown): Promise<void> {
    this.failed = e instanceof Error ? e.message : String(e);
    for (const m of this.materializations.all()) this.write(m);
    await Promise.all([...this.watched.values()].map((feed) => feed.writes));
  }
}

/** A task to start early: its partition, its input, and the slot to give back when it ends. */
export interface EarlyStart {
  partition: number;
  input: TaskInput;
  release: () => void;
}

/** Decides which of a job's tasks start early. */
export class Pipelining {
  constructor(
    private readonly stages: StageRuns,
    private readonly materializations: Materializations,
    private readonly feeds: Feeds,
    private readonly slots: EarlyTaskSlots,
    private readonly backend: Backend,
    private readonly partitions: number,
    /** With speculation on, early tasks leave a second slot free, for a straggler's copy. */
    private readonly speculation: boolean,
  ) {}

  /**
   * The tasks of a waiting stage that start now, one at a time: each has taken its slot and is
   * marked early in `run` when yielded.
   */
  *earlyStarts(run: StageRun): Generator<EarlyStart> {
    const { main } = run.stage;
    if (main.kind !== "edge" || !this.ready(run)) return;
    for (let partition = 0; partition < this.partitions; partition++) {
      if (run.early.has(partition)) continue;
      if (!this.slots.tryTake(this.backend.concurrency - (this.speculation ? 2 : 1))) return;
      run.startEarly(partition);
      yield { partition, input: this.feeds.input(main.edge, partition), release: () => this.slots.release() };
    }
  }

  /** Whether the stage may start tasks on feeds now. */
  private ready({ stage }: StageRun): boolean {
    if (stage.main.kind !== "edge" || stage.timers.length > 0) return false;
    const main = stage.main.edge.sources;
    if (!this.materializations.allComplete(stage.sideInputs.flatMap((si) => si.edge.sources))) return false;
    if (!main.every((id) => this.stages.producerOf(id).launched)) return false;
    if (this.materializations.allComplete(main)) return false;
    // Until what has committed shows the input is not small, it may yet run as one task.
    if (this.materializations.isSmall(stage.main.edge)) return false;
    // Only the main input's producers may be unfinished; any other upstream must be done.
    const mainProducers = new Set(main.map((id) => this.stages.producerOf(id).stage.id));
    return stage.upstream.every((id) => mainProducers.has(id) || this.stages.get(id).state.kind === "done");
  }
}
