// Scale by simulation: the real scheduler (runPlan), AwsBackend and CompletionListener, against
// LocalStack's SQS and S3, run a stage of --tasks tasks with --in-flight asynchronous invocations
// at once. The function is the synthetic one (bench/fanout/synthetic-function.ts: sleeps, writes
// bytes to S3, reports its completion to SQS like the real worker) behind the Lambda service
// emulator, in a process of its own. The plan is two stages: one task writing an object of
// --tasks partitions, then a stage of one task per partition, which is the one measured.
//
// Prints invocations sent and completions handled per second, the driver's CPU per task and peak
// RSS, and each process's share of a core (driver, emulator, LocalStack), naming the one that
// saturated. Needs LocalStack (localstack/start.sh). Run with:
//   npm run bench:fanout -- [--tasks 10000] [--in-flight 1000] [--sleep-ms 1000] [--bytes 4096]
// A quick check: npm run bench:fanout -- --tasks 500 --in-flight 100
// Profile the driver: node --cpu-prof --cpu-prof-dir .cache/prof --import tsx bench/fanout.ts
import { type ChildProcess, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { ProcessBundleDescriptor } from "apache-beam/proto/beam_fn_api";
import { LOCALSTACK_ENV, createRunnerResources } from "../localstack/resources.js";
import { AwsBackend } from "../src/backends/aws/aws-backend.js";
import type { ExecutionPlan, Stage } from "../src/driver/planner/index.js";
import { DEFAULT_SPECULATION, EarlyTaskSlots, runPlan } from "../src/driver/scheduler/index.js";
import { openObjectStore } from "../src/store/index.js";
import { FUNCTION_NAME } from "./fanout/synthetic-function.js";
import { CpuMeter, localStackPid } from "./fanout/cpu-meter.js";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "10000" },
    "in-flight": { type: "string", default: "1000" },
    "sleep-ms": { type: "string", default: "1000" },
    bytes: { type: "string", default: "4096" },
  },
});
const tasks = Number(values.tasks);
const inFlight = Number(values["in-flight"]);
const sleepMs = Number(values["sleep-ms"]);
const bytes = Number(values.bytes);

/** One Impulse-rooted task writing `tasks` partitions, then the fan-out stage reading one each. */
function fanoutPlan(): ExecutionPlan {
  const stage = (id: string, main: Stage["main"], outputs: Stage["outputs"], upstream: string[]): Stage => ({
    id,
    name: id,
    environmentId: "env",
    transformIds: [`${id}-transform`],
    sourceTransformId: `${id}-source`,
    main,
    sideInputs: [],
    outputs,
    timers: [],
    upstream,
    descriptor: ProcessBundleDescriptor.create(),
  });
  const output = { id: "source.out", pcollection: "source-pc", sinkTransformId: "source-sink", wireCoderId: "wire", partitionBy: "spread" as const, format: "plain" as const };
  const edge = { pcollection: "source-pc", read: { kind: "plain" as const }, sources: [output.id], wireCoderId: "wire" };
  return {
    stages: [stage("source", { kind: "impulse" }, [output], []), stage("fanout", { kind: "edge", edge }, [], ["source"])],
    environments: { env: { id: "env", kind: "python-process" } },
  };
}

async function startEmulator(store: string, resultsQueueUrl: string): Promise<{ child: ChildProcess; endpoint: string; stats: Promise<string> }> {
  const script = new URL("./fanout/emulator-process.ts", import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", script, "--store", store, "--results-queue-url", resultsQueueUrl, "--sleep-ms", String(sleepMs), "--bytes", String(bytes)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error("the emulator process exited before it listened");
  const { endpoint } = JSON.parse(first.value) as { endpoint: string };
  const stats = lines.next().then((l) => (l.done ? "" : l.value));
  return { child, endpoint, stats };
}

/** Per-second counts while the stage runs. */
interface Sample {
  at: number;
  invocations: number;
  completions: number;
}

/** The highest count over any one-second window of the samples. */
function peakPerSecond(samples: Sample[], field: "invocations" | "completions"): number {
  let peak = 0;
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i]!.at - samples[i - 1]!.at) / 1000;
    if (dt > 0) peak = Math.max(peak, (samples[i]![field] - samples[i - 1]![field]) / dt);
  }
  return peak;
}

