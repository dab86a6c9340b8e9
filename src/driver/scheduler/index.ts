export { runPlan, type RunOptions } from "./run-plan.js";
export { StageFailedError } from "./errors.js";
