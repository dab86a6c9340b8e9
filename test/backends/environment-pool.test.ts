// How the pool treats an environment that dies: as Lambda does, the whole environment goes (its
// runtime cannot finish the task and report it afterwards), the invocation fails, no later
// invocation is sent into it, and a fresh environment replaces it. The emulator here is a stand-in
// that, like the Runtime Interface Emulator, starts its "runtime" in a process group of its own
// and then never answers an invocation (a task that runs long).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EnvironmentPool } from "../../src/backends/lambda-emulator/environment-pool.js";
import { sessionMembers } from "../../src/backends/lambda-emulator/process-session.js";
import { alive, until } from "./process-helpers.js";

const STAND_IN = `#!/usr/bin/env bash
# --runtime-api-address ADDR --runtime-interface-emulator-address 127.0.0.1:PORT RUNTIME...
set -m
sleep 600 &
echo $! >> "$RUNTIME_PIDS"
# HANG_UP=1: every invocation's connection is dropped without an answer.
exec node -e 'require("http").createServer((req) => process.env.HANG_UP && req.socket.destroy()).listen(Number(process.argv[1]), "127.0.0.1")' "\${4##*:}"
`;

/** A project root whose emulator is the stand-in; `runtimePids` collects the runtimes it starts. */
function standInRoot(): { root: string; runtimePids: string } {
  const root = mkdtempSync(join(tmpdir(), "pool-stand-in-"));
  for (const file of [".cache/lambda/bin/aws-lambda-rie", ".cache/lambda/ric/node_modules/aws-lambda-ric/bin/index.mjs", "build/lambda/index.mjs"]) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), file.endsWith("rie") ? STAND_IN : "");
  }
  chmodSync(join(root, ".cache/lambda/bin/aws-lambda-rie"), 0o755);
  return { root, runtimePids: join(root, "runtime-pids") };
}

const runtimes = (file: string): number[] => {
  try {
    return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

let pool: EnvironmentPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe("an emulated environment that dies under an invocation", () => {
  it("goes as a whole, fails its invocation, takes no further one, and is replaced", async () => {
    const { root, runtimePids } = standInRoot();
    pool = new EnvironmentPool({ environments: 1, functionEnv: { RUNTIME_PIDS: runtimePids }, projectRoot: root });
    const first = pool.invoke(Buffer.from("{}"), "job");
    // Queued behind the first: it must wait for the replacement, not be sent into the dead environment.
    let secondSettled = false;
    void pool.invoke(Buffer.from("{}"), "job").finally(() => (secondSettled = true));
    await until(() => pool!.busyEmulatorPids().length === 1 && runtimes(runtimePids).length === 1, "the first invocation to run", 10_000);
    const [emulator] = pool.busyEmulatorPids();
    const [runtime] = runtimes(runtimePids);

    // A crash from outside: the emulator's process group only, as `kill -9 -PID` would.
    process.kill(-emulator!, "SIGKILL");
    const outcome = await first;
    expect(outcome.functionError).toBe("Unhandled");
    expect(outcome.payload.toString()).toMatch(/Runtime exited with error/);
    await until(() => !alive(runtime!), "the dead environment's runtime to be killed", 10_000);
    expect(sessionMembers(emulator!)).toEqual([]);

    // A fresh environment took the queued invocation, which runs (the stand-in never answers).
    await until(() => runtimes(runtimePids).length === 2 && pool!.busyEmulatorPids().length === 1, "the replacement to take the second invocation", 10_000);
    expect(pool.busyEmulatorPids()[0]).not.toBe(emulator);
    expect(secondSettled).toBe(false);
  });

  it("is discarded when an invocation fails without an answer, even if no exit was seen", async () => {
    const { root, runtimePids } = standInRoot();
    pool = new EnvironmentPool({ environments: 1, functionEnv: { RUNTIME_PIDS: runtimePids, HANG_UP: "1" }, projectRoot: root });
    const first = await pool.invoke(Buffer.from("{}"), "job");
    const second = await pool.invoke(Buffer.from("{}"), "job");
    expect(first.functionError).toBe("Unhandled");
    expect(second.functionError).toBe("Unhandled");
    // Each ran in an environment of its own: the broken one was killed (runtime and all) and replaced.
    expect(second.emulatorPid).not.toBe(first.emulatorPid);
    expect(runtimes(runtimePids).length).toBeGreaterThanOrEqual(2);
    await until(() => !alive(runtimes(runtimePids)[0]!), "the broken environment's runtime to be killed", 10_000);
  });

  it("close leaves no process of any environment behind", async () => {
    const { root, runtimePids } = standInRoot();
    pool = new EnvironmentPool({ environments: 2, functionEnv: { RUNTIME_PIDS: runtimePids }, projectRoot: root });
    void pool.invoke(Buffer.from("{}"), "job");
    await until(() => runtimes(runtimePids).length === 2, "both environments to start", 10_000);
    const emulators = pool.emulatorPids();
    await pool.close();
    pool = undefined;
    await until(() => runtimes(runtimePids).every((pid) => !alive(pid)), "the runtimes to be gone", 10_000);
    for (const pid of emulators) expect(sessionMembers(pid)).toEqual([]);
  });
});
