import { JobMessage_MessageImportance } from "apache-beam/proto/beam_job_api";
import { Pipeline } from "apache-beam/proto/beam_runner_api";
import { describe, expect, it } from "vitest";
import { REDACTED } from "../../src/common/redact.js";
import { Job } from "../../src/driver/job.js";
import type { ExecutionPlan } from "../../src/driver/planner/index.js";

describe("a job's messages", () => {
  it("when a message carries a secret option's value, clients and logs get it redacted", () => {
    const job = new Job("job-1", "job", Pipeline.create(), {}, { stages: [] } as unknown as ExecutionPlan);
    const heard: string[] = [];
    job.subscribe((e) => e.kind === "message" && heard.push(e.message.messageText));

    job.log(JobMessage_MessageImportance.JOB_MESSAGE_ERROR, "harness failed with {'s3_secret_access_key': 'wJalr', 'region': 'us-east-1'}");

    const expected = `harness failed with {'s3_secret_access_key': '${REDACTED}', 'region': 'us-east-1'}`;
    expect(job.messages.map((m) => m.messageText)).toEqual([expected]);
    expect(heard).toEqual([expected]);
  });
});
