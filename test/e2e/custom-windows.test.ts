// Custom merging WindowFns end to end: Python pipelines whose WindowFn only the SDK can merge
// (cases.py: Beam's own test WindowFn, a same-parity merge over 400 keys, bounded sessions with
// the earliest timestamp and a lifted combine), on our job endpoint and on Beam's FnApiRunner.
// Every line carries the group's window and timestamp, so a wrong merge or timestamp shows.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer, type JobServerOptions } from "../../src/driver/index.js";
import { type CaseResult, runCases } from "./run-cases.js";

const CASES = ["custom_merging_window", "merging_windows_by_parity", "bounded_sessions"];
const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-custom-windows-"));
let reference: Record<string, CaseResult>;

beforeAll(async () => {
  reference = await runCases("fnapi", CASES, { workdir: mkdtempSync(join(workdir, "fnapi-")) });
  for (const name of CASES) expect(reference[name]!.error, name).toBeNull();
});

describe.each<{ label: string; options: Partial<JobServerOptions> }>([
  { label: "2 workers", options: {} },
  { label: "2 workers, 7 partitions", options: { partitions: 7 } },
])("custom merging WindowFns on the embedded backend ($label)", ({ options }) => {
  let server: JobServer;
  let ours: Record<string, CaseResult>;

  beforeAll(async () => {
    server = await JobServer.start({ port: 0, workers: 2, ...options });
    ours = await runCases("portable", CASES, { workdir: mkdtempSync(join(workdir, "portable-")), extra: ["--job_endpoint", server.address] });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.each(CASES)("%s gives the same groups, windows and timestamps as Beam's FnApiRunner", (name) => {
    expect(ours[name]!.error).toBeNull();
    expect(ours[name]!.lines!.length).toBeGreaterThan(0);
    expect(ours[name]!.lines).toEqual(reference[name]!.lines);
  });

  it("had the SDK merge the windows: every job's grouped stages carry a window-merging descriptor", () => {
    for (const name of CASES) {
      const job = [...server.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === name);
      expect(job?.state, name).toBe(JobState_Enum.DONE);
      const merged = job!.plan.stages.filter((s) => s.windowMergeDescriptor);
      expect(merged.length, name).toBe(name === "bounded_sessions" ? 2 : 1);
    }
  });
});

it("gives the same results when the SDK submits the combine unlifted and the runner lifts it", async () => {
  const server = await JobServer.start({ port: 0, workers: 2 });
  try {
    const unlifted = await runCases("portable", ["bounded_sessions"], {
      workdir: mkdtempSync(join(workdir, "unlifted-")),
      extra: ["--job_endpoint", server.address, "--flag=--experiments=pre_optimize=none"],
    });
    expect(unlifted.bounded_sessions!.error).toBeNull();
    expect(unlifted.bounded_sessions!.lines).toEqual(reference.bounded_sessions!.lines);
  } finally {
    await server.stop();
  }
});

it("the cases really merge: some groups span several of their elements' windows", () => {
  // Elements get 1 s (parity), 1000 s (Beam's) and 15 s (bounded sessions) windows.
  const widths = (name: string, at: number) => reference[name]!.lines!.map((l) => l.split(", ").slice(at)).map(([start, end]) => parseFloat(end!) - parseFloat(start!));
  expect(widths("custom_merging_window", -3).some((w) => w > 1000)).toBe(true);
  expect(widths("merging_windows_by_parity", -3).some((w) => w > 1)).toBe(true);
  expect(widths("bounded_sessions", -3).some((w) => w > 15)).toBe(true);
});
