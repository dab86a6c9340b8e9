// killSession takes what killing a process group misses: a process that moved to a group of its
// own within the session, as the Runtime Interface Emulator's runtime does.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { killSession, sessionMembers } from "../../src/backends/lambda-emulator/process-session.js";
import { alive, until } from "./process-helpers.js";

describe("killSession", () => {
  it("kills the leader's group and the processes in other groups of its session, nothing else", async () => {
    // A session leader whose child has a process group of its own (bash job control).
    const leader = spawn("bash", ["-c", "set -m; sleep 600 & echo $!; wait"], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
    const child = Number(await new Promise<string>((resolve) => leader.stdout.once("data", (d: Buffer) => resolve(d.toString()))));
    const exited = new Promise((r) => leader.once("exit", r));
    expect(sessionMembers(leader.pid!).sort()).toEqual([leader.pid!, child].sort());
    // The leader's group alone leaves the child running.
    process.kill(-leader.pid!, "SIGKILL");
    await exited;
    expect(alive(child)).toBe(true);
    killSession(leader.pid!);
    await until(() => !alive(child), "the child to die", 5000);
    expect(sessionMembers(leader.pid!)).toEqual([]);
    // This process's own session is untouched.
    expect(alive(process.pid)).toBe(true);
  });
});
