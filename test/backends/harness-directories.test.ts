// Harness directories (with a job's staged artifacts) do not outlive their worker process: the
// local backend removes those of a worker that died (a cancelled or failed job's workers are
// SIGKILLed, so cannot), and a sweep removes those of any worker process that is gone.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LocalBackend } from "../../src/backends/local-backend.js";
import { harnessDirectory, sweepStaleHarnessDirectories } from "../../src/worker/harness-directories.js";

/** A harness directory as a Python harness leaves it, with a staged artifact. */
async function leaveDirectory(workerId: string): Promise<string> {
  const dir = harnessDirectory(workerId);
  await mkdir(join(dir, "staged"), { recursive: true });
  await writeFile(join(dir, "staged", "pickled_main_session"), "session");
  return dir;
}

function childPids(): number[] {
  const text = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

let backend: LocalBackend | undefined;
afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

describe("harness directories", () => {
  it("when a worker process is gone, the sweep removes its directories and keeps a live one's", async () => {
    const gone = spawnSync("true").pid;
    const stale = await leaveDirectory(`w${gone}-1`);
    const live = await leaveDirectory(`w${process.pid}-99999`);
    await sweepStaleHarnessDirectories();
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    await sweepStaleHarnessDirectories();
    spawnSync("rm", ["-rf", live]);
  });

  it("when a local worker is SIGKILLed (a cancelled or failed job's), the backend removes its directories", async () => {
    const before = new Set(childPids());
    backend = new LocalBackend({ workers: 1, storeUrl: "file:///tmp/unused-store", python: "python3" });
    const worker = childPids().find((pid) => !before.has(pid))!;
    expect(worker).toBeDefined();
    const dirs = [await leaveDirectory(`w${worker}-1`), await leaveDirectory(`w${worker}-2`)];

    process.kill(worker, "SIGKILL");

    await until(() => dirs.every((d) => !existsSync(d)), 10_000);
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
  });
});
