// What the chaos tests share (chaos.test.ts on the embedded backend, chaos-aws.test.ts on
// `--backend aws`): run a case on a job server and on Beam's FnApiRunner while something is
// killed about every second for most of the job, then check that the job shrugged it off.
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { expect } from "vitest";
import type { JobServer, JobShuffleStats } from "../../src/driver/job-server.js";
import { type CaseResult, runCases } from "./run-cases.js";

/** What a kill hit: a process (group) id and what it was. */
export interface Target {
  pid: number;
  kind: string;
}

export interface Kill extends Target {
  at: number;
}

export interface ChaosOptions {
  server: JobServer;
  /** A case of cases.py whose output has 1000 lines. */
  caseName: string;
  workdir: string;
  /** Kills one random target and says which, or undefined when there was none to kill. */
  killOne(): Target | undefined;
  /** Kills stop after this long, so that the job finishes within the test's time. */
  windowMs: number;
  everyMs?: number;
  /** Further run_cases.py arguments for our run. */
  extra?: string[];
}

export interface ChaosOutcome {
  reference: CaseResult;
  ours: CaseResult;
  kills: Kill[];
  /** Whether the job was seen RUNNING (and so killing began). */
  killing: boolean;
  state: JobState_Enum | undefined;
  stats: JobShuffleStats | undefined;
  /** From the job server's start to our job's end, and to the end of both runs. */
  jobSeconds: number;
  seconds: number;
}

/** Runs `caseName` both ways, killing a target every `everyMs` from when our job runs until it ends or `windowMs` passes. */
export async function runUnderChaos(options: ChaosOptions): Promise<ChaosOutcome> {
  const { server, caseName, workdir, everyMs = 1000 } = options;
  const started = Date.now();
  const job = () => [...server.registry.jobs.values()].find((j) => j.pipelineOptions["beam:option:job_name:v1"] === caseName);
  const kills: Kill[] = [];
  let killing = false;
  const killer = (async () => {
    while (job()?.state !== JobState_Enum.RUNNING) {
      if (job()?.terminal || Date.now() - started > 120_000) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    killing = true;
    const killStart = Date.now();
    while (!job()!.terminal && Date.now() - killStart < options.windowMs) {
      const target = options.killOne();
      if (target) kills.push({ at: Date.now(), ...target });
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  let jobSeconds = 0;
  const [reference, ours] = await Promise.all([
    runCases("fnapi", [caseName], { workdir }),
    runCases("portable", [caseName], { workdir, extra: ["--job_endpoint", server.address, ...(options.extra ?? [])] }).finally(
      () => (jobSeconds = (Date.now() - started) / 1000),
    ),
  ]);
  await killer;
  return {
    reference: reference[caseName]!,
    ours: ours[caseName]!,
    kills,
    killing,
    state: job()?.state,
    stats: server.shuffleStats.get(job()?.id ?? ""),
    jobSeconds,
    seconds: (Date.now() - started) / 1000,
  };
}

/** One line with the numbers docs/reliability.md reports. */
export function describeChaos(outcome: ChaosOutcome): string {
  const { kills, stats, state } = outcome;
  const kinds = [...new Set(kills.map((k) => k.kind))].map((kind) => `${kind}: ${kills.filter((k) => k.kind === kind).length}`).join(", ");
  return (
    `${kills.length} kills (${kinds}) in ${outcome.seconds.toFixed(1)} s (our job: ${outcome.jobSeconds.toFixed(1)} s); ` +
    `job ${JobState_Enum[state ?? 0]}, ${stats?.lostAttempts} attempts lost (at most ${stats?.mostLossesOfOneTask} by one task), ${stats?.failedAttempts} failed otherwise, ${stats?.speculativeTasks} speculative copies`
  );
}

/** The job was killed into repeatedly, every kill that hit an attempt was a loss (not a user failure), and it ended DONE with FnApiRunner's output. */
export function expectSurvived(outcome: ChaosOutcome): void {
  expect(outcome.killing).toBe(true);
  expect(outcome.kills.length).toBeGreaterThanOrEqual(5);
  expect(outcome.ours.error).toBeNull();
  expect(outcome.state).toBe(JobState_Enum.DONE);
  expect(outcome.stats!.lostAttempts).toBeGreaterThanOrEqual(3);
  expect(outcome.stats!.failedAttempts).toBe(0);
  expect(outcome.reference.error).toBeNull();
  expect(outcome.reference.lines).toHaveLength(1000);
  expect(outcome.ours.lines).toEqual(outcome.reference.lines);
}
