// Python stateful DoFns using every user-state kind of the Python SDK (bag, value, combining, set
// and ordered-list state), on our job endpoint with few and with many shuffle partitions (so each
// key's state lives in a different task), compared with the same pipelines on Beam's FnApiRunner.
// The cases live in cases.py.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer } from "../../src/driver/index.js";
import { type CaseResult, runCases } from "./run-cases.js";

const SERVED = ["set_state", "every_state_kind", "ordered_list_state"];

const servers: Record<string, JobServer> = {};
const results: Record<string, Record<string, CaseResult>> = {};
const workdir = mkdtempSync(join(tmpdir(), "beam-lambda-user-state-"));

beforeAll(async () => {
  servers.default = await JobServer.start({ port: 0, workers: 2 });
  servers.partitions5 = await JobServer.start({ port: 0, workers: 2, partitions: 5 });
  const on = (name: string) => runCases("portable", SERVED, { workdir: join(workdir, name), extra: ["--job_endpoint", servers[name]!.address] });
  // Two cores: the reference and one server at a time.
  [results.fnapi, results.default] = await Promise.all([runCases("fnapi", SERVED, { workdir: join(workdir, "fnapi") }), on("default")]);
  results.partitions5 = await on("partitions5");
});

afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.stop()));
});

describe.each(["default", "partitions5"])("user state on our runner (%s)", (server) => {
  it.each(SERVED)("%s gives the same output as Beam's FnApiRunner", (name) => {
    const reference = results.fnapi![name]!;
    const ours = results[server]![name]!;
    expect(reference.error).toBeNull();
    expect(ours.error).toBeNull();
    expect(ours.lines!.length).toBeGreaterThan(0);
    expect(ours.lines).toEqual(reference.lines);
  });
});
