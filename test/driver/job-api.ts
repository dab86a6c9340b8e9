// Helpers the job-service tests share: a callback-style gRPC call as a promise, a captured
// pipeline whose environment asks for one staged artifact, and `beam-lambda job-server` started
// as a user starts it.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type * as grpc from "@grpc/grpc-js";
import { ArtifactStagingToRolePayload, Pipeline } from "apache-beam/proto/beam_runner_api";

/** A unary call of a generated gRPC client (bind it first), resolved with its response. */
export const unary = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r?: Res) => void) => unknown, req: Req): Promise<Res> =>
  new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r!))));

/** The captured wordcount pipeline, its environment depending on one artifact staged as `stagedName`. */
export function pipelineWithArtifact(stagedName: string): Pipeline {
  const pipeline = Pipeline.fromBinary(readFileSync(new URL("../fixtures/wordcount_files.pb", import.meta.url)));
  const env = Object.values(pipeline.components!.environments)[0]!;
  env.dependencies = [
    {
      typeUrn: "beam:artifact:type:file:v1",
      typePayload: new Uint8Array(),
      roleUrn: "beam:artifact:role:staging_to:v1",
      rolePayload: ArtifactStagingToRolePayload.toBinary({ stagedName }),
    },
  ];
  return pipeline;
}

const BIN = fileURLToPath(new URL("../../bin/beam-lambda.js", import.meta.url));

/** `beam-lambda job-server --port 0 ARGS...` (with --no-ui unless ARGS give --ui-port), once it has printed its one line: its process, the line and its address. */
export async function startJobServerProcess(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; line: string; address: string }> {
  // Servers of parallel tests would contend for the UI's default port: a test that wants the UI names one.
  const ui = args.includes("--ui-port") ? [] : ["--no-ui"];
  const child = spawn("node", [BIN, "job-server", "--port", "0", ...ui, ...args], { stdio: ["ignore", "pipe", "inherit"] }) as unknown as ChildProcessWithoutNullStreams;
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out);
    });
    child.on("exit", (code) => reject(new Error(`exited early with ${code}`)));
  });
  return { child, line, address: /listening on (\S+)/.exec(line)![1]! };
}
