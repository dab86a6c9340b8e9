// A task goes in its invocation's payload up to Lambda's asynchronous limit, and by reference
// to a stored copy past it; the payload's format is the contract with deployed workers.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeTaskPayload } from "../../src/backends/encode-task-payload.js";
import { ASYNC_PAYLOAD_LIMIT_BYTES } from "../../src/common/task-payload.js";
import { type MergeTaskSpec, TASK_SPEC_VERSION } from "../../src/common/task-spec.js";
import { LocalObjectStore } from "../../src/store/index.js";

const replyTo = { invocationId: "d/job-1/s0/merge/0/0", queueUrl: "https://sqs/q" };

function mergeTask(outputKey: string): MergeTaskSpec {
  return { version: TASK_SPEC_VERSION, kind: "merge", jobId: "job-1", stageId: "s0", stageName: "merge", taskIndex: 0, attempt: 0, materializationId: "m", inputs: [], outputKey };
}

describe("encodeTaskPayload", () => {
  it("when the task fits, it sends the task itself with replyTo and stores nothing", async () => {
    const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "payload-")));
    const task = mergeTask("jobs/job-1/merged");

    const { payload, byReference } = await encodeTaskPayload(task, store, replyTo);

    expect(byReference).toBe(false);
    expect(JSON.parse(payload.toString())).toEqual({ ...task, replyTo });
    expect(await store.list("")).toEqual([]);
  });

  it("when the task is over the limit, it stores it at its reference key and sends {taskRef, replyTo}", async () => {
    const store = new LocalObjectStore(mkdtempSync(join(tmpdir(), "payload-")));
    const task = mergeTask("x".repeat(ASYNC_PAYLOAD_LIMIT_BYTES));

    const { payload, byReference } = await encodeTaskPayload(task, store, replyTo);

    expect(byReference).toBe(true);
    const taskRef = "jobs/job-1/task-specs/s0-merge-0-attempt-0.json";
    expect(payload.toString()).toBe(JSON.stringify({ taskRef, replyTo }));
    expect(JSON.parse((await store.get(taskRef)).toString())).toEqual(task);
  });
});
