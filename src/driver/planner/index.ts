export { planPipeline, type PlannerOptions } from "./plan-pipeline.js";
export { MalformedPipelineError, UnsupportedPipelineError } from "./errors.js";
export { validatePipeline } from "./validate-pipeline.js";
export { WORKER_ENDPOINT_PLACEHOLDER } from "./data-transforms.js";
export type { Edge, ExecutionPlan, Stage, StageOutput, StageSideInput } from "./stage.js";
