// A job's lifecycle: STOPPED (prepared) -> STARTING -> RUNNING -> DONE | FAILED | CANCELLED,
// with CANCELLING between RUNNING and CANCELLED. Transitions are guarded; listeners (the state
// and message streams) hear every change.
import { JobMessage_MessageImportance, JobState_Enum, type JobMessage } from "apache-beam/proto/beam_job_api";
import type { Pipeline } from "apache-beam/proto/beam_runner_api";
import { redactSecrets } from "../common/redact.js";
import type { ExecutionPlan } from "./planner/index.js";
import { MetricsAggregator } from "./metrics.js";
import { JobProgress } from "./progress/job-progress.js";

export const TERMINAL_STATES = new Set<JobState_Enum>([JobState_Enum.DONE, JobState_Enum.FAILED, JobState_Enum.CANCELLED]);

const TRANSITIONS: Record<number, JobState_Enum[]> = {
  [JobState_Enum.STOPPED]: [JobState_Enum.STARTING, JobState_Enum.CANCELLED, JobState_Enum.FAILED],
  [JobState_Enum.STARTING]: [JobState_Enum.RUNNING, JobState_Enum.FAILED, JobState_Enum.CANCELLING],
  [JobState_Enum.RUNNING]: [JobState_Enum.DONE, JobState_Enum.FAILED, JobState_Enum.CANCELLING],
  [JobState_Enum.CANCELLING]: [JobState_Enum.CANCELLED, JobState_Enum.FAILED, JobState_Enum.DONE],
};

export type JobEvent = { kind: "state"; state: JobState_Enum; at: Date } | { kind: "message"; message: JobMessage };

export class InvalidJobTransitionError extends Error {
  override name = "InvalidJobTransitionError";
}

export class Job {
  private currentState = JobState_Enum.STOPPED;
  private stateChangedAt = new Date();
  readonly messages: JobMessage[] = [];
  readonly metrics = new MetricsAggregator();
  /** Its stages' tasks and attempts as they run (the CLI's progress line and the UI read it). */
  readonly progress: JobProgress;
  /** When it was created (prepared, or restored from its journal). */
  readonly createdAt = new Date();
  /** Process ids of the workers that ran this job's committed tasks. */
  readonly workerPids = new Set<number>();
  readonly abort = new AbortController();
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private nextMessage = 0;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly pipeline: Pipeline,
    readonly pipelineOptions: Record<string, unknown>,
    readonly plan: ExecutionPlan,
  ) {
    this.progress = new JobProgress(plan);
  }

  get state(): JobState_Enum {
    return this.currentState;
  }

  get stateTimestamp(): Date {
    return this.stateChangedAt;
  }

  get terminal(): boolean {
    return TERMINAL_STATES.has(this.currentState);
  }

  transition(to: JobState_Enum): void {
    if (!TRANSITIONS[this.currentState]?.includes(to)) {
      throw new InvalidJobTransitionError(`job ${this.id} cannot go from ${JobState_Enum[this.currentState]} to ${JobState_Enum[to]}`);
    }
    this.currentState = to;
    this.stateChangedAt = new Date();
    this.emit({ kind: "state", state: to, at: this.stateChangedAt });
  }

  /** Adds a message; secret-named options' values in it are redacted, as it goes to clients and logs. */
  log(importance: JobMessage_MessageImportance, text: string): void {
    const message: JobMessage = {
      messageId: `${this.id}-${++this.nextMessage}`,
      time: new Date().toISOString(),
      importance,
      messageText: redactSecrets(text),
    };
    this.messages.push(message);
    this.emit({ kind: "message", message });
  }

  /**
   * Takes on the history an earlier job server recorded for this job (src/driver/journal/):
   * its messages and state, as they were; listeners hear only what happens next.
   */
  restore(events: JobEvent[]): void {
    for (const e of events) {
      if (e.kind === "message") this.messages.push(e.message);
      else [this.currentState, this.stateChangedAt] = [e.state, e.at];
    }
    this.nextMessage = this.messages.length;
  }

  fail(text: string): void {
    this.log(JobMessage_MessageImportance.JOB_MESSAGE_ERROR, text);
    if (!this.terminal) this.transition(JobState_Enum.FAILED);
  }

  /** Subscribes to future events; returns the unsubscribe function. */
  subscribe(listener: (e: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: JobEvent): void {
    for (const l of [...this.listeners]) l(e);
  }
}
