export { defaultPartitions, runPlan, type RunOptions } from "./run-plan.js";
export { EarlyTaskSlots } from "./early-task-slots.js";
export { DEFAULT_MERGE, type MergeOptions } from "./push-merge.js";
export { DEFAULT_SMALL_INPUT, type SmallInputOptions } from "./materializations.js";
export { DEFAULT_SPECULATION, type SpeculationOptions } from "./speculation.js";
export { StageFailedError, WorkerLostError, WorkerPoolGoneError } from "./errors.js";
export { type AttemptEvent, type AttemptFailure, DEFAULT_INFRASTRUCTURE_RETRY, DEFAULT_WORKER_POOL_TIMEOUT_MS, type InfrastructureRetryOptions } from "./attempts.js";
export { ATTEMPTS_PER_RUN, type CommitLog, type CommittedTask, type ResumeOptions } from "./resume.js";
