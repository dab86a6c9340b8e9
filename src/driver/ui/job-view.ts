// The UI's JSON: a job's summary for the list, and its detail page (the fused stage graph,
// progress, attempts, messages, user metrics, and the cost estimate). Views only: they read the
// Job and its plan, and change nothing.
import { JobMessage_MessageImportance, JobState_Enum } from "apache-beam/proto/beam_job_api";
import type { LambdaArchitecture } from "../../common/aws-cost.js";
import type { Job } from "../job.js";
import { type MetricView, describeMetrics } from "../metrics.js";
import { DEFAULT_LAMBDA_MEMORY_MB, estimateJobCost } from "../progress/job-cost.js";
import type { AttemptRecord, ProgressSnapshot, StageProgress } from "../progress/job-progress.js";

export interface JobSummary {
  id: string;
  name: string;
  state: string;
  /** When it was prepared (ms since the epoch). */
  createdAt: number;
  /** When it entered its state. */
  stateSince: number;
  /** Where its tasks run: `local`, `lambda-emulator`, `aws`. */
  backend: string;
  terminal: boolean;
}

export interface GraphNode {
  id: string;
  name: string;
  /** The unique names of the pipeline's transforms fused into the stage. */
  transforms: string[];
  /** A stage with no SDK transform: the runner copies a GroupByKey's output on (Flatten, Reshuffle). */
  runnerOnly: boolean;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: "main" | "side";
  /** What the runner does on the way: "GroupByKey", or the side input's tag. */
  label: string;
  pcollection: string;
}

/** Tasks the timeline draws at most: a huge job's page shows its first tasks, and each update stays small. */
export const TIMELINE_TASKS = 400;

/** What the task timeline draws: the attempts of the job's first tasks, not every attempt. */
export interface Timeline {
  /** When the job's first attempt launched (ms since the epoch): the time axis starts there. */
  startedAt?: number;
  /** Tasks with an attempt so far, drawn or not. */
  tasks: number;
  /** The drawn tasks' attempts, task by task (stage order, then bundles before merges, then index). */
  attempts: AttemptRecord[];
}

export interface JobDetail {
  job: JobSummary;
  graph: { nodes: GraphNode[]; edges: GraphEdge[] };
  /** Stages and totals; the attempts are in `timeline`, for the tasks drawn. */
  progress: Omit<ProgressSnapshot, "attempts">;
  timeline: Timeline;
  messages: { time: string; importance: string; text: string }[];
  metrics: MetricView[];
  cost: { memoryMb: number; architecture: LambdaArchitecture; backend: string; totalUsd: number; lines: { item: string; quantity: number; unit: string; usd: number }[] };
}

/** Messages a detail carries: the latest, so a chatty job's page stays small. */
const MESSAGES_SHOWN = 500;

export function jobSummary(job: Job, backend: string): JobSummary {
  return {
    id: job.id,
    name: job.name,
    state: JobState_Enum[job.state] ?? String(job.state),
    createdAt: job.createdAt.getTime(),
    stateSince: job.stateTimestamp.getTime(),
    backend,
    terminal: job.terminal,
  };
}

/** The fused stages as a graph: an edge per stage that reads another's output, main or side. */
export function stageGraph(job: Job): JobDetail["graph"] {
  const pcollections = job.pipeline.components?.pcollections ?? {};
  const producer = new Map<string, string>();
  for (const stage of job.plan.stages) for (const o of stage.outputs) producer.set(o.id, stage.id);
  const nodes = job.plan.stages.map((stage) => ({
    id: stage.id,
    name: stage.name,
    // The stage's name joins its user transforms' names (the planner's own, such as a lifted
    // combine's Precombine, are among them; the pipeline's components do not hold those).
    transforms: stage.name.split(" + "),
    runnerOnly: stage.passThrough !== undefined,
  }));
  const edges: GraphEdge[] = [];
  const seen = new Set<string>();
  const add = (sources: string[], to: string, kind: GraphEdge["kind"], label: string, pcollection: string) => {
    for (const source of sources) {
      const from = producer.get(source);
      const key = `${from}>${to}:${kind}:${label}`;
      if (from === undefined || seen.has(key)) continue;
      seen.add(key);
      edges.push({ from, to, kind, label, pcollection: pcollections[pcollection]?.uniqueName ?? pcollection });
    }
  };
  for (const stage of job.plan.stages) {
    if (stage.main.kind === "edge") add(stage.main.edge.sources, stage.id, "main", stage.main.edge.read.kind === "group" ? "GroupByKey" : "", stage.main.edge.pcollection);
    for (const side of stage.sideInputs) add(side.edge.sources, stage.id, "side", `side input ${side.tag}`, side.edge.pcollection);
  }
  return { nodes, edges };
}

/** The timeline of `attempts`: at most `limit` tasks, so that a job of a hundred thousand attempts sends kilobytes, not megabytes. */
export function timelineOf(stages: Pick<StageProgress, "id">[], attempts: AttemptRecord[], limit = TIMELINE_TASKS): Timeline {
  const order = new Map(stages.map((s, i) => [s.id, i]));
  const byTask = new Map<string, AttemptRecord[]>();
  for (const a of attempts) {
    const key = `${a.stageId}/${a.task}/${a.taskIndex}`;
    const task = byTask.get(key);
    if (task) task.push(a);
    else byTask.set(key, [a]);
  }
  const tasks = [...byTask.values()].sort(([a], [b]) => order.get(a!.stageId)! - order.get(b!.stageId)! || a!.task.localeCompare(b!.task) || a!.taskIndex - b!.taskIndex);
  // Reduced, not spread into Math.min: a big job's attempts would exceed the engine's argument limit.
  const startedAt = attempts.reduce((min, a) => Math.min(min, a.launchedAt), Infinity);
  return {
    ...(attempts.length > 0 && { startedAt }),
    tasks: tasks.length,
    attempts: tasks.slice(0, limit).flatMap((task) => task.sort((a, b) => a.attempt - b.attempt)),
  };
}

export function jobDetail(job: Job, backend: string, lambda: { memoryMb?: number; architecture?: LambdaArchitecture } = {}): JobDetail {
  const transforms = job.pipeline.components?.transforms ?? {};
  const { attempts, ...progress } = job.progress.snapshot();
  const memoryMb = lambda.memoryMb ?? DEFAULT_LAMBDA_MEMORY_MB;
  const architecture = lambda.architecture ?? "x86_64";
  const estimate = estimateJobCost({ ...progress, attempts }, { memoryMb, architecture, ...(job.terminal && { endedAt: job.stateTimestamp.getTime() }) });
  return {
    job: jobSummary(job, backend),
    graph: stageGraph(job),
    progress,
    timeline: timelineOf(progress.stages, attempts),
    messages: job.messages.slice(-MESSAGES_SHOWN).map((m) => ({
      time: m.time,
      importance: (JobMessage_MessageImportance[m.importance] ?? "").replace(/^JOB_MESSAGE_/, ""),
      text: m.messageText,
    })),
    metrics: describeMetrics(job.metrics.results(), (id) => transforms[id]?.uniqueName || id),
    cost: { memoryMb, architecture, backend, totalUsd: estimate.totalUsd, lines: estimate.lines },
  };
}