Object.assign(process.env, LOCALSTACK_ENV, { ...process.env });
const resources = await createRunnerResources(`beam-lambda-fanout-${Date.now()}`);
const emulator = await startEmulator(resources.store, resources.resultsQueueUrl);
process.env.AWS_ENDPOINT_URL_LAMBDA = emulator.endpoint;
const backend = await AwsBackend.start({
  functionName: FUNCTION_NAME,
  resultsQueueUrl: resources.resultsQueueUrl,
  storeUrl: resources.store,
  concurrency: inFlight,
  taskTimeoutSeconds: 600,
  pollWaitSeconds: 20,
  timeoutGraceSeconds: 30,
});
const meter = new CpuMeter({ emulator: emulator.child.pid!, localstack: localStackPid() });
const samples: Sample[] = [];
let peakRss = 0;
let fanoutStarted: { at: number; invocations: number; completions: number; meter: ReturnType<CpuMeter["read"]> } | undefined;
const sampler = setInterval(() => {
  samples.push({ at: Date.now(), invocations: backend.stats.invocations, completions: backend.stats.completions });
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 1000);
const jobId = `fanout-${Date.now()}`;
const attempts = { committed: 0, speculative: 0, failed: 0 };
let ran: Error | undefined;
try {
  await runPlan(fanoutPlan(), backend, openObjectStore(resources.store), {
    jobId,
    pipelineOptionsJson: "{}",
    artifactPrefix: `artifacts/${jobId}`,
    partitions: tasks,
    maxAttempts: 3,
    pipelining: false,
    smallInput: { elements: 0, bytes: 0 },
    earlySlots: new EarlyTaskSlots(),
    // As the job server runs jobs on --backend aws: stragglers get copies.
    speculation: DEFAULT_SPECULATION,
    onSpeculativeStart: () => attempts.speculative++,
    onAttemptFailed: () => attempts.failed++,
    onTaskCommitted: (stage) => {
      if (stage.id === "fanout") attempts.committed++;
    },
    onStageStarted: (stage) => {
      if (stage.id !== "fanout") return;
      samples.length = 0;
      samples.push({ at: Date.now(), invocations: backend.stats.invocations, completions: backend.stats.completions });
      fanoutStarted = { ...samples[0]!, meter: meter.read() };
    },
  });
} catch (e) {
  ran = e as Error;
}
const end = { at: Date.now(), invocations: backend.stats.invocations, completions: backend.stats.completions, meter: meter.read() };
clearInterval(sampler);
samples.push(end);
await backend.close();
emulator.child.kill("SIGTERM");
const emulatorStats = await emulator.stats;
if (ran || !fanoutStarted) throw ran ?? new Error("the fan-out stage never started");

const seconds = (end.at - fanoutStarted.at) / 1000;
const used = meter.between(fanoutStarted.meter, end.meter);
const stageTasks = attempts.committed;
const driverCpuMsPerTask = (used.driver * 1000) / stageTasks;
const share = (cpuSeconds: number) => cpuSeconds / seconds;
const ideal = inFlight / (sleepMs / 1000);
const shares = { driver: share(used.driver), emulator: share(used.emulator), localstack: share(used.localstack) };
const [busiest, busiestShare] = Object.entries(shares).sort((a, b) => b[1] - a[1])[0]!;
/** Tasks per second each would sustain on a core of its own, from its CPU per task. */
const ceiling = (s: number) => Math.round(achieved / s);
const achieved = stageTasks / seconds;
const machineShare = share(used.machine);
// Each of the three is one event loop (LocalStack one interpreter under its GIL): a core is its limit.
const verdict =
  achieved >= 0.9 * ideal
    ? `nothing: the function's sleep bounds it (${inFlight} in flight / ${sleepMs} ms = ${Math.round(ideal)} tasks/s)`
    : busiestShare >= 0.9
      ? `${busiest}, at ${pct(busiestShare)} of a core`
      : machineShare >= 1.8
        ? `the machine's 2 cores (${pct(machineShare / 2)} busy; ${busiest} uses most, ${pct(busiestShare)} of a core)`
        : `no CPU: the run waits on latency (${busiest} busiest at ${pct(busiestShare)} of a core)`;
const firstToSaturate = Object.entries(shares).sort((a, b) => b[1] - a[1])[0]![0];
const rows: [string, string][] = [
  ["tasks / in flight / sleep / bytes", `${stageTasks} / ${inFlight} / ${sleepMs} ms / ${bytes} B`],
  ["fan-out stage wall time", `${seconds.toFixed(1)} s (${Math.round(achieved)} tasks/s)`],
  ["invocations sent per second: mean / peak 1 s", `${Math.round((end.invocations - fanoutStarted.invocations) / seconds)} / ${Math.round(peakPerSecond(samples, "invocations"))}`],
  ["completions handled per second: mean / peak 1 s", `${Math.round(achieved)} / ${Math.round(peakPerSecond(samples, "completions"))}`],
  ["driver CPU per task", `${driverCpuMsPerTask.toFixed(3)} ms (so one core sustains ≈ ${Math.round(1000 / driverCpuMsPerTask)} tasks/s)`],
  ["driver peak RSS", `${Math.round(peakRss / 2 ** 20)} MiB`],
  ["CPU, share of one core: driver / emulator / LocalStack", `${pct(shares.driver)} / ${pct(shares.emulator)} / ${pct(shares.localstack)}`],
  ["machine CPU (2 cores = 200%)", pct(machineShare)],
  [
    "CPU per task: driver / emulator / LocalStack",
    [shares.driver, shares.emulator, shares.localstack].map((s) => `${((s * 1000) / achieved).toFixed(2)} ms`).join(" / "),
  ],
  [
    "tasks/s each would sustain on a core of its own: driver / emulator / LocalStack",
    `${ceiling(shares.driver)} / ${ceiling(shares.emulator)} / ${ceiling(shares.localstack)} (first to saturate: ${firstToSaturate})`,
  ],
  ["saturated", verdict],
  ["load average at the end (1/5/15 min)", loadavg().map((l) => l.toFixed(2)).join(" / ")],
  ["speculative copies / failed attempts", `${attempts.speculative} / ${attempts.failed}`],
  ["driver completion stats", JSON.stringify(backend.stats)],
  ["emulator stats", emulatorStats],
];
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}
