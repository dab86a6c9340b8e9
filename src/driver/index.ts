export { JobServer, type JobServerOptions, defaultPython, isLoopback } from "./job-server.js";
export { Job } from "./job.js";
export { type MetricView, describeMetrics } from "./metrics.js";
export { readTokenFile } from "./jobservice/caller-auth.js";
export { planPipeline, UnsupportedPipelineError } from "./planner/index.js";
