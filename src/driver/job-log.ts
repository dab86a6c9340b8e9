// A job's life in the job server's log (common/log.ts): its state changes and messages, and every
// task attempt's launch and end, each line carrying the job, stage, task and attempt ids. Clients
// get the same messages over the Job API; the log is for whoever runs the server.
import { JobMessage_MessageImportance, JobState_Enum } from "apache-beam/proto/beam_job_api";
import { type LogLevel, type Logger, log } from "../common/log.js";
import type { Job } from "./job.js";
import type { AttemptEvent } from "./scheduler/index.js";

const driverLog = log.child({ component: "driver" });

const LEVEL_OF: Partial<Record<JobMessage_MessageImportance, LogLevel>> = {
  [JobMessage_MessageImportance.JOB_MESSAGE_DEBUG]: "debug",
  [JobMessage_MessageImportance.JOB_MESSAGE_DETAILED]: "debug",
  [JobMessage_MessageImportance.JOB_MESSAGE_BASIC]: "info",
  [JobMessage_MessageImportance.JOB_MESSAGE_WARNING]: "warn",
  [JobMessage_MessageImportance.JOB_MESSAGE_ERROR]: "error",
};

/** Logs `job`'s state changes and messages from now on; returns its logger for the attempts. */
export function logJob(job: Job): Logger {
  const jobLog = driverLog.child({ job: job.id });
  jobLog.info(`job ${job.name} is ${JobState_Enum[job.state]}`, { name: job.name, state: JobState_Enum[job.state] });
  const unsubscribe = job.subscribe((e) => {
    if (e.kind === "state") {
      jobLog.info(`job ${job.name} is ${JobState_Enum[e.state]}`, { state: JobState_Enum[e.state] });
      if (job.terminal) unsubscribe();
    } else {
      const level = LEVEL_OF[e.message.importance] ?? "info";
      jobLog[level](e.message.messageText);
    }
  });
  return jobLog;
}

/** One attempt's launch (debug) or end (info; warn when it failed). */
export function logAttempt(jobLog: Logger, e: AttemptEvent): void {
  if (e.phase === "started") return;
  const fields = {
    stage: e.stage.id,
    task: e.template.taskIndex,
    attempt: e.attempt,
    ...(e.template.kind === "merge" && { merge: e.template.materializationId }),
    ...(e.speculative && { speculative: true }),
  };
  if (e.phase === "launched") return jobLog.debug("attempt launched", fields);
  const result = e.result!;
  if (result.ok) jobLog.info("attempt succeeded", { ...fields, worker: result.workerPid });
  else jobLog.warn(`attempt failed: ${result.error.split("\n", 1)[0]}`, { ...fields, worker: result.workerPid, cause: result.cause ?? "user", retryable: result.retryable });
}
