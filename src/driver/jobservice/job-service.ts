// Beam's JobService over gRPC. It validates and plans at Prepare, hands execution to the
// function it was given, and reports through Job objects. It knows nothing of backends.
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { createDefinition } from "@protobuf-ts/grpc-backend";
import {
  JobMessage_MessageImportance,
  JobService,
  JobState_Enum,
  type JobMessagesResponse,
  type JobStateEvent,
  type PrepareJobRequest,
} from "apache-beam/proto/beam_job_api";
import { Struct } from "apache-beam/proto/google/protobuf/struct";
import { Pipeline } from "apache-beam/proto/beam_runner_api";
import { Job, type JobEvent } from "../job.js";
import { type ExecutionPlan, UnsupportedPipelineError } from "../planner/index.js";
import type { JobRegistry } from "./job-registry.js";

export { JobRegistry } from "./job-registry.js";

export interface JobServiceDeps {
  /** Validates and plans a pipeline; throws UnsupportedPipelineError for what the runner cannot run. */
  plan(pipeline: Pipeline): ExecutionPlan;
  /** Runs a job to completion; a rejection fails the job with the error's message. */
  execute(job: Job): Promise<void>;
  /** Address SDKs stage artifacts to (this server's own address). */
  artifactEndpoint(): string;
}

type UnaryHandler<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

export function addJobService(server: grpc.Server, registry: JobRegistry, deps: JobServiceDeps): void {
  const unary =
    <Req, Res>(fn: (req: Req) => Res | Promise<Res>): UnaryHandler<Req, Res> =>
    (call, callback) => {
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (res) => callback(null, res),
          (e: Error & { code?: grpc.status }) => callback({ code: e.code ?? grpc.status.INTERNAL, details: e.message }),
        );
    };

  server.addService(createDefinition(JobService), {
    prepare: unary((req: PrepareJobRequest) => {
      // Before planning: a server at its limit spends nothing on the request.
      registry.checkCapacity();
      const pipeline = req.pipeline ?? Pipeline.create();
      let plan: ExecutionPlan;
      try {
        plan = deps.plan(pipeline);
      } catch (e) {
        if (e instanceof UnsupportedPipelineError) throw Object.assign(new Error(e.message), { code: grpc.status.INVALID_ARGUMENT });
        throw e;
      }
      // The preparation id is the job id. Job names repeat ('job' from Python): never key on them.
      const id = `${(req.jobName || "job").replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40)}-${randomUUID().slice(0, 8)}`;
      const options = req.pipelineOptions ? (Struct.toJson(req.pipelineOptions) as Record<string, unknown>) : {};
      registry.add(new Job(id, req.jobName, pipeline, options, plan));
      return { preparationId: id, artifactStagingEndpoint: { url: deps.artifactEndpoint(), authentication: undefined }, stagingSessionToken: id };
    }),
    run: unary((req: { preparationId: string }) => {
      const job = registry.get(req.preparationId);
      if (job.state !== JobState_Enum.STOPPED) {
        throw Object.assign(new Error(`job '${job.id}' was already run or cancelled (it is ${JobState_Enum[job.state]}); prepare it again to run it again`), {
          code: grpc.status.FAILED_PRECONDITION,
        });
      }
      job.transition(JobState_Enum.STARTING);
      void deps.execute(job).then(
        () => {
          if (!job.terminal) job.transition(JobState_Enum.DONE);
        },
        (e: Error) => {
          if (job.state === JobState_Enum.CANCELLING) job.transition(JobState_Enum.CANCELLED);
          else job.fail(e.message);
        },
      );
      return { jobId: job.id };
    }),
    getJobs: unary(() => ({
      jobInfo: [...registry.jobs.values()].map((j) => ({ jobId: j.id, jobName: j.name, state: j.state, pipelineOptions: Struct.fromJson(j.pipelineOptions as never) })),
    })),
    getState: unary((req: { jobId: string }) => stateEvent(registry.get(req.jobId).state, registry.get(req.jobId).stateTimestamp)),
    getPipeline: unary((req: { jobId: string }) => ({ pipeline: registry.get(req.jobId).pipeline })),
    cancel: unary((req: { jobId: string }) => {
      const job = registry.get(req.jobId);
      if (job.state === JobState_Enum.STOPPED) job.transition(JobState_Enum.CANCELLED);
      else if (!job.terminal && job.state !== JobState_Enum.CANCELLING) {
        job.transition(JobState_Enum.CANCELLING);
        job.abort.abort(new Error(`job ${job.id} was cancelled`));
      }
      return { state: job.state };
    }),
    getStateStream: (call: grpc.ServerWritableStream<{ jobId: string }, JobStateEvent>) => {
      streamJob(call, registry, (job, write) => {
        write(stateEvent(job.state, job.stateTimestamp));
        return (e) => {
          if (e.kind === "state") write(stateEvent(e.state, e.at));
        };
      });
    },
    getMessageStream: (call: grpc.ServerWritableStream<{ jobId: string }, JobMessagesResponse>) => {
      streamJob(call, registry, (job, write) => {
        for (const m of job.messages) write({ response: { oneofKind: "messageResponse", messageResponse: m } });
        write({ response: { oneofKind: "stateResponse", stateResponse: stateEvent(job.state, job.stateTimestamp) } });
        return (e) => {
          if (e.kind === "message") write({ response: { oneofKind: "messageResponse", messageResponse: e.message } });
          else write({ response: { oneofKind: "stateResponse", stateResponse: stateEvent(e.state, e.at) } });
        };
      });
    },
    getJobMetrics: unary((req: { jobId: string }) => {
      const results = registry.get(req.jobId).metrics.results();
      return { metrics: { attempted: results, committed: results } };
    }),
    describePipelineOptions: unary(() => ({ options: [] })),
  });
}

/** Streams a job's events until it reaches a terminal state or the client goes away. */
function streamJob<T>(
  call: grpc.ServerWritableStream<{ jobId: string }, T>,
  registry: JobRegistry,
  start: (job: Job, write: (m: T) => void) => (e: JobEvent) => void,
): void {
  let job: Job;
  try {
    job = registry.get(call.request.jobId);
  } catch (e) {
    call.emit("error", { code: grpc.status.NOT_FOUND, details: (e as Error).message });
    return;
  }
  if (job.state === JobState_Enum.STOPPED) {
    // Python's PortableRunner opens both streams on the preparation id before Run with its
    // job_server_timeout (60 s) as the deadline of the whole stream, which would break every job
    // longer than that. When they fail it opens them again after Run, without a deadline (the
    // path Flink's job server takes), so a job is watched only once it runs.
    call.emit("error", { code: grpc.status.FAILED_PRECONDITION, details: `job '${job.id}' has not been run yet; watch it after Run` });
    return;
  }
  const write = (m: T): void => {
    if (!call.writableEnded) call.write(m);
  };
  const onEvent = start(job, write);
  if (job.terminal) {
    call.end();
    return;
  }
  const unsubscribe = job.subscribe((e) => {
    onEvent(e);
    if (job.terminal) {
      unsubscribe();
      call.end();
    }
  });
  call.on("cancelled", unsubscribe);
  call.on("close", unsubscribe);
}

function stateEvent(state: JobState_Enum, at: Date): JobStateEvent {
  const ms = at.getTime();
  return { state, timestamp: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 } };
}

export { JobMessage_MessageImportance };
