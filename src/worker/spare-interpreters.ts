// Python interpreters started before a harness is asked for. A harness's start is mostly Python
// importing Beam (about 0.6 s of CPU on this project's test machine, more on a cold Lambda), so a
// job that finds no warm harness (its worker's first, or one after the warm ones were stopped
// for idleness) waited for it. A worker keeps one interpreter waiting per Python it runs
// harnesses with, Beam already imported (harness-boot.ts). A task takes it; the next is started
// once the worker has had no task for a moment, so that its import does not compete with tasks
// (on two cores it slowed the next small job by half).
import { type ChildProcess, spawn } from "node:child_process";
import { userCodeEnv } from "../common/worker-env.js";
import { harnessArgs } from "./harness-boot.js";

/** A spare taken is replaced once the worker has been without a task this long. */
const REFILL_DELAY_MS = 1_000;

export class SpareInterpreters {
  private readonly waiting = new Map<string, ChildProcess>();
  /** Interpreters this worker keeps a spare of. */
  private readonly kept = new Set<string>();
  /** Kept interpreters whose spare was taken (or died), to start again when the worker is idle. */
  private readonly toRefill = new Set<string>();
  private refillTimer?: NodeJS.Timeout;
  private tasksRunning = 0;
  private closed = false;

  constructor(private readonly refillDelayMs = REFILL_DELAY_MS) {}

  /** Keeps an interpreter of `python` waiting from now on. */
  keep(python: string): void {
    this.kept.add(python);
    this.refill(python);
  }

  /**
   * An interpreter of `python` on its way to becoming a harness: the spare if one waits (another
   * is started once the worker is idle), else one started now. Its stdin takes the harness's
   * environment.
   */
  take(python: string): ChildProcess {
    const spare = this.waiting.get(python);
    this.waiting.delete(python);
    if (this.kept.has(python)) this.toRefill.add(python);
    if (spare && spare.exitCode === null && spare.signalCode === null) return spare;
    return startInterpreter(python);
  }

  /** A task started on this worker: spares wait to be started until it is idle again. */
  taskStarted(): void {
    this.tasksRunning++;
    clearTimeout(this.refillTimer);
  }

  /** A task ended: once the worker has been idle a moment, taken spares are replaced. */
  taskEnded(): void {
    this.tasksRunning = Math.max(0, this.tasksRunning - 1);
    if (this.tasksRunning > 0 || this.toRefill.size === 0) return;
    clearTimeout(this.refillTimer);
    this.refillTimer = setTimeout(() => {
      for (const python of this.toRefill) this.refill(python);
      this.toRefill.clear();
    }, this.refillDelayMs);
    this.refillTimer.unref();
  }

  /** Ends every waiting interpreter (they exit on their stdin's end). */
  close(): void {
    this.closed = true;
    clearTimeout(this.refillTimer);
    for (const spare of this.waiting.values()) spare.stdin?.end();
    this.waiting.clear();
  }

  /** The process ids of the interpreters waiting (for tests and load reports). */
  get pids(): number[] {
    return [...this.waiting.values()].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  private refill(python: string): void {
    if (this.closed || this.waiting.has(python)) return;
    const spare = startInterpreter(python);
    this.waiting.set(python, spare);
    // A spare that dies (killed, or Beam fails to import) is forgotten: a task then starts one
    // itself, and sees why it fails.
    spare.once("exit", () => {
      if (this.waiting.get(python) !== spare) return;
      this.waiting.delete(python);
      this.toRefill.add(python);
    });
  }
}

function startInterpreter(python: string): ChildProcess {
  const child = spawn(python, harnessArgs(), {
    // User code: not the secrets of whoever started this worker (common/worker-env.ts).
    env: userCodeEnv(process.env),
    stdio: ["pipe", "ignore", "pipe"],
  });
  // Until a harness's owner listens: a missing interpreter is reported by the harness's start.
  child.on("error", () => undefined);
  child.stdin.on("error", () => undefined);
  return child;
}
