// Real Beam Python pipelines submitted to our job endpoint, compared with the same pipelines on
// Beam's in-process FnApiRunner. The cases live in cases.py; run_cases.py runs them on a runner.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer, defaultPython } from "../../src/driver/index.js";

const run = promisify(execFile);
const here = new URL(".", import.meta.url).pathname;

interface CaseResult {
  lines: string[] | null;
  metrics: Record<string, unknown>;
  error: string | null;
}

const CASES = [
  "wordcount_files",
  "combiners",
  "cogroupbykey",
  "flatten_partition_multi_output",
  "side_inputs",
  "windowing",
  "stateful_timer",
  "reshuffle_two_gbks",
  "metrics",
];

let server: JobServer;
let reference: Record<string, CaseResult>;
let ours: Record<string, CaseResult>;
const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-e2e-"));

async function runCases(runner: "fnapi" | "portable", names: string[], extra: string[] = []): Promise<Record<string, CaseResult>> {
  const out = join(workdir, `${runner}-${names.length}-${Date.now()}.json`);
  await run(defaultPython(), [join(here, "run_cases.py"), "--runner", runner, "--workdir", workdir, "--out", out, ...extra, ...names], {
    maxBuffer: 64 << 20,
  });
  return JSON.parse(readFileSync(out, "utf8")) as Record<string, CaseResult>;
}

function jobNamed(name: string) {
  return [...server.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === name);
}

beforeAll(async () => {
  server = await JobServer.start({ port: 0, workers: 2 });
  // The failing case runs between passing ones: the server must keep serving after it.
  const all = [...CASES.slice(0, 3), "failing_dofn", ...CASES.slice(3)];
  [reference, ours] = await Promise.all([
    runCases("fnapi", all),
    runCases("portable", all, ["--job_endpoint", server.address]),
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

  it("fails the job with the Python exception text when a DoFn raises", () => {
    expect(ours.failing_dofn!.error).toContain("ValueError: boom: the element was seven");
    expect(ours.failing_dofn!.error).toMatch(/failed in state FAILED: stage s\d+ failed in task \d+ at transform 'Explode'/);
    expect(jobNamed("failing_dofn")?.state).toBe(JobState_Enum.FAILED);
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

describe("the README's first command", () => {
  it("runs examples/wordcount.py on the embedded backend and prints the top words", async () => {
    const { stdout } = await run("node", [join(here, "../../bin/beam-lambda.js"), "run", join(here, "../../examples/wordcount.py")]);
    expect(stdout).toContain("Top 10 words (31 distinct)");
    expect(stdout).toMatch(/^\s+the: 200$/m);
    expect(stdout).toMatch(/^\s+to: 150$/m);
  });
});
