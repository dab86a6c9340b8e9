export { JobServer, type JobServerOptions, defaultPython } from "./job-server.js";
export { Job } from "./job.js";
export { planPipeline, UnsupportedPipelineError } from "./planner/index.js";
