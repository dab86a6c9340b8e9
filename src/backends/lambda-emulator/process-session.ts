// An emulated execution environment is one session: the pool spawns the emulator detached (a
// session and process group of its own), and the emulator starts the runtime in a process group
// of its own, with the SDK harness under it, in the same session. Killing the emulator's group
// alone leaves the runtime running its task and reporting it, an orphan that no Lambda
// environment would leave; killing the session takes the whole environment.
import { readFileSync, readdirSync } from "node:fs";

/** The processes whose session id is `sid` (none where there is no /proc). */
export function sessionMembers(sid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // After the command's closing parenthesis: state, ppid, pgrp, session.
      const session = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
      if (session === sid) members.push(pid);
    } catch {
      // It ended while we looked.
    }
  }
  return members;
}

/** SIGKILLs the process group led by `leader` and every process left in its session. */
export function killSession(leader: number): void {
  for (const target of [-leader, ...sessionMembers(leader)]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}
