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
import type { Pipeline } from "apache-beam/proto/beam_runner_api";
import { redactOptions } from "../../common/redact.js";
import { Job, type JobEvent } from "../job.js";
import { type ExecutionPlan, UnsupportedPipelineError } from "../planner/index.js";
import type { JobOwner } from "./caller-auth.js";
import { CallerAuth } from "./caller-auth.js";
import type { JobAdmission } from "./job-admission.js";
import type { JobRegistry } from "./job-registry.js";
import { UndecodableRequest, decodeTolerantly } from "./undecodable-request.js";

export { JobRegistry } from "./job-registry.js";

export interface JobServiceDeps {
  /** Validates and plans a pipeline; throws UnsupportedPipelineError for what the runner cannot run. */
  plan(pipeline: Pipeline): ExecutionPlan;
  /** Runs a job to completion; a rejection fails the job with the error's message. */
  execute(job: Job): Promise<void>;
  /** Makes a job that is starting durable (its journal) before Run answers; absent: nothing to record. */
  record?(job: Job): Promise<void>;
  /**
   * Address SDKs stage artifacts to, given the `host[:port]` the preparing client reached this
   * server by (its :authority): the bind address (0.0.0.0) is no address to connect to.
   */
  artifactEndpoint(authority: string): string;
  /** Who may call, and whose jobs they see (default: anyone, every job). */
  auth?: CallerAuth;
  /** How many jobs run and wait at once (default: no limit). */
  admission?: JobAdmission;
}

type UnaryHandler<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

/** A client's :authority as an endpoint for it: `host:port`, the port the server's own when the client left it out. */
export function endpointFor(authority: string, fallback: { host: string; port: number }): string {
  // A host name, an IPv4 address or a bracketed IPv6 address, with an optional port; anything else is not trusted.
  const parsed = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!parsed) return `${fallback.host}:${fallback.port}`;
  return `${parsed[1]}:${parsed[2] ?? fallback.port}`;
}

