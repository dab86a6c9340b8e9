// Chaos on `--backend aws`: a job over a million records runs as asynchronous invocations of the
// worker function (emulated Lambda environments, S3 and SQS from LocalStack) while a random busy
// execution environment is SIGKILLed about every second: its whole process group (emulator,
// runtime, SDK harness), as a crashed Lambda environment goes. Lambda's failure record for the
// invocation reaches the results queue, the driver counts an infrastructure loss and retries the
// task, and the job must end DONE with exactly the output of Beam's FnApiRunner.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCALSTACK_ENV, type RunnerResources, createRunnerResources } from "../../localstack/resources.js";
import type { AwsBackend } from "../../src/backends/aws/aws-backend.js";
import { loadAwsConfig } from "../../src/backends/aws/aws-config.js";
import { LambdaServiceEmulator } from "../../src/backends/lambda-emulator/lambda-service.js";
import { sessionMembers } from "../../src/backends/lambda-emulator/process-session.js";
import { JobServer, defaultPython } from "../../src/driver/index.js";
import { type Target, describeChaos, expectSurvived, runUnderChaos } from "./chaos-run.js";

const CASE = "chaos_million_records";
const ENVIRONMENTS = 3;
/**
 * Kills stop after this long, so that the job finishes within the test's time: a task that keeps
 * being hit waits up to 10 s between attempts (scheduler/attempts.ts), so the last kills can
 * delay the end by that much.
 */
const KILL_WINDOW_MS = 45_000;

const savedEnv = { ...process.env };
const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-chaos-aws-"));
let lambda: LambdaServiceEmulator;
let server: JobServer;

beforeAll(async () => {
  Object.assign(process.env, LOCALSTACK_ENV);
  let resources: RunnerResources;
  try {
    resources = await createRunnerResources(`beam-lambda-chaos-${Date.now()}`);
  } catch (e) {
    throw new Error(`LocalStack is not reachable at ${LOCALSTACK_ENV.AWS_ENDPOINT_URL} (start it with localstack/start.sh; npm test does): ${(e as Error).message}`, { cause: e });
  }
  // As the CDK stack configures the function: no Lambda-side retries, failures recorded to the results queue.
  lambda = await LambdaServiceEmulator.start({
    functionName: "beam-lambda-worker",
    environments: ENVIRONMENTS,
    functionEnv: { BEAM_LAMBDA_STORE: resources.store, BEAM_LAMBDA_PYTHON: defaultPython() },
    maximumRetryAttempts: 0,
    onFailureQueueUrl: resources.resultsQueueUrl,
  });
  process.env.AWS_ENDPOINT_URL_LAMBDA = lambda.endpoint;
  server = await JobServer.start({
    port: 0,
    backend: "aws",
    // A task timeout far above any task's run time: an attempt that times out lost its failure record.
    aws: loadAwsConfig({
      "function-name": "beam-lambda-worker",
      "results-queue-url": resources.resultsQueueUrl,
      store: resources.store,
      workers: String(ENVIRONMENTS),
      "task-timeout": "60",
      "poll-wait": "1",
    }),
    // As chaos.test.ts: several short tasks per stage, so that some finish between kills.
    partitions: 8,
    smallInput: { elements: 0, bytes: 0 },
  });
});

afterAll(async () => {
  await server?.stop();
  await lambda?.close();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
});

/**
 * Kills a random busy environment from outside, as a crash would: its emulator's process group
 * (the runtime and harness are in a group of their own), and the pool is not told. The pool must
 * see the environment go, fail its invocation, and take the rest of it down.
 */
function killOne(): Target | undefined {
  const busy = lambda.pool.busyEmulatorPids();
  const pid = busy[Math.floor(Math.random() * busy.length)];
  if (pid === undefined) return undefined;
  try {
    process.kill(-pid, "SIGKILL");
    return { pid, kind: "environment" };
  } catch {
    return undefined; // It exited on its own first.
  }
}

describe("a job on --backend aws whose Lambda execution environments keep being killed", () => {
  it(`${CASE}: ends DONE with the FnApiRunner's output`, async () => {
    const outcome = await runUnderChaos({ server, caseName: CASE, workdir, killOne, windowMs: KILL_WINDOW_MS });
    const backend = server.backend as AwsBackend;
    console.log(`chaos-aws: ${describeChaos(outcome)}; lambda ${JSON.stringify(lambda.stats)}; driver ${JSON.stringify(backend.stats)}`);
    expectSurvived(outcome);
    // Every loss was told by Lambda's failure record (none waited for a timeout); a record beyond
    // them can only be a speculative copy's, killed after its task committed. Every failed
    // invocation was one a kill hit: none was sent into an environment already dead.
    const { lostAttempts, speculativeTasks } = outcome.stats!;
    expect(backend.stats.lambdaFailureRecords).toBeGreaterThanOrEqual(lostAttempts);
    expect(backend.stats.lambdaFailureRecords).toBeLessThanOrEqual(lostAttempts + speculativeTasks);
    expect(backend.stats.timeouts).toBe(0);
    expect(lambda.stats.asyncFailed).toBeLessThanOrEqual(outcome.kills.length);
    // A killed environment went as a whole: no runtime or harness of it lived on to finish its task.
    // The pool kills the rest of an environment when it sees its emulator exit; the job may end
    // within moments of the last kill, so give the kernel a few seconds to take them.
    const leftOver = () => outcome.kills.flatMap(({ pid }) => sessionMembers(pid).map((member) => `${member} (environment of ${pid})`));
    for (let waited = 0; leftOver().length > 0 && waited < 10_000; waited += 250) await new Promise((resolve) => setTimeout(resolve, 250));
    expect(leftOver(), "processes left of killed environments").toEqual([]);
  }, 240_000);
});
