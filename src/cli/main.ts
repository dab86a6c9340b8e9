// beam-lambda: `job-server` serves Beam's job endpoint; `run` runs a Python pipeline file
// against an embedded job server and stops it afterwards.
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { JobServer, defaultPython } from "../driver/index.js";
import { DEFAULT_MERGE } from "../driver/scheduler/run-plan.js";

const USAGE = `usage:
  beam-lambda job-server [--host 127.0.0.1] [--port 8099] [--workers N] [--partitions N] [--store DIR|s3://BUCKET/PREFIX]
                         [--merge-threshold N] [--merge-factor F] [--no-pipelining] [--compress-shuffle]
                         [--backend local|lambda-emulator]
  beam-lambda run PIPELINE.py [pipeline args...]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "job-server") return jobServer(rest);
  if (command === "run") return run(rest);
  process.stderr.write(`${USAGE}\n`);
  return command === "--help" || command === "-h" ? 0 : 2;
}

function serverOptions(values: Record<string, string | boolean | undefined>) {
  const int = (name: string): number | undefined => {
    const v = values[name];
    if (v === undefined || typeof v === "boolean") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${v}'`);
    return n;
  };
  const threshold = int("merge-threshold");
  const factor = int("merge-factor");
  const merge = threshold !== undefined || factor !== undefined ? { ...DEFAULT_MERGE, ...(threshold !== undefined && { threshold }), ...(factor !== undefined && { factor }) } : undefined;
  if (merge && merge.factor < 2) throw new Error("--merge-factor must be at least 2");
  return {
    host: values.host as string | undefined,
    port: int("port"),
    workers: int("workers"),
    partitions: int("partitions"),
    // --store takes a directory, or a store URL such as s3://bucket/prefix?spread=8.
    ...(typeof values.store === "string" && values.store.includes("://") ? { storeUrl: values.store } : { storeDir: values.store as string | undefined }),
    merge,
    pipelining: values["no-pipelining"] ? false : undefined,
    compressShuffle: values["compress-shuffle"] === true,
    backend: backendOf(values.backend),
  };
}

function backendOf(v: string | boolean | undefined): "local" | "lambda-emulator" | undefined {
  if (v === undefined) return undefined;
  if (v === "local" || v === "lambda-emulator") return v;
  throw new Error(`--backend must be 'local' or 'lambda-emulator', got '${String(v)}'`);
}

const SERVER_FLAGS = {
  backend: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  workers: { type: "string" },
  partitions: { type: "string" },
  store: { type: "string" },
  "merge-threshold": { type: "string" },
  "merge-factor": { type: "string" },
  "no-pipelining": { type: "boolean" },
  "compress-shuffle": { type: "boolean" },
} as const;

async function jobServer(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: SERVER_FLAGS });
  const server = await JobServer.start(serverOptions(values));
  process.stdout.write(`beam-lambda job server listening on ${server.address}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await server.stop();
  return 0;
}

async function run(args: string[]): Promise<number> {
  const [file, ...pipelineArgs] = args;
  if (!file) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const server = await JobServer.start({ port: 0 });
  try {
    const child = spawn(defaultPython(), [file, "--runner=PortableRunner", `--job_endpoint=${server.address}`, ...pipelineArgs], {
      stdio: "inherit",
    });
    return await new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
  } finally {
    await server.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`beam-lambda: ${e.message}\n`);
    process.exit(1);
  },
);
