// What a job server starting on a store with journaled jobs does with each (journal/resume-jobs.ts):
// a finished job is served as it ended, a running one is resumed with its committed tasks, a
// job being cancelled ends CANCELLED, and one whose SDK worker pool was its client's fails saying so.
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { JobMessage_MessageImportance, JobState_Enum } from "apache-beam/proto/beam_job_api";
import { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { Pipeline } from "apache-beam/proto/beam_runner_api";
import { afterAll, describe, expect, it } from "vitest";
import { JobServer } from "../../src/driver/index.js";
import { Job } from "../../src/driver/job.js";
import { JobJournal, type JournaledJob } from "../../src/driver/journal/job-journal.js";
import { restoreJournaledJobs } from "../../src/driver/journal/resume-jobs.js";
import { JobRegistry } from "../../src/driver/jobservice/job-registry.js";
import type { ExecutionPlan } from "../../src/driver/planner/index.js";
import { LocalObjectStore } from "../../src/store/index.js";
import { handBuiltPlan } from "./hand-built-plan.js";
import { pipelineWithArtifact, unary } from "./job-api.js";

const roots: string[] = [];
afterAll(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

const processPlan = handBuiltPlan({ A: {}, B: { reads: "A", grouped: true } });
const loopbackPlan: ExecutionPlan = { ...processPlan, environments: { env: { id: "env", kind: "external", address: "localhost:50000" } } };

/** Runs a job through `states` as a job server with a journal would, and "dies" (detaches) after. */
async function journalJob(store: LocalObjectStore, id: string, states: JobState_Enum[], commits = 0): Promise<void> {
  const job = new Job(id, `name-${id}`, Pipeline.create(), { a: 1 }, processPlan);
  job.transition(JobState_Enum.STARTING);
  const journal = new JobJournal(store, id);
  await journal.begin(job, "owner-hash", 2);
  await journal.beginRun();
  for (const state of states) {
    job.log(JobMessage_MessageImportance.JOB_MESSAGE_BASIC, `going ${JobState_Enum[state]}`);
    job.transition(state);
  }
  for (let i = 0; i < commits; i++) await journal.recordCommit({ stageId: "B", taskIndex: i, whole: false, outputs: [], monitoringInfos: [] });
  await journal.detach();
}

/**
 * Journals job `id` as RUNNING with one committed task, then restores it as a server whose
 * planner gives `plan` would: the job as restored, the resumes asked for, and the store.
 */
async function restoreRunningJob(id: string, plan: ExecutionPlan): Promise<{ job: Job; resumed: number; store: LocalObjectStore }> {
  const root = mkdtempSync(join(tmpdir(), "resume-jobs-test-"));
  roots.push(root);
  const store = new LocalObjectStore(root);
  await journalJob(store, id, [JobState_Enum.RUNNING], 1);
  const registry = new JobRegistry();
  let resumed = 0;
  await restoreJournaledJobs({
    store,
    registry,
    plan: () => plan,
    journalFor: (jobId, events) => new JobJournal(store, jobId, events),
    resume: async () => {
      resumed++;
    },
  });
  return { job: registry.get(id, "owner-hash"), resumed, store };
}

describe("restoring journaled jobs at a job server's start", () => {
  it("serves finished jobs, resumes running ones and ends cancelling ones", async () => {
    const root = mkdtempSync(join(tmpdir(), "resume-jobs-test-"));
    roots.push(root);
    const store = new LocalObjectStore(root);
    await journalJob(store, "done", [JobState_Enum.RUNNING, JobState_Enum.DONE]);
    await journalJob(store, "running", [JobState_Enum.RUNNING], 2);
    await journalJob(store, "cancelling", [JobState_Enum.RUNNING, JobState_Enum.CANCELLING]);

    const registry = new JobRegistry();
    const resumed: { job: Job; journaled: JournaledJob }[] = [];
    const journals: JobJournal[] = [];
    const jobs = await restoreJournaledJobs({
      store,
      registry,
      plan: () => processPlan,
      journalFor: (id, events) => {
        const journal = new JobJournal(store, id, events);
        journals.push(journal);
        return journal;
      },
      // The run goes on (it never ends in this test).
      resume: (job, _journal, journaled) => {
        resumed.push({ job, journaled });
        return new Promise<void>(() => undefined);
      },
    });
    expect(jobs).toHaveLength(3);

    const done = registry.get("done", "owner-hash");
    expect(done.state).toBe(JobState_Enum.DONE);
    expect(done.name).toBe("name-done");
    expect(done.pipelineOptions).toEqual({ a: 1 });
    expect(done.messages.map((m) => m.messageText)).toEqual(["going RUNNING", "going DONE"]);
    // Another caller does not see it, as before the restart.
    expect(() => registry.get("done", undefined)).toThrow(/no job/);

    expect(resumed.map((r) => r.job.id)).toEqual(["running"]);
    expect(resumed[0]!.journaled.commits.map((c) => c.taskIndex).sort()).toEqual([0, 1]);
    expect(resumed[0]!.journaled.runs).toBe(1);
    expect(resumed[0]!.journaled.partitions).toBe(2);
    expect(registry.get("running", "owner-hash").messages.at(-1)!.messageText).toMatch(/restarted: job running resumes \(run 2\); its 2 tasks committed before are not run again/);

    expect(registry.get("cancelling", "owner-hash").state).toBe(JobState_Enum.CANCELLED);
    await Promise.all(journals.map((j) => j.flush()));
    // The end is journaled: a server started next serves it as CANCELLED.
    expect((await JobJournal.read(store, "cancelling"))!.events.at(-1)).toMatchObject({ kind: "state", state: JobState_Enum.CANCELLED });
    // Message ids go on from the journaled ones.
    const running = registry.get("running", "owner-hash");
    expect(new Set(running.messages.map((m) => m.messageId)).size).toBe(running.messages.length);
  });

  it("does not resume a job with commits when this server plans its pipeline differently (another planner version), saying why", async () => {
    // Stage B now also runs what was a stage of its own: the commit of B's task 0 means something else.
    const { job, resumed, store } = await restoreRunningJob("replanned", handBuiltPlan({ A: {}, B: { reads: "A", grouped: true }, C: { reads: "B" } }));
    expect((await JobJournal.read(store, "replanned"))!.planDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(resumed).toBe(0);
    expect(job.state).toBe(JobState_Enum.FAILED);
    expect(job.messages.at(-1)!.messageText).toMatch(/plans this job's pipeline differently .* its 1 committed task cannot be reused/);
  });

  it("fails a job whose SDK worker pool was its client's (LOOPBACK), saying why", async () => {
    const { job, resumed } = await restoreRunningJob("loopback", loopbackPlan);
    expect(resumed).toBe(0);
    expect(job.state).toBe(JobState_Enum.FAILED);
    expect(job.messages.at(-1)!.messageText).toMatch(/SDK worker pool \(localhost:50000, a LOOPBACK or EXTERNAL environment\).*not resumed/);
  });

  it("a job is journaled by the time Run answers (Run waits for it), so that a server restarted at once finds it", async () => {
    const root = mkdtempSync(join(tmpdir(), "resume-jobs-test-"));
    roots.push(root);
    const server = await JobServer.start({ port: 0, workers: 1, storeDir: root });
    const jobs = new JobServiceClient(server.address, grpc.credentials.createInsecure());
    try {
      const prepared = await unary(jobs.prepare.bind(jobs), { pipeline: pipelineWithArtifact("missing.bin"), jobName: "job" });
      const { jobId } = await unary(jobs.run.bind(jobs), { preparationId: prepared.preparationId, retrievalToken: "" });
      const journaled = await JobJournal.read(new LocalObjectStore(root), jobId);
      expect(journaled?.name).toBe("job");
      expect(journaled?.events[0]).toMatchObject({ kind: "state", state: JobState_Enum.STARTING });
    } finally {
      jobs.close();
      await server.stop();
    }
  });
});
