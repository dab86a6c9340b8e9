// Metamorphic checks: the same pipelines must give FnApiRunner's output however the runner cuts
// the work. Every case runs on job servers that differ in shuffle partitions (1, 3, 7), worker
// processes (1, 2), push-based merge (off, on), pipelined reducers (on, off) and whether small
// inputs run as one task; the randomized cases (cases.py, random_*) draw windowing, combiner,
// key cardinality and skew from fixed seeds.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer, type JobServerOptions } from "../../src/driver/index.js";
import { type CaseResult, runCases } from "./run-cases.js";

const RANDOM = Array.from({ length: 12 }, (_, seed) => `random_${seed}`);
const CASES = [
  "wordcount_files",
  "combiners",
  "cogroupbykey",
  "flatten_partition_multi_output",
  "side_inputs",
  "windowing",
  "sessions_many_keys",
  "stateful_timer",
  "group_into_batches",
  "stateful_batch_elements",
  "runner_transforms_back_to_back",
  "dataframe_read_csv",
  "batched_inference",
  ...RANDOM,
];

const CONFIGS: Record<string, JobServerOptions> = {
  "1 partition, 1 worker, no merge, pipelined": { workers: 1, partitions: 1 },
  "3 partitions, 2 workers, every shuffle merged, not pipelined, tiny inputs split": {
    workers: 2,
    partitions: 3,
    merge: { threshold: 1, factor: 2 },
    pipelining: false,
    smallInput: { elements: 0, bytes: 0 },
  },
  "7 partitions, 2 workers, every shuffle merged, pipelined, tiny inputs split": {
    workers: 2,
    partitions: 7,
    merge: { threshold: 1, factor: 3 },
    smallInput: { elements: 0, bytes: 0 },
  },
};

const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-metamorphic-"));
let reference: Record<string, CaseResult>;

beforeAll(async () => {
  reference = await runCases("fnapi", CASES, { workdir: mkdtempSync(join(workdir, "fnapi-")) });
  for (const name of CASES) expect(reference[name]!.error, `FnApiRunner failed ${name}`).toBeNull();
});

describe.each(Object.entries(CONFIGS))("on a job server with %s", (_, options) => {
  let server: JobServer;
  let ours: Record<string, CaseResult>;

  beforeAll(async () => {
    server = await JobServer.start({ port: 0, ...options });
    ours = await runCases("portable", CASES, { workdir: mkdtempSync(join(workdir, "ours-")), extra: ["--job_endpoint", server.address] });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.each(CASES)("%s gives FnApiRunner's output", (name) => {
    expect(ours[name]!.error).toBeNull();
    expect(ours[name]!.lines!.length).toBeGreaterThan(0);
    expect(ours[name]!.lines).toEqual(reference[name]!.lines);
  });
});
