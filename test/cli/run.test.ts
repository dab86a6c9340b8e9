// `beam-lambda run`, as a user calls it from a shell.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("beam-lambda run", () => {
  it("with a Python that cannot be started, says which and exits 1 (not a crash's stack trace)", () => {
    const run = spawnSync(process.execPath, ["bin/beam-lambda.js", "run", "--workers", "1", "examples/wordcount.py"], {
      env: { ...process.env, BEAM_LAMBDA_PYTHON: "/nonexistent/python3" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toContain("cannot run examples/wordcount.py with /nonexistent/python3");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
