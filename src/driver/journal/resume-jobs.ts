// A job server starting on a store that outlived an earlier one takes back the jobs in its
// journal (job-journal.ts). A finished job is served as it ended (state, messages, metrics) until
// the registry releases it; an unfinished one is planned again from its recorded pipeline (the
// planner is a pure function of it, so stage and materialization ids are the same) and resumed
// from its committed tasks.
import { JobMessage_MessageImportance, JobState_Enum } from "apache-beam/proto/beam_job_api";
import type { Pipeline } from "apache-beam/proto/beam_runner_api";
import type { ObjectStore } from "../../store/index.js";
import { Job } from "../job.js";
import type { JobRegistry } from "../jobservice/job-registry.js";
import { executeToEnd } from "../jobservice/job-service.js";
import type { ExecutionPlan } from "../planner/index.js";
import { JobJournal, type JournaledJob, planDigest } from "./job-journal.js";
import { log } from "../../common/log.js";

export interface ResumeDeps {
  store: ObjectStore;
  registry: JobRegistry;
  plan(pipeline: Pipeline): ExecutionPlan;
  /** The journal object that goes on recording job `jobId`, whose journal has `events` events. */
  journalFor(jobId: string, events: number): JobJournal;
  /** Runs a resumed job on from its committed tasks. */
  resume(job: Job, journal: JobJournal, journaled: JournaledJob): Promise<void>;
}

/** Registers every journaled job; resumes the unfinished ones. Returns the jobs taken back. */
export async function restoreJournaledJobs(deps: ResumeDeps): Promise<Job[]> {
  const restored: Job[] = [];
  for (const id of await JobJournal.jobIds(deps.store)) {
    const journaled = await JobJournal.read(deps.store, id);
    // Run's first records were not all written: the client never heard the job run.
    if (!journaled) continue;
    let plan: ExecutionPlan;
    try {
      plan = deps.plan(journaled.pipeline);
    } catch (e) {
      log.warn(`journaled job could not be planned again, and is not taken back: ${(e as Error).message}`, { component: "driver", job: id });
      continue;
    }
    const job = new Job(id, journaled.name, journaled.pipeline, journaled.pipelineOptions, plan);
    job.restore(journaled.events);
    for (const c of journaled.commits) job.metrics.add(c.monitoringInfos);
    deps.registry.restore(job, journaled.owner);
    restored.push(job);
    if (job.terminal) continue;
    const journal = deps.journalFor(id, journaled.events.length);
    journal.follow(job);
    resumeOrEnd(job, journal, journaled, deps);
  }
  return restored;
}

function resumeOrEnd(job: Job, journal: JobJournal, journaled: JournaledJob, deps: ResumeDeps): void {
  if (job.state === JobState_Enum.CANCELLING) {
    job.transition(JobState_Enum.CANCELLED);
    return;
  }
  const pools = Object.values(job.plan.environments).filter((env) => env.kind === "external");
  if (pools.length > 0) {
    // A LOOPBACK pool lives in the submitting client, which lost its connection with the server.
    job.fail(
      `the job server restarted while this job ran; its SDK worker pool (${pools.map((p) => p.address).join(", ")}, a LOOPBACK or EXTERNAL environment) ` +
        "belongs to its client, so the job is not resumed: submit it again",
    );
    return;
  }
  const committed = journaled.commits.length;
  if (committed > 0 && journaled.planDigest !== planDigest(job.plan)) {
    // Its commits name stages and outputs of another plan: reusing them could give a wrong answer.
    job.fail(
      `the job server restarted as a version that plans this job's pipeline differently from the one that started it, ` +
        `so its ${committed} committed task${committed === 1 ? "" : "s"} cannot be reused and the job is not resumed: submit it again`,
    );
    return;
  }
  job.log(
    JobMessage_MessageImportance.JOB_MESSAGE_BASIC,
    `the job server restarted: job ${job.id} resumes (run ${journaled.runs + 1}); its ${journaled.commits.length} tasks committed before are not run again`,
  );
  void executeToEnd(job, (j) => deps.resume(j, journal, journaled));
}
