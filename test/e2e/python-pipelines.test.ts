// Real Beam Python pipelines submitted to our job endpoint, compared with the same pipelines on
// Beam's in-process FnApiRunner. The cases live in cases.py; run_cases.py runs them on a runner.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer, defaultPython } from "../../src/driver/index.js";
import { type CaseResult, runCases as runSharedCases } from "./run-cases.js";

const run = promisify(execFile);
const here = new URL(".", import.meta.url).pathname;


const CASES = [
  "wordcount_files",
  "combiners",
  "cogroupbykey",
  "flatten_partition_multi_output",
  "side_inputs",
  "side_input_of_its_own_input",
  "windowing",
  "stateful_timer",
  "reshuffle_two_gbks",
  "metrics",
  "hot_key_million_values",
  "harness_killed_mid_task",
  "worker_killed_mid_task",
  "group_into_batches_sharded",
  "small_input_one_bundle",
];

let server: JobServer;
let reference: Record<string, CaseResult>;
let ours: Record<string, CaseResult>;
const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-e2e-"));

/** Runs cases on one runner; each call gets its own directory unless `dir` is given. */
function runCases(runner: "fnapi" | "portable", names: string[], extra: string[] = [], dir = mkdtempSync(join(workdir, "run-"))) {
  return runSharedCases(runner, names, { workdir: dir, extra });
}

function jobNamed(name: string) {
  return [...server.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === name);
}

beforeAll(async () => {
  server = await JobServer.start({ port: 0, workers: 2 });
  // The failing case runs between passing ones: the server must keep serving after it.
  const all = [...CASES.slice(0, 3), "failing_dofn", ...CASES.slice(3)];
  [reference, ours] = await Promise.all([
    runCases("fnapi", all, [], workdir),
    runCases("portable", all, ["--job_endpoint", server.address], workdir),
  ]);
});

afterAll(async () => {
  await server?.stop();
});