export function addJobService(server: grpc.Server, registry: JobRegistry, deps: JobServiceDeps): void {
  const auth = deps.auth ?? new CallerAuth();
  const unary =
    <Req, Res>(fn: (req: Req, caller: JobOwner, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>): UnaryHandler<Req, Res> =>
    (call, callback) => {
      Promise.resolve()
        .then(() => {
          const request: unknown = call.request;
          if (request instanceof UndecodableRequest) throw Object.assign(new Error(request.message), { code: grpc.status.INVALID_ARGUMENT });
          return fn(call.request, auth.ownerOf(call.metadata), call);
        })
        .then(
          (res) => callback(null, res),
          // A Node error's code is a string ('ENOENT'): only a gRPC status passes through.
          (e: Error & { code?: unknown }) => callback({ code: typeof e.code === "number" ? e.code : grpc.status.INTERNAL, details: e.message }),
        );
    };

  server.addService(decodeTolerantly(createDefinition(JobService)), {
    prepare: unary((req: PrepareJobRequest, caller, call) => {
      // Before planning: a server at its limit spends nothing on the request.
      registry.checkCapacity();
      if (!req.pipeline) throw Object.assign(new Error("the request carries no pipeline"), { code: grpc.status.INVALID_ARGUMENT });
      const pipeline = req.pipeline;
      const plan = planOrReject(deps, pipeline);
      const options = pipelineOptions(req);
      const name = jobNameOf(req, options);
      // The preparation id is the job id. Job names repeat: never key on them.
      const id = `${name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40)}-${randomUUID().slice(0, 8)}`;
      const stagingSessionToken = registry.add(new Job(id, name, pipeline, options, plan), caller);
      return { preparationId: id, artifactStagingEndpoint: { url: deps.artifactEndpoint(call.getHost()), authentication: undefined }, stagingSessionToken };
    }),
    run: unary(async (req: { preparationId: string }, caller) => {
      const job = registry.get(req.preparationId, caller);
      if (job.state !== JobState_Enum.STOPPED) {
        throw Object.assign(new Error(`job '${job.id}' is ${JobState_Enum[job.state]}; only a prepared job can be run, once (prepare it again to run it again)`), {
          code: grpc.status.FAILED_PRECONDITION,
        });
      }
      deps.admission?.checkRoom();
      job.transition(JobState_Enum.STARTING);
      registry.closeStaging(job);
      // The client hears the job runs only once a restarted server would find it.
      await deps.record?.(job).catch((e: unknown) => {
        job.fail(`the job could not be recorded in the store: ${(e as Error).message}`);
        throw Object.assign(new Error(`job '${job.id}' could not be recorded in the store: ${(e as Error).message}`), { code: grpc.status.UNAVAILABLE });
      });
      // STARTING until admitted: a job beyond maxRunningJobs waits for a slot.
      void executeToEnd(job, (j) => (deps.admission ? deps.admission.run(j, () => deps.execute(j)) : deps.execute(j)));
      return { jobId: job.id };
    }),
    // Options may carry credentials: a listing shows their names, not their values.
    getJobs: unary((_req, caller) => ({
      jobInfo: registry
        .visibleTo(caller)
        .map((j) => ({ jobId: j.id, jobName: j.name, state: j.state, pipelineOptions: Struct.fromJson(redactOptions(j.pipelineOptions) as never) })),
    })),
    getState: unary((req: { jobId: string }, caller) => {
      const job = registry.get(req.jobId, caller);
      return stateEvent(job.state, job.stateTimestamp);
    }),
    getPipeline: unary((req: { jobId: string }, caller) => ({ pipeline: registry.get(req.jobId, caller).pipeline })),
    cancel: unary((req: { jobId: string }, caller) => {
      const job = registry.get(req.jobId, caller);
      if (job.state === JobState_Enum.STOPPED) job.transition(JobState_Enum.CANCELLED);
      else if (!job.terminal && job.state !== JobState_Enum.CANCELLING) {
        job.transition(JobState_Enum.CANCELLING);
        job.abort.abort(new Error(`job ${job.id} was cancelled`));
      }
      return { state: job.state };
    }),
    getStateStream: (call: grpc.ServerWritableStream<{ jobId: string }, JobStateEvent>) => {
      streamJob(call, registry, auth, (job, write) => {
        write(stateEvent(job.state, job.stateTimestamp));
        return (e) => {
          if (e.kind === "state") write(stateEvent(e.state, e.at));
        };
      });
    },
    getMessageStream: (call: grpc.ServerWritableStream<{ jobId: string }, JobMessagesResponse>) => {
      streamJob(call, registry, auth, (job, write) => {
        for (const m of job.messages) write({ response: { oneofKind: "messageResponse", messageResponse: m } });
        write({ response: { oneofKind: "stateResponse", stateResponse: stateEvent(job.state, job.stateTimestamp) } });
        return (e) => {
          if (e.kind === "message") write({ response: { oneofKind: "messageResponse", messageResponse: e.message } });
          else write({ response: { oneofKind: "stateResponse", stateResponse: stateEvent(e.state, e.at) } });
        };
      });
    },
    getJobMetrics: unary((req: { jobId: string }, caller) => {
      const results = registry.get(req.jobId, caller).metrics.results();
      return { metrics: { attempted: results, committed: results } };
    }),
    describePipelineOptions: unary(() => ({ options: [] })),
  });
}

/** Runs a started job and ends it: DONE, CANCELLED if it was being cancelled, else FAILED with the error. */
export function executeToEnd(job: Job, execute: (job: Job) => Promise<void>): Promise<void> {
  return execute(job).then(
    () => {
      if (!job.terminal) job.transition(JobState_Enum.DONE);
    },
    (e: Error) => {
      if (job.state === JobState_Enum.CANCELLING) job.transition(JobState_Enum.CANCELLED);
      else job.fail(e.message);
    },
  );
}

/** The request's pipeline options as JSON; a Struct that has no JSON form is the caller's error. */
/**
 * The job's name: the user's --job_name where the SDK sent one, since Python's PortableRunner
 * prepares every job as 'job' and sends the user's name only among the options.
 */
function jobNameOf(req: PrepareJobRequest, options: Record<string, unknown>): string {
  const option = options["beam:option:job_name:v1"] ?? options.job_name;
  if (typeof option === "string" && option && (!req.jobName || req.jobName === "job")) return option;
  return req.jobName || "job";
}

function pipelineOptions(req: PrepareJobRequest): Record<string, unknown> {
  if (!req.pipelineOptions) return {};
  try {
    return Struct.toJson(req.pipelineOptions) as Record<string, unknown>;
  } catch (e) {
    throw Object.assign(new Error(`the pipeline options are not valid JSON values: ${(e as Error).message}`, { cause: e }), {
      code: grpc.status.INVALID_ARGUMENT,
    });
  }
}

/**
 * Plans at Prepare. What the runner cannot run, or a malformed pipeline, is INVALID_ARGUMENT
 * naming the problem. So is any other exception: it comes from this one request's pipeline (a
 * shape the planner did not expect), not from the server's state, and the server must answer
 * and go on serving. Its type and message stay in the text, so that a planner bug is still
 * visible to whoever reports it.
 */
function planOrReject(deps: JobServiceDeps, pipeline: Pipeline): ExecutionPlan {
  try {
    return deps.plan(pipeline);
  } catch (e) {
    if (e instanceof UnsupportedPipelineError) throw Object.assign(new Error(e.message, { cause: e }), { code: grpc.status.INVALID_ARGUMENT });
    const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw Object.assign(new Error(`the pipeline could not be planned: ${detail}`, { cause: e }), { code: grpc.status.INVALID_ARGUMENT });
  }
}

/** Streams a job's events until it reaches a terminal state or the client goes away. */
function streamJob<T>(
  call: grpc.ServerWritableStream<{ jobId: string }, T>,
  registry: JobRegistry,
  auth: CallerAuth,
  start: (job: Job, write: (m: T) => void) => (e: JobEvent) => void,
): void {
  const request: unknown = call.request;
  if (request instanceof UndecodableRequest) {
    call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: request.message });
    return;
  }
  let job: Job;
  try {
    job = registry.get(call.request.jobId, auth.ownerOf(call.metadata));
  } catch (e) {
    const error = e as Error & { code?: grpc.status };
    call.emit("error", { code: error.code ?? grpc.status.NOT_FOUND, details: error.message });
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
