// The commands that talk to a running job server over Beam's JobService: `jobs`, `status`,
// `cancel` and `logs`. They speak only the Job API, so they work against any server of ours,
// local or the one the CDK stack runs.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { JobMessage_MessageImportance, type JobMessagesResponse, JobState_Enum, type JobStateEvent } from "apache-beam/proto/beam_job_api";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { readSetting } from "../common/config.js";
import { describeMetrics, readTokenFile } from "../driver/index.js";

/** How to reach the job server: the flags every client command takes. */
export interface EndpointFlags {
  endpoint: string;
  authTokenFile?: string;
  tlsCa?: string;
}

export const DEFAULT_ENDPOINT = "localhost:8099";

/** A JobService client for `flags`: bearer token from the file's first line, TLS when a CA is given. */
export function jobServiceClient(flags: EndpointFlags): JobServiceClient {
  const tokenFile = flags.authTokenFile ?? readSetting("authTokenFile");
  const token = tokenFile ? readTokenFile(tokenFile)[0] : undefined;
  const channel = flags.tlsCa ? grpc.credentials.createSsl(readFileSync(flags.tlsCa)) : grpc.credentials.createInsecure();
  // An interceptor, not call credentials: grpc-js sends those only over TLS, and a loopback server may take tokens without it.
  const withToken: grpc.Interceptor = (options, next) =>
    new grpc.InterceptingCall(next(options), {
      start: (metadata, listener, start) => {
        metadata.set("authorization", `Bearer ${token}`);
        start(metadata, listener);
      },
    });
  return new JobServiceClient(flags.endpoint, channel, token ? { interceptors: [withToken] } : {});
}

/** A unary call as a promise; an unreachable server or unknown job becomes an error that says so. */
function call<Req, Res>(client: JobServiceClient, method: (req: Req, cb: (e: grpc.ServiceError | null, r?: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => method(req, (e, r) => (e ? reject(describeCallError(e, client)) : resolve(r!))));
}

function describeCallError(e: grpc.ServiceError, client: JobServiceClient): Error {
  if (e.code === grpc.status.UNAVAILABLE) return new Error(`no job server answers at ${client.getChannel().getTarget().replace(/^dns:/, "")}: ${e.details}`);
  return new Error(e.details || e.message);
}

const stateName = (state: JobState_Enum): string => JobState_Enum[state] ?? String(state);

function timeOf(event: JobStateEvent): Date | undefined {
  const t = event.timestamp;
  return t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)) : undefined;
}

/** Rows of text with columns padded to their widest cell. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n");
}

/** `beam-lambda jobs`: every job the caller may see, with its state and since when. */
export async function listJobs(client: JobServiceClient, json: boolean): Promise<string> {
  const { jobInfo } = await call(client, client.getJobs.bind(client), {});
  const jobs = await Promise.all(
    jobInfo.map(async (info) => {
      const state = await call(client, client.getState.bind(client), { jobId: info.jobId }).catch(() => undefined);
      return { id: info.jobId, name: info.jobName, state: stateName(info.state), since: state && timeOf(state)?.toISOString() };
    }),
  );
  if (json) return JSON.stringify(jobs, null, 2);
  if (jobs.length === 0) return "no jobs";
  return table([["JOB", "NAME", "STATE", "SINCE"], ...jobs.map((j) => [j.id, j.name, j.state, j.since ?? ""])]);
}

/** `beam-lambda status JOB`: its state, since when, and its user metrics. */
export async function jobStatus(client: JobServiceClient, jobId: string, json: boolean): Promise<string> {
  const [state, metrics, { pipeline }] = await Promise.all([
    call(client, client.getState.bind(client), { jobId }),
    call(client, client.getJobMetrics.bind(client), { jobId }),
    call(client, client.getPipeline.bind(client), { jobId }),
  ]);
  const transforms = pipeline?.components?.transforms ?? {};
  const views = describeMetrics(metrics.metrics?.committed ?? [], (id) => transforms[id]?.uniqueName || id);
  const since = timeOf(state)?.toISOString();
  if (json) return JSON.stringify({ id: jobId, state: stateName(state.state), since, metrics: views }, null, 2);
  const lines = [`job ${jobId}: ${stateName(state.state)}${since ? ` since ${since}` : ""}`];
  if (views.length > 0) {
    lines.push("", table([["STEP", "METRIC", "VALUE"], ...views.map((v) => [v.step, `${v.namespace}:${v.name}`, v.value])]));
  }
  return lines.join("\n");
}

/** `beam-lambda cancel JOB`: asks the server to cancel; the state it answers with. */
export async function cancelJob(client: JobServiceClient, jobId: string): Promise<string> {
  const { state } = await call(client, client.cancel.bind(client), { jobId });
  return `job ${jobId}: ${stateName(state)}`;
}

/** One job message as a log line: time, importance and text. */
export function formatMessage(m: { time: string; importance: JobMessage_MessageImportance; messageText: string }): string {
  const importance = (JobMessage_MessageImportance[m.importance] ?? "").replace(/^JOB_MESSAGE_/, "");
  return `${m.time} ${importance.padEnd(8)} ${m.messageText}`;
}

/**
 * `beam-lambda logs JOB [--follow]`: the job's messages so far, and with `follow` every later one
 * until the job ends. Resolves with the job's last state.
 */
export function streamLogs(client: JobServiceClient, jobId: string, follow: boolean, write: (line: string) => void): Promise<JobState_Enum> {
  return new Promise((resolve, reject) => {
    const stream = client.getMessageStream({ jobId });
    let state: JobState_Enum | undefined;
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
    };
    stream.on("data", (r: JobMessagesResponse) => {
      if (r.response.oneofKind === "messageResponse") write(formatMessage(r.response.messageResponse));
      else if (r.response.oneofKind === "stateResponse") {
        state = r.response.stateResponse.state;
        // The server sends the history, then the current state: without --follow that is the end.
        if (!follow) {
          settle(() => resolve(state!));
          stream.cancel();
        }
      }
    });
    stream.on("error", (e: grpc.ServiceError) => {
      if (e.code === grpc.status.CANCELLED && settled) return;
      settle(() => reject(describeCallError(e, client)));
    });
    stream.on("end", () => settle(() => (state === undefined ? reject(new Error(`the server ended job ${jobId}'s messages without its state`)) : resolve(state))));
  });
}