describe("Beam Python pipelines on the embedded backend", () => {
  it.each(CASES)("%s gives the same output as Beam's FnApiRunner", (name) => {
    expect(reference[name]!.error).toBeNull();
    expect(ours[name]!.error).toBeNull();
    expect(ours[name]!.lines!.length).toBeGreaterThan(0);
    expect(ours[name]!.lines).toEqual(reference[name]!.lines);
  });

  it("reports user counters and distributions through result.metrics()", () => {
    expect(ours.metrics!.metrics).toEqual({ "counter:elements_seen": 50, "distribution:element_size": [50, 1225, 0, 49] });
    expect(ours.metrics!.metrics).toEqual(reference.metrics!.metrics);
  });

  it("spreads 100,000 elements through two GroupByKeys over more than one worker process", () => {
    const job = jobNamed("reshuffle_two_gbks");
    expect(job?.state).toBe(JobState_Enum.DONE);
    expect(job!.workerPids.size).toBeGreaterThan(1);
  });

  it.each([
    ["harness_killed_mid_task", "harness-killed"],
    ["worker_killed_mid_task", "worker-killed"],
  ])("%s: the fault really happened, the task was retried and the output has no duplicates or losses", (name, marker) => {
    expect(existsSync(join(workdir, "portable", name, marker))).toBe(true);
    expect(jobNamed(name)?.state).toBe(JobState_Enum.DONE);
    expect(ours[name]!.lines).toEqual(reference[name]!.lines);
  });

  it("fails the job with the Python exception text when a DoFn raises", () => {
    expect(ours.failing_dofn!.error).toContain("ValueError: boom: the element was seven");
    expect(ours.failing_dofn!.error).toMatch(/failed in state FAILED: stage s\d+ failed in task \d+ at transform 'Explode'/);
    expect(jobNamed("failing_dofn")?.state).toBe(JobState_Enum.FAILED);
  });

  it("watches a job that runs longer than the client's job_server_timeout to its end", async () => {
    // Python opens the state and message streams with job_server_timeout as their deadline,
    // unless they fail before Run (see job-service.ts): then a long job would die of DEADLINE_EXCEEDED.
    const script = [
      "import time, apache_beam as beam",
      "from apache_beam.options.pipeline_options import PipelineOptions",
      `p = beam.Pipeline(options=PipelineOptions(['--runner=PortableRunner', '--job_endpoint=${server.address}', '--job_server_timeout=3', '--job_name=longer_than_timeout']))`,
      "_ = p | beam.Create([1]) | beam.Map(lambda x: time.sleep(6))",
      "print('final state', p.run().wait_until_finish())",
    ].join("\n");
    const { stdout } = await run(defaultPython(), ["-c", script]);
    expect(stdout).toContain("final state DONE");
    expect(jobNamed("longer_than_timeout")?.state).toBe(JobState_Enum.DONE);
  });

  it("hands a DoFn's exception to wait_until_finish() when the failing job outlasts job_server_timeout", async () => {
    const script = [
      "import time, apache_beam as beam",
      "from apache_beam.options.pipeline_options import PipelineOptions",
      `p = beam.Pipeline(options=PipelineOptions(['--runner=PortableRunner', '--job_endpoint=${server.address}', '--job_server_timeout=2', '--job_name=fails_after_timeout']))`,
      "def slow_failure(x):",
      "    time.sleep(1.5)",
      "    raise KeyError('the slow DoFn gave up')",
      "_ = p | beam.Create([1]) | 'SlowFailure' >> beam.Map(slow_failure)",
      "try:",
      "    p.run().wait_until_finish()",
      "except Exception as e:",
      "    print(type(e).__name__, e)",
    ].join("\n");
    const { stdout } = await run(defaultPython(), ["-c", script]);
    // Four attempts of 1.5 s each: the job fails well after the 2 s deadline Python asked for.
    expect(stdout).toMatch(/^RuntimeError .*failed in state FAILED: stage s\d+ failed in task \d+ at transform 'SlowFailure'/m);
    expect(stdout).toContain("KeyError: 'the slow DoFn gave up'");
    expect(stdout).not.toContain("DEADLINE_EXCEEDED");
  });

  it("rejects a pipeline with an unsupported transform at Prepare, naming it", async () => {
    const jobsBefore = server.registry.jobs.size;
    const script = [
      "import apache_beam as beam",
      "from apache_beam.options.pipeline_options import PipelineOptions",
      "from apache_beam.testing.test_stream import TestStream",
      `p = beam.Pipeline(options=PipelineOptions(['--runner=PortableRunner', '--job_endpoint=${server.address}', '--streaming']))`,
      "_ = p | 'MyTestStream' >> TestStream().add_elements([1, 2]) | beam.Map(print)",
      "p.run().wait_until_finish()",
    ].join("\n");
    const failure = await run(defaultPython(), ["-c", script]).then(
      () => undefined,
      (e: { stderr: string }) => e.stderr,
    );
    expect(failure).toContain("INVALID_ARGUMENT");
    expect(failure).toContain("transform 'MyTestStream'");
    expect(failure).toContain("beam:transform:teststream:v1");
    expect(server.registry.jobs.size).toBe(jobsBefore);
  });
});

describe("push-based merge and pipelined reducers", () => {
  it("give the same outputs when every shuffle is merged (factor 2), gzipped, and reducers start on feeds", async () => {
    // Tiny inputs split too (smallInput 0): each stage has several map tasks to merge and feed from.
    const merging = await JobServer.start({
      port: 0,
      workers: 2,
      partitions: 6,
      merge: { threshold: 1, factor: 2 },
      compressShuffle: true,
      smallInput: { elements: 0, bytes: 0 },
    });
    try {
      const names = ["wordcount_files", "cogroupbykey", "side_inputs", "windowing", "reshuffle_two_gbks", "hot_key_million_values"];
      const result = await runCases("portable", names, ["--job_endpoint", merging.address]);
      for (const name of names) {
        expect(result[name]!.error, name).toBeNull();
        expect(result[name]!.lines, name).toEqual(reference[name]!.lines);
      }
      const stats = [...merging.shuffleStats.values()];
      expect(stats).toHaveLength(names.length);
      // Every job shuffles, so every job merged; pipelined starts need a producer still running.
      for (const s of stats) expect(s.mergeTasks).toBeGreaterThan(0);
      expect(stats.reduce((n, s) => n + s.earlyTasks, 0)).toBeGreaterThan(0);
    } finally {
      await merging.stop();
    }
  });
});

