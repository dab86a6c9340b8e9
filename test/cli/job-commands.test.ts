// `beam-lambda jobs | status | cancel | logs` against a running job server, as a user calls them
// from a shell, and every command's --help and flag checks. The job they watch is a real Beam
// Python pipeline (gated_pipeline.py) held mid-run until the test lets it go.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPython } from "../../src/driver/index.js";
import { startJobServerProcess } from "../driver/job-api.js";

const BIN = new URL("../../bin/beam-lambda.js", import.meta.url).pathname;
const PIPELINE = new URL("./gated_pipeline.py", import.meta.url).pathname;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `beam-lambda ARGS...`, to its end. */
async function cli(args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const error = e as Error & { code?: number; stdout?: string; stderr?: string };
    return { code: typeof error.code === "number" ? error.code : -1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" };
  }
}

interface JobRow {
  id: string;
  name: string;
  state: string;
}

describe("beam-lambda --help", () => {
  const commands: [string, string[]][] = [
    ["job-server", ["--backend <NAME>", "--store <DIR|URL>", "--function-name <NAME>", "--max-running-jobs <N>"]],
    ["run", ["<pipeline>", "--backend <NAME>", "--workers <N>"]],
    ["lambda-emulator", ["--store <s3://BUCKET/PREFIX>", "--environments <N>", "--image <IMAGE>"]],
    ["executor", ["--host <HOST>", "--port <PORT>"]],
    ["jobs", ["--endpoint <HOST:PORT>", "--json"]],
    ["status", ["<job>", "--endpoint <HOST:PORT>"]],
    ["cancel", ["<job>", "--auth-token-file <FILE>"]],
    ["logs", ["<job>", "--follow"]],
  ];
  it.each(commands)("beam-lambda %s --help names its arguments and flags", async (command, expected) => {
    const result = await cli([command, "--help"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Usage: beam-lambda ${command} `);
    for (const text of expected) expect(result.stdout).toContain(text);
  });

  it("lists every command at the top level", async () => {
    const result = await cli(["--help"]);
    expect(result.code).toBe(0);
    for (const command of commands.map(([c]) => c)) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
  });

  it("refuses unknown flags, bad values and missing arguments, saying which", async () => {
    const cases: [string[], string][] = [
      [["job-server", "--bogus"], "unknown option '--bogus'"],
      [["job-server", "--backend", "gcp"], "Allowed choices are local, lambda-emulator, aws"],
      [["job-server", "--workers", "two"], "--workers must be a non-negative integer, got 'two'"],
      [["lambda-emulator", "--store", "s3://b/p", "--environments", "0"], "must be a whole number of at least 1"],
      [["lambda-emulator"], "required option '--store <s3://BUCKET/PREFIX>' not specified"],
      [["status"], "missing required argument 'job'"],
      [["nonsense"], "unknown command 'nonsense'"],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).not.toBe(0);
      expect(result.stderr, args.join(" ")).toContain(message);
      expect(result.stderr, args.join(" ")).not.toMatch(/\n\s+at /);
    }
  });
});

describe("beam-lambda jobs, status, cancel and logs against a running job server", () => {
  let server: Awaited<ReturnType<typeof startJobServerProcess>>;
  let endpoint: string[];
  const workdir = mkdtempSync(join(tmpdir(), "cli-jobs-"));
  const clients: ChildProcess[] = [];

  beforeAll(async () => {
    server = await startJobServerProcess(["--workers", "2"]);
    endpoint = ["--endpoint", server.address];
  });

  afterAll(() => {
    for (const c of clients) c.kill("SIGKILL");
    server?.child.kill("SIGTERM");
  });

  /** Submits gated_pipeline.py as job `name`; resolves with the Python client's exit code. */
  function submit(name: string, gate: string): Promise<number | null> {
    const child = spawn(
      defaultPython(),
      [PIPELINE, "--output", join(workdir, `${name}-out`), "--gate", gate, "--runner=PortableRunner", `--job_endpoint=${server.address}`, `--job_name=${name}`],
      { stdio: "ignore" },
    );
    clients.push(child);
    return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  async function listed(): Promise<JobRow[]> {
    const result = await cli(["jobs", "--json", ...endpoint]);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as JobRow[];
  }

  async function waitForJob(name: string, state: string): Promise<JobRow> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const job = (await listed()).find((j) => j.name === name);
      if (job?.state === state) return job;
      if (Date.now() > deadline) throw new Error(`job ${name} is ${job?.state ?? "not listed"}, not ${state}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  it("lists no jobs on a fresh server", async () => {
    const result = await cli(["jobs", ...endpoint]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe("no jobs");
  });

  it("watches a job while it runs and after it ends: jobs, status, logs, logs --follow", async () => {
    const gate = join(workdir, "gate-a");
    const clientExit = submit("cli-watched", gate);
    const job = await waitForJob("cli-watched", "RUNNING");

    const table = await cli(["jobs", ...endpoint]);
    expect(table.stdout).toMatch(/^JOB\s+NAME\s+STATE\s+SINCE$/m);
    expect(table.stdout).toMatch(new RegExp(`^${job.id}\\s+cli-watched\\s+RUNNING\\s+\\d{4}-`, "m"));

    const running = await cli(["status", job.id, ...endpoint]);
    expect(running.code, running.stderr).toBe(0);
    expect(running.stdout).toMatch(new RegExp(`^job ${job.id}: RUNNING since `));

    // Without --follow: the messages so far, then it exits although the job still runs.
    const sofar = await cli(["logs", job.id, ...endpoint]);
    expect(sofar.code, sofar.stderr).toBe(0);
    expect(sofar.stdout).toMatch(/ DETAILED +stage \S+ \[.*\] started with \d+ tasks/);
    expect(sofar.stdout).not.toContain("ran ");

    const follow = cli(["logs", job.id, "--follow", ...endpoint]);
    await new Promise((r) => setTimeout(r, 1000));
    writeFileSync(gate, "");
    const followed = await follow;
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(/ BASIC +job \S+ ran \d+ stages as \d+ tasks/);
    expect(followed.stdout.trim().split("\n").at(-1)).toBe(`job ${job.id}: DONE`);
    expect(await clientExit).toBe(0);

    const done = await cli(["status", job.id, ...endpoint]);
    expect(done.stdout).toMatch(new RegExp(`^job ${job.id}: DONE since `));
    // The pipeline's own counter, summed over its tasks: one per element.
    expect(done.stdout).toMatch(/^Gate\s+gated:elements\s+5000$/m);
    const json = JSON.parse((await cli(["status", job.id, "--json", ...endpoint])).stdout) as { state: string; metrics: { name: string; value: string }[] };
    expect(json.state).toBe("DONE");
    expect(json.metrics).toContainEqual(expect.objectContaining({ name: "elements", value: "5000", kind: "counter" }));
    const written = readdirSync(workdir).filter((f) => f.startsWith("cli-watched-out"));
    expect(written.flatMap((f) => readFileSync(join(workdir, f), "utf8").trim().split("\n"))).toHaveLength(10);
  });

  it("cancels a running job; its client sees it end", async () => {
    const gate = join(workdir, "gate-never");
    const clientExit = submit("cli-cancelled", gate);
    const job = await waitForJob("cli-cancelled", "RUNNING");
    const cancelled = await cli(["cancel", job.id, ...endpoint]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout.trim()).toMatch(new RegExp(`^job ${job.id}: (CANCELLING|CANCELLED)$`));
    await waitForJob("cli-cancelled", "CANCELLED");
    // The Python client raises on a cancelled job: its exit is not 0, but it does exit.
    expect(await clientExit).not.toBe(0);
    expect(existsSync(gate)).toBe(false);
    const logs = await cli(["logs", job.id, "--follow", ...endpoint]);
    expect(logs.code).toBe(1);
    expect(logs.stdout.trim().split("\n").at(-1)).toBe(`job ${job.id}: CANCELLED`);
  });

  it("says what is wrong for an unknown job and for an endpoint nobody serves", async () => {
    const unknown = await cli(["status", "no-such-job", ...endpoint]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^beam-lambda: .*no-such-job/);
    const nobody = await cli(["jobs", "--endpoint", "127.0.0.1:1"]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain("beam-lambda: no job server answers at 127.0.0.1:1");
  });
});

describe("beam-lambda jobs against a job server that wants a token", () => {
  it("sends the first token of --auth-token-file, and says so when none is given", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "cli-token-")), "tokens");
    writeFileSync(file, "# callers\ncli-test-token-0123456789\n");
    const server = await startJobServerProcess(["--workers", "1", "--auth-token-file", file]);
    try {
      const without = await cli(["jobs", "--endpoint", server.address]);
      expect(without.code).toBe(1);
      expect(without.stderr).toContain("beam-lambda: this job server needs 'authorization: Bearer <token>'");
      const withToken = await cli(["jobs", "--endpoint", server.address, "--auth-token-file", file]);
      expect(withToken.code, withToken.stderr).toBe(0);
      expect(withToken.stdout.trim()).toBe("no jobs");
    } finally {
      server.child.kill("SIGTERM");
    }
  });
});
