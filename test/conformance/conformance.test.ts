// Beam's own conformance suite (apache_beam.runners.portability.portable_runner_test, from the
// pinned wheel) against our job endpoint, LOOPBACK harness. Every test must pass or be skipped
// with a reason, and the skips must be exactly the ones docs/conformance.md lists.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer, defaultPython } from "../../src/driver/index.js";

const here = new URL(".", import.meta.url).pathname;

interface Outcome {
  name: string;
  status: "passed" | "failed" | "skipped";
  message: string;
}

let server: JobServer;
let outcomes: Outcome[];

function parseJunit(xml: string): Outcome[] {
  const out: Outcome[] = [];
  for (const m of xml.matchAll(/<testcase [^>]*name="([^"]+)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = m[3] ?? "";
    const skipped = /<skipped[^>]*message="([^"]*)"/.exec(body);
    const failed = /<(failure|error)[^>]*message="([^"]*)"/.exec(body);
    out.push({
      name: m[1]!,
      status: failed ? "failed" : skipped ? "skipped" : "passed",
      message: failed?.[2] ?? skipped?.[1] ?? "",
    });
  }
  return out;
}

beforeAll(async () => {
  server = await JobServer.start({ port: 0, workers: 2 });
  const junit = join(mkdtempSync(join(tmpdir(), "conformance-")), "junit.xml");
  await promisify(execFile)(defaultPython(), ["-m", "pytest", "-q", "-p", "no:cacheprovider", `--junitxml=${junit}`, "test_portable_runner.py"], {
    cwd: here,
    env: { ...process.env, BEAM_LAMBDA_JOB_ENDPOINT: server.address },
    maxBuffer: 256 << 20,
  }).catch((e: { stdout?: string }) => {
    // pytest exits non-zero when a test fails; the outcomes below say which.
    if (!e.stdout?.includes("passed") && !e.stdout?.includes("failed")) throw e;
  });
  outcomes = parseJunit(readFileSync(junit, "utf8"));
});

afterAll(async () => {
  await server?.stop();
});

describe("Beam's PortableRunnerTest suite against our job endpoint", () => {
  it("ran the whole suite", () => {
    expect(outcomes.length).toBeGreaterThan(70);
  });

  it("has no failing test", () => {
    const failures = outcomes.filter((o) => o.status === "failed").map((o) => `${o.name}: ${o.message.slice(0, 300)}`);
    expect(failures).toEqual([]);
  });

  it("skips exactly the tests docs/conformance.md lists", () => {
    const doc = readFileSync(join(here, "../../docs/conformance.md"), "utf8");
    const documented = [...doc.matchAll(/^\| `(test_[a-z0-9_]+)` \|/gm)].map((m) => m[1]).sort();
    const skipped = outcomes.filter((o) => o.status === "skipped").map((o) => o.name).sort();
    expect(skipped).toEqual(documented);
  });
});
