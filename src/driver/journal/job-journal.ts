// A job's journal in the object store (src/store/layout.ts, `journal/<job>/`): what Run was
// given, every state change and message, and each committed task's outputs, written as they
// happen, so that a job server restarted on the same store serves the job's history and resumes
// it from its committed tasks (resume-jobs.ts).
// Every record is an object of its own, never read, changed and written back: events are
// numbered in order, and a task's commit has one key, written once.
import { createHash } from "node:crypto";
import type { JobMessage, JobState_Enum } from "apache-beam/proto/beam_job_api";
import { Pipeline } from "apache-beam/proto/beam_runner_api";
import { JOURNAL_FOLDER, JournalKeys, type ObjectStore, journaledJobIds } from "../../store/index.js";
import type { JobOwner } from "../jobservice/caller-auth.js";
import { type Job, type JobEvent, TERMINAL_STATES } from "../job.js";
import type { ExecutionPlan } from "../planner/index.js";
import type { CommittedTask } from "../scheduler/index.js";
import { log } from "../../common/log.js";

/** A committed task as recorded: its outputs and the metrics of its committed attempt. */
export interface CommitRecord extends CommittedTask {
  monitoringInfos: string[];
}

/** Everything a journal holds about one job. */
export interface JournaledJob {
  id: string;
  name: string;
  pipelineOptions: Record<string, unknown>;
  owner: JobOwner;
  /** Partitions of every shuffle: committed outputs are split so, and a resumed run must split the same way. */
  partitions: number;
  pipeline: Pipeline;
  events: JobEvent[];
  commits: CommitRecord[];
  /** Runs of the job so far: 1 after the first, one more per resume. */
  runs: number;
  /** The shape of the plan its commits refer to (`planDigest`); absent in journals written before it was recorded. */
  planDigest?: string;
}

interface JobRecord {
  name: string;
  pipelineOptions: Record<string, unknown>;
  owner?: string;
  partitions: number;
  planDigest?: string;
}

/**
 * What a committed task's record means depends on the plan: which stage an id names, which
 * transforms it runs, which materializations it writes. A server that plans the same pipeline
 * differently (another version of the planner) must not reuse the commits: this digest tells.
 */
export function planDigest(plan: ExecutionPlan): string {
  const shape = plan.stages.map((s) => [
    s.id,
    s.transformIds,
    s.main.kind === "edge" ? s.main.edge.sources : "impulse",
    s.sideInputs.map((si) => si.edge.sources),
    s.outputs.map((o) => [o.id, o.partitionBy]),
  ]);
  return createHash("sha256").update(JSON.stringify(shape)).digest("hex");
}

type EventRecord = { kind: "state"; state: JobState_Enum; at: string } | { kind: "message"; message: JobMessage };

const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

export class JobJournal {
  private readonly keys: JournalKeys;
  /** Event writes, one after the other, so that the journal never has a gap before a later event. */
  private writes: Promise<void> = Promise.resolve();
  private unsubscribe = (): void => undefined;
  private detached = false;

  constructor(
    private readonly store: ObjectStore,
    readonly jobId: string,
    /** The number of the next event (a resumed job's journal already has some). */
    private nextEvent = 0,
    /** Called once the job's end is recorded: the job is truly over (e.g. its scratch space may go). */
    private readonly onEndRecorded: () => Promise<void> = async () => undefined,
  ) {
    this.keys = new JournalKeys(jobId);
  }

  /** The job ids with a journal in `store`. */
  static async jobIds(store: ObjectStore): Promise<string[]> {
    return journaledJobIds(await store.list(JOURNAL_FOLDER));
  }

  /** Records the job as Run received it, with its history so far, then follows its events. */
  async begin(job: Job, owner: JobOwner, partitions: number): Promise<void> {
    await this.store.put(this.keys.pipeline, Pipeline.toBinary(job.pipeline));
    const record: JobRecord = {
      name: job.name,
      pipelineOptions: job.pipelineOptions,
      ...(owner !== undefined && { owner }),
      partitions,
      planDigest: planDigest(job.plan),
    };
    await this.store.put(this.keys.job, json(record));
    for (const message of job.messages) this.append({ kind: "message", message });
    this.append({ kind: "state", state: job.state, at: job.stateTimestamp });
    this.follow(job);
    await this.flush();
  }

  /** Records each of the job's events from now on. */
  follow(job: Job): void {
    this.unsubscribe = job.subscribe((e) => this.append(e));
  }

  /** Numbers this run of the job (0 for the first) and records it. */
  async beginRun(): Promise<number> {
    const run = (await this.store.list(this.keys.runs)).length;
    await this.store.put(this.keys.run(run), json({ at: new Date().toISOString() }));
    return run;
  }

  /**
   * Records a committed task; a task already recorded is an error: no task commits twice. Once
   * detached it records nothing more, and the commit fails: a later server runs the task again.
   */
  async recordCommit(task: CommitRecord): Promise<void> {
    if (this.detached) throw new Error(`the job server is stopping: the commit of task ${task.taskIndex} of stage ${task.stageId} is left to the next one`);
    const key = this.keys.commit(task.stageId, task.taskIndex);
    if (!(await this.store.create(key, json(task)))) throw new Error(`task ${task.taskIndex} of stage ${task.stageId} was already committed (journal)`);
  }

  /** Resolves when every event so far is written. */
  flush(): Promise<void> {
    return this.writes;
  }

  /**
   * Stops recording (the server is stopping, not the job): whatever happens to the job in this
   * process from now on is not its fate, and a server started later resumes it.
   */
  async detach(): Promise<void> {
    this.detached = true;
    this.unsubscribe();
    await this.flush();
  }

  private append(e: JobEvent): void {
    if (this.detached) return;
    const seq = this.nextEvent++;
    const record: EventRecord = e.kind === "state" ? { kind: "state", state: e.state, at: e.at.toISOString() } : e;
    const ends = e.kind === "state" && TERMINAL_STATES.has(e.state);
    this.writes = this.writes
      .then(() => this.store.put(this.keys.event(seq), json(record)))
      .then(() => (ends && !this.detached ? this.onEndRecorded() : undefined))
      .catch((err: unknown) => {
        log.warn(`could not record event ${seq} in the journal: ${(err as Error).message}`, { component: "driver", job: this.jobId });
      });
  }

  /** Reads a job's journal; undefined when it has no job record (Run's first write did not finish). */
  static async read(store: ObjectStore, jobId: string): Promise<JournaledJob | undefined> {
    const keys = new JournalKeys(jobId);
    if (!(await store.exists(keys.job)) || !(await store.exists(keys.pipeline))) return undefined;
    const record = JSON.parse((await store.get(keys.job)).toString()) as JobRecord;
    const pipeline = Pipeline.fromBinary(await store.get(keys.pipeline));
    const [eventKeys, commitKeys, runKeys] = await Promise.all([store.list(keys.events), store.list(keys.commits), store.list(keys.runs)]);
    const readJson = async <T>(key: string): Promise<T> => JSON.parse((await store.get(key)).toString()) as T;
    const events = (await Promise.all(eventKeys.sort().map((k) => readJson<EventRecord>(k)))).map(
      (e): JobEvent => (e.kind === "state" ? { kind: "state", state: e.state, at: new Date(e.at) } : e),
    );
    const commits = await Promise.all(commitKeys.map((k) => readJson<CommitRecord>(k)));
    const { name, pipelineOptions, owner, partitions, planDigest } = record;
    return { id: jobId, name, pipelineOptions, owner, partitions, pipeline, events, commits, runs: runKeys.length, ...(planDigest && { planDigest }) };
  }
}
