// beam-lambda: `job-server` serves Beam's job endpoint; `run` runs a Python pipeline file
// against an embedded job server and stops it afterwards; `jobs`, `status`, `cancel` and `logs`
// ask a running job server. Each command imports what only it runs (the Lambda service emulator,
// the Fargate actor host, the executor's handler) when it runs, so that the job server with its
// default local backend loads none of the AWS SDK's Lambda, SQS or ECS clients.
import { spawn } from "node:child_process";
import { Command, InvalidArgumentError, Option } from "commander";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import type { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { CONFIG } from "../common/config.js";
import { type LogLevel, configureLogging } from "../common/log.js";
import { workerEnv } from "../common/worker-env.js";
import { JobServer, defaultPython, isLoopback } from "../driver/index.js";
import { DEFAULT_ENDPOINT, type EndpointFlags, cancelJob, jobServiceClient, jobStatus, listJobs, streamLogs } from "./job-client.js";
import { ProgressDisplay } from "./progress-display.js";
import { flagValuesOf, serverOptions, serverOptionsFor } from "./server-flags.js";

/**
 * Resolves on SIGINT or SIGTERM: the long-running commands stop cleanly then. Call it before
 * printing that the command is ready, so that a signal sent on reading that line finds the handler.
 */
function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}

/** A whole number at least `min`, for commander's argument parsers. */
function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be a whole number of at least ${min}`);
    return n;
  };
}

/**
 * --log-format and --log-level on a command that runs a server or worker. They set this process's
 * logging and its environment, which worker processes inherit (and the Lambda emulator passes on).
 * `quietDefault`: the level when neither the flag nor BEAM_LAMBDA_LOG_LEVEL says (`run` keeps the
 * terminal for the pipeline and its progress).
 */
function withLogOptions(command: Command, quietDefault?: LogLevel): Command {
  return command
    .addOption(new Option("--log-format <FORMAT>", "the runner's log lines on stderr: text, or json (one object per line with job, stage, task and attempt ids)").choices(["text", "json"]))
    .addOption(new Option("--log-level <LEVEL>", `the least important log lines written (default ${quietDefault ?? "info"})`).choices(["debug", "info", "warn", "error"]))
    .hook("preAction", (_cli, action) => {
      const { logFormat, logLevel } = action.opts<{ logFormat?: "text" | "json"; logLevel?: LogLevel }>();
      const level = logLevel ?? (process.env[CONFIG.logLevel.name] ? undefined : quietDefault);
      if (logFormat) process.env[CONFIG.logFormat.name] = logFormat;
      if (level) process.env[CONFIG.logLevel.name] = level;
      configureLogging({ ...(logFormat && { format: logFormat }), ...(level && { level }) });
    });
}

/** The exit code commands report through; commander's own errors exit with theirs. */
let exitCode = 0;

function program(): Command {
  const cli = new Command("beam-lambda")
    .description("A serverless Apache Beam runner: Beam's job endpoint, on this machine or on AWS Lambda.")
    .enablePositionalOptions()
    .showHelpAfterError("(add --help for usage)");

  const jobServerCommand = cli
    .command("job-server")
    .description("serve Beam's job endpoint (run pipelines with --runner=PortableRunner --job_endpoint=HOST:PORT)")
    .addHelpText("after", "\nWith --store, jobs are journaled in the store: a job server started again on it resumes unfinished jobs.");
  for (const option of serverOptionsFor()) jobServerCommand.addOption(option);
  withLogOptions(jobServerCommand);
  jobServerCommand.action(async (parsed: Record<string, unknown>, command: Command) => {
    const options = await serverOptions(flagValuesOf(command.options, parsed));
    const server = await JobServer.start(options);
    if (!isLoopback(options.host ?? "127.0.0.1") && !options.tls) {
      process.stderr.write(
        `beam-lambda: warning: serving ${options.host} without TLS: bearer tokens and pipelines travel in the clear (--tls-cert/--tls-key, unless a TLS proxy fronts this server)\n`,
      );
    }
    const signalled = untilSignalled();
    process.stdout.write(`beam-lambda job server listening on ${server.address}${server.uiUrl ? ` (job UI: ${server.uiUrl})` : ""}\n`);
    await signalled;
    await server.stop();
  });

  const runCommand = cli
    .command("run")
    .description("run a Python pipeline file on an embedded job server, which stops when the pipeline ends")
    .argument("<pipeline>", "the pipeline's Python file")
    .argument("[pipeline-args...]", "the pipeline's own arguments (everything after the file)")
    .passThroughOptions()
    .addHelpText("after", "\nJob-server flags go before the file, e.g. beam-lambda run --backend aws --aws-config aws.json my_pipeline.py --input ...");
  for (const option of serverOptionsFor()) runCommand.addOption(option);
  withLogOptions(runCommand, "warn");
  const progressOption = new Option("--no-progress", "no progress display (on a terminal a line redrawn in place; elsewhere a line per finished stage)");
  runCommand.addOption(progressOption);
  runCommand.action(async (file: string, pipelineArgs: string[], parsed: Record<string, unknown>, command: Command) => {
    const serverFlags = command.options.filter((o) => o !== progressOption && !["--log-format", "--log-level"].includes(o.long!));
    exitCode = await run(file, pipelineArgs, flagValuesOf(serverFlags, parsed), parsed.progress !== false);
  });

  withLogOptions(cli.command("lambda-emulator"))
    .description("serve Lambda's Invoke API for the bundled worker in emulated environments (point AWS_ENDPOINT_URL_LAMBDA here)")
    .requiredOption("--store <s3://BUCKET/PREFIX>", "the function's object store (its BEAM_LAMBDA_STORE)")
    .option("--port <PORT>", "port to serve", integer(0), 9001)
    .option("--environments <N>", "execution environments at once", integer(1), 2)
    .option("--function-name <NAME>", "the function's name", "beam-lambda-worker")
    .option("--on-failure-queue-url <URL>", "the SQS queue a failed asynchronous invocation's record goes to")
    .option("--maximum-retry-attempts <N>", "Lambda's retries of a failed asynchronous invocation", integer(0), 0)
    .option("--image <IMAGE>", "run each environment as a container of this worker image (bash scripts/docker.sh build makes it)")
    .action(lambdaEmulator);

  withLogOptions(cli.command("executor"))
    .description("serve the worker handler over HTTP, as an executor actor (BEAM_LAMBDA_STORE names the store)")
    .option("--host <HOST>", "address to bind", "127.0.0.1")
    .option("--port <PORT>", "port to serve", integer(0), 8100)
    .action(async (opts: { host: string; port: number }) => {
      const { startExecutorServer } = await import("../worker/executor-server.js");
      const server = await startExecutorServer(opts.host, opts.port);
      const signalled = untilSignalled();
      process.stdout.write(`beam-lambda executor listening on ${server.address}\n`);
      await signalled;
      await server.close();
    });

  const client = (name: string, description: string) =>
    cli
      .command(name)
      .description(description)
      .addOption(new Option("--endpoint <HOST:PORT>", "the job server").default(DEFAULT_ENDPOINT).env(CONFIG.endpoint.name))
      .option("--auth-token-file <FILE>", "a file whose first line is your bearer token (default BEAM_LAMBDA_AUTH_TOKEN_FILE)")
      .option("--tls-ca <PEM>", "connect with TLS, trusting this CA certificate");

  client("jobs", "list the jobs on a job server: id, name, state and since when")
    .option("--json", "print JSON")
    .action((opts: EndpointFlags & { json?: boolean }) => withJobService(opts, async (jobs) => print(await listJobs(jobs, opts.json === true))));

  client("status", "show a job's state and user metrics")
    .argument("<job>", "the job's id (beam-lambda jobs lists them)")
    .option("--json", "print JSON")
    .action((jobId: string, opts: EndpointFlags & { json?: boolean }) => withJobService(opts, async (jobs) => print(await jobStatus(jobs, jobId, opts.json === true))));

  client("cancel", "cancel a job")
    .argument("<job>", "the job's id")
    .action((jobId: string, opts: EndpointFlags) => withJobService(opts, async (jobs) => print(await cancelJob(jobs, jobId))));

  client("logs", "print a job's messages")
    .argument("<job>", "the job's id")
    .option("-f, --follow", "keep printing new messages until the job ends; exit 1 unless it ends DONE")
    .action((jobId: string, opts: EndpointFlags & { follow?: boolean }) =>
      withJobService(opts, async (jobs) => {
        const state = await streamLogs(jobs, jobId, opts.follow === true, print);
        if (opts.follow) {
          print(`job ${jobId}: ${JobState_Enum[state]}`);
          if (state !== JobState_Enum.DONE) exitCode = 1;
        }
      }),
    );

  return cli;
}

/** One line on stdout. */
function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs `use` with a JobService client for `flags`, closing it afterwards. */
async function withJobService(flags: EndpointFlags, use: (client: JobServiceClient) => Promise<void>): Promise<void> {
  const client = jobServiceClient(flags);
  try {
    await use(client);
  } finally {
    client.close();
  }
}

async function lambdaEmulator(opts: {
  store: string;
  port: number;
  environments: number;
  functionName: string;
  onFailureQueueUrl?: string;
  maximumRetryAttempts: number;
  image?: string;
}): Promise<void> {
  const { LambdaServiceEmulator } = await import("../backends/lambda-emulator/lambda-service.js");
  const service = await LambdaServiceEmulator.start({
    port: opts.port,
    environments: opts.environments,
    functionName: opts.functionName,
    // An image brings its own Python; the bundle on this machine uses the project's.
    functionEnv: workerEnv({ storeUrl: opts.store, python: opts.image ? undefined : defaultPython() }),
    ...(opts.image && { image: opts.image }),
    onFailureQueueUrl: opts.onFailureQueueUrl,
    maximumRetryAttempts: opts.maximumRetryAttempts,
  });
  const signalled = untilSignalled();
  process.stdout.write(`Lambda Invoke API for ${opts.functionName} on ${service.endpoint} (export AWS_ENDPOINT_URL_LAMBDA=${service.endpoint})\n`);
  await signalled;
  await service.close();
}

/** Runs `file` with the project's Python against an embedded job server; the pipeline's exit code. */
async function run(file: string, pipelineArgs: string[], values: Parameters<typeof serverOptions>[0], showProgress: boolean): Promise<number> {
  const server = await JobServer.start({ ...(await serverOptions(values)), port: 0 });
  const display = showProgress ? new ProgressDisplay({ out: process.stderr }) : undefined;
  if (server.uiUrl) process.stderr.write(`beam-lambda: job UI on ${server.uiUrl} while the pipeline runs\n`);
  // The pipeline submits its job(s) to the embedded server: follow each one it runs.
  const follow = display && setInterval(() => {
    for (const job of server.registry.jobs.values()) if (job.state !== JobState_Enum.STOPPED && !job.terminal) display.watch(job);
  }, 100);
  try {
    const child = spawn(defaultPython(), [file, "--runner=PortableRunner", `--job_endpoint=${server.address}`, ...pipelineArgs], {
      stdio: display ? ["inherit", "pipe", "pipe"] : "inherit",
    });
    // The pipeline's output goes through the display, which keeps it clear of the progress line.
    child.stdout?.on("data", (chunk: Buffer) => display!.write(chunk, process.stdout));
    child.stderr?.on("data", (chunk: Buffer) => display!.write(chunk, process.stderr));
    return await new Promise<number>((resolve) => {
      child.on("close", (code) => resolve(code ?? 1));
      // No Python to run the pipeline with (ENOENT): said plainly, not as a crash.
      child.on("error", (e) => {
        process.stderr.write(`beam-lambda: cannot run ${file} with ${defaultPython()}: ${e.message}\n`);
        resolve(1);
      });
    });
  } finally {
    clearInterval(follow);
    display?.close();
    await server.stop();
  }
}

program()
  .parseAsync(process.argv)
  .then(
    () => process.exit(exitCode),
    (e: Error) => {
      process.stderr.write(`beam-lambda: ${e.message}\n`);
      process.exit(1);
    },
  );