describe("combiner lifting by the runner", () => {
  it("gives the same results when the SDK submits combiners unlifted", async () => {
    const unlifted = await runCases("portable", ["combiners", "wordcount_files"], ["--job_endpoint", server.address, "--flag=--experiments=pre_optimize=none"]);
    expect(unlifted.combiners!.lines).toEqual(reference.combiners!.lines);
    expect(unlifted.wordcount_files!.lines).toEqual(reference.wordcount_files!.lines);
  });
});

describe("staged artifacts", () => {
  it("reach the Python harness: --save_main_session stages the pickled main session and the job runs", async () => {
    const before = new Set(server.registry.jobs.keys());
    const result = await runCases("portable", ["cogroupbykey"], ["--job_endpoint", server.address, "--flag=--save_main_session"]);
    expect(result.cogroupbykey!.lines).toEqual(reference.cogroupbykey!.lines);
    const job = [...server.registry.jobs.values()].find((j) => !before.has(j.id))!;
    expect(await server.store.list(`artifacts/${job.id}/`)).toContain(`artifacts/${job.id}/pickled_main_session`);
  });
});

describe("several jobs on one job server", () => {
  it("run at once without seeing each other's data", async () => {
    const [a, b] = await Promise.all([
      runCases("portable", ["combiners", "side_inputs"], ["--job_endpoint", server.address]),
      runCases("portable", ["cogroupbykey", "windowing"], ["--job_endpoint", server.address]),
    ]);
    for (const [name, result] of Object.entries({ ...a, ...b })) {
      expect(result.error, name).toBeNull();
      expect(result.lines, name).toEqual(reference[name]!.lines);
    }
  });

  it("cancel a running job promptly, and the server goes on serving", async () => {
    const script = [
      "import time, apache_beam as beam",
      "from apache_beam.options.pipeline_options import PipelineOptions",
      `p = beam.Pipeline(options=PipelineOptions(['--runner=PortableRunner', '--job_endpoint=${server.address}', '--job_name=cancel_me']))`,
      "_ = p | beam.Create([1, 2, 3]) | beam.Map(lambda x: time.sleep(120))",
      "result = p.run()",
      "while str(result.state) != 'RUNNING': time.sleep(0.2)",
      "time.sleep(2)",
      "result.cancel()",
      "try:",
      "    result.wait_until_finish()",
      "except RuntimeError as e:",
      "    print('wait_until_finish raised:', e)",
      "print('final state', result.state)",
    ].join("\n");
    const started = Date.now();
    const { stdout } = await run(defaultPython(), ["-c", script]);
    expect(stdout).toContain("final state CANCELLED");
    expect(jobNamed("cancel_me")?.state).toBe(JobState_Enum.CANCELLED);
    expect(Date.now() - started).toBeLessThan(100_000); // well before the DoFn's sleep ends
    const after = await runCases("portable", ["cogroupbykey"], ["--job_endpoint", server.address]);
    expect(after.cogroupbykey!.lines).toEqual(reference.cogroupbykey!.lines);
  });
});

describe("the README's first command", () => {
  it("runs examples/wordcount.py on the embedded backend and prints the top words", async () => {
    const { stdout } = await run("node", [join(here, "../../bin/beam-lambda.js"), "run", join(here, "../../examples/wordcount.py")]);
    expect(stdout).toContain("Top 10 words (31 distinct)");
    expect(stdout).toMatch(/^\s+the: 200$/m);
    expect(stdout).toMatch(/^\s+to: 150$/m);
  });

  it("takes job-server flags before the pipeline file, and the pipeline's own after it", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "run-flags-")), "counts");
    const args = ["run", "--workers", "1", "--partitions=3", "--split-threshold", "0", join(here, "../../examples/wordcount.py"), `--output=${out}`];
    const { stdout } = await run("node", [join(here, "../../bin/beam-lambda.js"), ...args]);
    expect(stdout).toContain(`written under ${out}`);
    expect(stdout).toMatch(/^\s+the: 200$/m);
  });
});
