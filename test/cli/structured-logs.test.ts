// `beam-lambda job-server --log-format json`: every line the job server and its worker processes
// write to stderr is a JSON object, and every task attempt of a real Beam Python job appears twice,
// from the driver and from the worker that ran it, each with the job, stage, task and attempt ids.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultPython } from "../../src/driver/index.js";

const BIN = new URL("../../bin/beam-lambda.js", import.meta.url).pathname;
const PIPELINE = new URL("./gated_pipeline.py", import.meta.url).pathname;

interface Entry {
  time: string;
  level: string;
  msg: string;
  component?: string;
  job?: string;
  stage?: string;
  task?: number;
  attempt?: number;
  worker?: number;
}

describe("structured logs", () => {
  it("--log-format json: job, stage, task and attempt ids on every attempt's lines, from the driver and the worker", async () => {
    const server = spawn(process.execPath, [BIN, "job-server", "--port", "0", "--no-ui", "--workers", "2", "--log-format", "json", "--log-level", "info"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    server.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const address = await new Promise<string>((resolve, reject) => {
      server.stdout.on("data", (d: Buffer) => {
        const m = /listening on (\S+)/.exec(d.toString());
        if (m) resolve(m[1]!);
      });
      server.on("exit", (code) => reject(new Error(`job server exited with ${code}: ${stderr}`)));
    });
    try {
      const out = join(mkdtempSync(join(tmpdir(), "logs-")), "out");
      const client = spawn(defaultPython(), [PIPELINE, "--output", out, "--runner=PortableRunner", `--job_endpoint=${address}`, "--job_name=logged"], { stdio: "ignore" });
      expect(await new Promise((resolve) => client.on("exit", resolve))).toBe(0);
      // The last lines (the job's end) may still be on their way.
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      server.kill("SIGTERM");
      await new Promise((resolve) => server.on("exit", resolve));
    }
    const lines = stderr.split("\n").filter((l) => l.trim());
    const entries = lines.map((l) => JSON.parse(l) as Entry);
    for (const e of entries) expect(e).toMatchObject({ time: expect.any(String) as string, level: expect.stringMatching(/^(info|warn|error)$/) as string, msg: expect.any(String) as string });

    const jobId = entries.find((e) => e.msg === "job logged is RUNNING")!.job!;
    expect(jobId).toMatch(/^logged-/);
    expect(entries.some((e) => e.job === jobId && e.msg === "job logged is DONE")).toBe(true);
    const ran = /ran (\d+) stages as (\d+) tasks/.exec(entries.find((e) => e.job === jobId && /ran \d+ stages/.test(e.msg))!.msg)!;
    const tasks = Number(ran[2]);

    const attemptKey = (e: Entry) => `${e.stage}/${e.task}/${e.attempt}`;
    const driver = entries.filter((e) => e.component === "driver" && e.job === jobId && e.msg === "attempt succeeded");
    const worker = entries.filter((e) => e.component === "worker" && e.job === jobId && e.msg.startsWith("attempt succeeded in "));
    // Nothing failed: one attempt per task, told by both sides, with the same ids and worker.
    expect(driver).toHaveLength(tasks);
    expect(new Set(driver.map(attemptKey)).size).toBe(tasks);
    expect(worker.map(attemptKey).sort()).toEqual(driver.map(attemptKey).sort());
    for (const e of [...driver, ...worker]) {
      expect(e.stage).toMatch(/^s\d+$/);
      expect(Number.isInteger(e.task) && Number.isInteger(e.attempt) && Number.isInteger(e.worker)).toBe(true);
    }
    const workerOf = new Map(worker.map((e) => [attemptKey(e), e.worker]));
    for (const e of driver) expect(e.worker).toBe(workerOf.get(attemptKey(e)));
  });
});
