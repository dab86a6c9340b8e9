export { planPipeline, type PlannerOptions } from "./plan-pipeline.js";
export { UnsupportedPipelineError } from "./errors.js";
export { WORKER_ENDPOINT_PLACEHOLDER } from "./data-transforms.js";
export type { Edge, ExecutionPlan, Stage, StageOutput, StageSideInput } from "./stage.js";
