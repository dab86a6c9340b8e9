// Runs pipelines from cases.py through run_cases.py (on Beam's FnApiRunner or on a job
// endpoint) and reads their results: the helper every end-to-end test file shares.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { defaultPython } from "../../src/driver/index.js";

const run = promisify(execFile);
const script = new URL("./run_cases.py", import.meta.url).pathname;

/** Cases that read and write s3:// data under BEAM_LAMBDA_TEST_S3 (cases.py). */
export const S3_CASES = ["s3_wordcount", "s3_dataframe_read_csv", "s3_sklearn_inference"];

export interface CaseResult {
  lines: string[] | null;
  metrics: Record<string, unknown>;
  error: string | null;
}

export interface RunCasesOptions {
  /** run_cases.py's --workdir: each case works (and leaves its markers) in WORKDIR/RUNNER/CASE. */
  workdir: string;
  /** Further arguments, e.g. `--job_endpoint ADDR` or `--flag=--save_main_session`. */
  extra?: string[];
  env?: NodeJS.ProcessEnv;
}

export async function runCases(runner: "fnapi" | "portable", names: string[], options: RunCasesOptions): Promise<Record<string, CaseResult>> {
  const out = join(mkdtempSync(join(tmpdir(), "run-cases-")), `${runner}.json`);
  await run(defaultPython(), [script, "--runner", runner, "--workdir", options.workdir, "--out", out, ...(options.extra ?? []), ...names], {
    maxBuffer: 64 << 20,
    env: options.env ?? process.env,
  });
  return JSON.parse(readFileSync(out, "utf8")) as Record<string, CaseResult>;
}

/** The parent process id of `pid`, from /proc. */
export function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}
