// The store's key layout: the exact keys the runner writes. Stored objects, lifecycle rules and
// deployed workers depend on them, so these strings change only on purpose.
import { describe, expect, it } from "vitest";
import { TASK_SPEC_VERSION, type MergeTaskSpec } from "../../src/common/task-spec.js";
import {
  ARTIFACTS_FOLDER,
  JOBS_FOLDER,
  JobKeys,
  artifactPrefix,
  attemptKey,
  jobIdOfTaskReference,
  jobPrefix,
  resultReferenceKey,
  taskReferenceKey,
} from "../../src/store/index.js";

const JOB = "wordcount-1a2b3c4d";

describe("the store's key layout", () => {
  it("puts a job's scratch space under jobs/<job>/ and its artifacts under artifacts/<job>/", () => {
    expect(JOBS_FOLDER).toBe("jobs/");
    expect(ARTIFACTS_FOLDER).toBe("artifacts/");
    expect(jobPrefix(JOB)).toBe("jobs/wordcount-1a2b3c4d/");
    expect(artifactPrefix(JOB)).toBe("artifacts/wordcount-1a2b3c4d/");
  });

  it("names descriptors, attempts, merges and feeds under the job's prefix", () => {
    const keys = new JobKeys(JOB);

    expect(keys.descriptor("s3")).toBe("jobs/wordcount-1a2b3c4d/descriptors/s3");
    expect(keys.windowMergeDescriptor("s3")).toBe("jobs/wordcount-1a2b3c4d/descriptors/s3-merge-windows");
    expect(keys.taskAttempts("s3", 7)).toBe("jobs/wordcount-1a2b3c4d/stages/s3/task-7");
    expect(attemptKey(keys.taskAttempts("s3", 7), 2)).toBe("jobs/wordcount-1a2b3c4d/stages/s3/task-7/attempt-2");
    expect(keys.mergeAttempts(1, 4)).toBe("jobs/wordcount-1a2b3c4d/merges/m1/4");
    expect(attemptKey(keys.mergeAttempts(1, 4), 0)).toBe("jobs/wordcount-1a2b3c4d/merges/m1/4/attempt-0");
    expect(keys.feed(0)).toBe("jobs/wordcount-1a2b3c4d/feeds/m0");
  });

  it("stores a task sent by reference under the job's task-specs, and reads the job back from the key", () => {
    const task: MergeTaskSpec = {
      version: TASK_SPEC_VERSION,
      kind: "merge",
      jobId: JOB,
      stageId: "s3",
      stageName: "merge",
      taskIndex: 5,
      attempt: 1,
      materializationId: "m",
      inputs: [],
      outputKey: "unused",
    };

    const key = taskReferenceKey(task);

    expect(key).toBe("jobs/wordcount-1a2b3c4d/task-specs/s3-merge-5-attempt-1.json");
    expect(jobIdOfTaskReference(key)).toBe(JOB);
  });

  it("stores a result sent by reference under the job's results, its invocation id URI-encoded", () => {
    expect(resultReferenceKey(JOB, "driver-1/wordcount-1a2b3c4d/s3/bundle/0/1")).toBe(
      "jobs/wordcount-1a2b3c4d/results/driver-1%2Fwordcount-1a2b3c4d%2Fs3%2Fbundle%2F0%2F1.json",
    );
  });
});
