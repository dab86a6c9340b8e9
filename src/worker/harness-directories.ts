// Where Python harnesses keep their semi-persistent directory (with the job's staged artifacts):
// <tmp>/beam-lambda-harness/w<worker pid>-<n>. A worker removes a harness's directory when it
// stops the harness; a worker that is killed (a cancelled or failed job's attempts are stopped
// with SIGKILL) cannot, so whoever outlives it does: the backend that forked it, by its pid, and
// the job server at start, for every directory whose worker process is gone.
import { readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = "beam-lambda-harness";
const NAME = /^w(\d+)-\d+$/;

/** The folder every harness directory is in. */
export function harnessRoot(): string {
  return join(tmpdir(), ROOT);
}

/** The semi-persistent directory of the harness `workerId` (`w<pid>-<n>`). */
export function harnessDirectory(workerId: string): string {
  return join(harnessRoot(), workerId);
}

/** Removes the directories of the harnesses worker process `pid` started. */
export async function removeHarnessDirectories(pid: number): Promise<void> {
  await removeWhere((owner) => owner === pid);
}

/** Removes the directories whose worker process no longer exists (left by a killed worker). */
export async function sweepStaleHarnessDirectories(): Promise<void> {
  await removeWhere((owner) => !processExists(owner));
}

async function removeWhere(owned: (pid: number) => boolean): Promise<void> {
  let names: string[];
  try {
    names = await readdir(harnessRoot());
  } catch {
    return;
  }
  await Promise.all(
    names.map(async (name) => {
      const owner = NAME.exec(name)?.[1];
      if (owner !== undefined && owned(Number(owner))) await rm(join(harnessRoot(), name), { recursive: true, force: true });
    }),
  );
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, as another user's process.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
