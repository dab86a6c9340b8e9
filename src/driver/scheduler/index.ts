export { runPlan, type RunOptions, type MergeOptions, DEFAULT_MERGE } from "./run-plan.js";
export { DEFAULT_SMALL_INPUT, type SmallInputOptions } from "./materializations.js";
export { DEFAULT_SPECULATION, type SpeculationOptions } from "./speculation.js";
export { StageFailedError } from "./errors.js";
