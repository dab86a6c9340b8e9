// The progress `beam-lambda run` shows while its pipeline runs: on a terminal, one line redrawn
// in place (stages and tasks done of total, tasks running, elapsed); elsewhere (a log file, CI),
// plain lines: one per stage as it ends, and one when the job ends. The pipeline's own output
// passes through `write`, which keeps it clear of the redrawn line.
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import type { Job } from "../driver/index.js";

/** The progress of one job in one line: "job NAME RUNNING · stages 2/5 · tasks 9/20 (3 running) · 4.1s". */
export function progressLine(job: Job, now = Date.now()): string {
  const totals = job.progress.totals();
  const elapsed = ((now - job.createdAt.getTime()) / 1000).toFixed(1);
  const trouble = [totals.failed > 0 && `${totals.failed} failed`, totals.lost > 0 && `${totals.lost} lost`].filter(Boolean).join(", ");
  return [
    `job ${job.name} ${JobState_Enum[job.state]}`,
    `stages ${totals.stagesDone}/${totals.stages}`,
    `tasks ${totals.tasksDone}/${totals.tasks}${totals.running > 0 ? ` (${totals.running} running)` : ""}${trouble ? ` [${trouble} attempts]` : ""}`,
    `${elapsed}s`,
  ].join(" · ");
}

export interface ProgressDisplayOptions {
  /** Where progress goes (the CLI's stderr). */
  out: NodeJS.WriteStream | { write(text: string): boolean; isTTY?: boolean; columns?: number };
  /** Redraws per second on a terminal. */
  fps?: number;
}

/** Shows the progress of the jobs a job server runs. */
export class ProgressDisplay {
  private readonly jobs = new Set<Job>();
  private readonly timer?: NodeJS.Timeout;
  /** Whether a progress line is on screen, to be cleared before other output. */
  private drawn = false;
  private readonly tty: boolean;

  constructor(private readonly options: ProgressDisplayOptions) {
    this.tty = options.out.isTTY === true;
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 1000 / (options.fps ?? 8));
      this.timer.unref();
    }
  }

  /** Follows `job` from now to its end. */
  watch(job: Job): void {
    if (this.jobs.has(job)) return;
    this.jobs.add(job);
    const stagesDone = new Set<string>();
    const onProgress = () => {
      if (this.tty) return;
      for (const stage of job.progress.stageViews()) {
        if (stage.state !== "done" || stagesDone.has(stage.id)) continue;
        stagesDone.add(stage.id);
        const seconds = ((stage.endedAt! - (stage.startedAt ?? stage.endedAt!)) / 1000).toFixed(1);
        const name = stage.name.length > 60 ? `${stage.name.slice(0, 59)}…` : stage.name;
        this.line(`stage ${stage.id} [${name}] done: ${stage.done} tasks, ${stage.elementsOut} elements out, ${seconds}s · ${progressLine(job)}`);
      }
    };
    const unsubscribe = job.progress.subscribe(onProgress);
    const unwatch = job.subscribe((e) => {
      if (e.kind !== "state" || !job.terminal) return;
      unsubscribe();
      unwatch();
      this.jobs.delete(job);
      this.line(progressLine(job));
    });
  }

  /** Writes text (the pipeline's output, to `stream` or the progress's own) without tearing the progress line. */
  write(text: string | Buffer, stream: { write(text: string | Buffer): boolean } = this.options.out): void {
    this.clear();
    stream.write(text);
    this.draw();
  }

  /** A line that stays: a finished stage, a finished job. */
  private line(text: string): void {
    this.clear();
    this.options.out.write(`${text}\n`);
    this.draw();
  }

  private clear(): void {
    if (!this.drawn) return;
    this.options.out.write("\r\x1b[2K");
    this.drawn = false;
  }

  private draw(): void {
    if (!this.tty || this.jobs.size === 0) return;
    const width = (this.options.out.columns ?? 80) - 1;
    const text = [...this.jobs].map((job) => progressLine(job)).join(" | ");
    this.options.out.write(`\r\x1b[2K${text.slice(0, width)}`);
    this.drawn = true;
  }

  close(): void {
    clearInterval(this.timer);
    this.clear();
  }
}
