import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TaskPayload } from "../../src/common/task-payload.js";
import { TASK_SPEC_VERSION } from "../../src/common/task-spec.js";
import { handler } from "../../src/worker/handler.js";

const WORKER_VARIABLES = ["BEAM_LAMBDA_STORE", "BEAM_LAMBDA_PYTHON", "BEAM_LAMBDA_SHUFFLE_MEMORY_MB"];

/** Only the version is looked at before the worker starts its runner. */
const task = { version: TASK_SPEC_VERSION, jobId: "job" } as unknown as TaskPayload;

describe("the worker handler", () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const name of WORKER_VARIABLES) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
  });
  afterEach(() => {
    for (const name of WORKER_VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it("when its environment names no store, it fails the task for good, naming the variable", async () => {
    const result = await handler(task);

    expect(result).toMatchObject({ ok: false, retryable: false, error: "the worker cannot run tasks: the worker needs BEAM_LAMBDA_STORE in its environment" });
  });

  it("when a setting is unusable, it says which and why", async () => {
    process.env.BEAM_LAMBDA_STORE = "/tmp/unused-store";
    process.env.BEAM_LAMBDA_SHUFFLE_MEMORY_MB = "lots";

    const result = await handler(task);

    expect(result).toMatchObject({ ok: false, retryable: false, error: "the worker cannot run tasks: BEAM_LAMBDA_SHUFFLE_MEMORY_MB must be a positive number, got 'lots'" });
  });
});
