// The queue a backend runs its work through, owning the invariants every backend must keep, so
// that none re-implements them:
// - at most `limit` pieces of work run at once; the rest wait, one line per job, and a free slot
//   goes to the job running the fewest pieces, taking turns between such jobs (the one that
//   started work longest ago goes), so a job of 200 tasks cannot hold every slot while a job of
//   one task waits; within a job, work runs in order (some may go first);
// - cancelling a job settles all of its work at once, waiting and running, with a failure, and
//   has the owner stop what is running;
// - a closed queue refuses new work with a failure, fails what waits, lets the owner shut down
//   (stopping workers, awaiting what runs), then fails whatever is still unsettled.
// Each piece of work settles exactly once: an outcome that comes after the queue settled its work
// (the exit of a killed worker, a completion after a cancel) is dropped.

export interface WorkQueueOptions<Work, Outcome> {
  /** Who owns the queue, as its failures name it: "the local backend" is shut down. */
  owner: string;
  /** Work running at once, at most. */
  limit: number;
  /** The job a piece of work belongs to: `cancelJob` goes by it. */
  jobOf(work: Work): string;
  /**
   * Starts `work` and answers its outcome; or answers undefined when the owner has no free slot
   * now (a worker still starting, an environment being replaced): the work waits, and the owner
   * calls `pump()` once a slot is free.
   */
  start(work: Work): Promise<Outcome> | undefined;
  /** Stops a cancelled job's running work where the owner can (the queue has settled it already). */
  stopJob(jobId: string): void;
  /** The failed outcome of work the queue settles itself. */
  failure(error: string): Outcome;
  /** Work that goes to the front of its job's line (none by default): a retry before its job's first attempts. */
  goesFirst?(work: Work): boolean;
}

interface Entry<Work, Outcome> {
  work: Work;
  job: string;
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
  /** Told when the work leaves its line and starts. */
  started?(): void;
}

interface Line<Work, Outcome> {
  entries: Entry<Work, Outcome>[];
  /** Between jobs running as many pieces, the lowest turn starts next; starting work moves a job to the back. */
  turn: number;
}

export class WorkQueue<Work, Outcome> {
  /** Waiting work, one line per job (jobs with nothing waiting have none). */
  private readonly waiting = new Map<string, Line<Work, Outcome>>();
  private readonly running = new Set<Entry<Work, Outcome>>();
  private readonly runningOfJob = new Map<string, number>();
  private turns = 0;
  private isClosed = false;

  constructor(private readonly options: WorkQueueOptions<Work, Outcome>) {}

  /** Set from the moment `close` is called: owners stop replacing workers then. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Work running now; settled work no longer counts, even while its owner is still stopping it. */
  get runningCount(): number {
    return this.running.size;
  }

  /**
   * Queues `work`; resolves with its outcome, or with a failure if it is cancelled or shut down
   * first. `started` is called when it leaves the line and starts.
   */
  submit(work: Work, started?: () => void): Promise<Outcome> {
    if (this.isClosed) return Promise.resolve(this.options.failure(this.shutDown));
    return new Promise((resolve, reject) => {
      const job = this.options.jobOf(work);
      const entry = { work, job, resolve, reject, started };
      let line = this.waiting.get(job);
      if (!line) this.waiting.set(job, (line = { entries: [], turn: ++this.turns }));
      if (this.options.goesFirst?.(work)) line.entries.unshift(entry);
      else line.entries.push(entry);
      this.pump();
    });
  }

  /** The next work to start: the head of the line of the job running the fewest, whose turn it is. */
  private next(): Entry<Work, Outcome> | undefined {
    let best: Line<Work, Outcome> | undefined;
    let bestRunning = Infinity;
    for (const [job, line] of this.waiting) {
      const running = this.runningOfJob.get(job) ?? 0;
      if (running < bestRunning || (running === bestRunning && line.turn < best!.turn)) {
        best = line;
        bestRunning = running;
      }
    }
    return best?.entries[0];
  }

  /** Takes the head of its job's line, sending the job to the back of the turns. */
  private removeWaiting(entry: Entry<Work, Outcome>): void {
    const line = this.waiting.get(entry.job)!;
    line.entries.shift();
    line.turn = ++this.turns;
    if (line.entries.length === 0) this.waiting.delete(entry.job);
  }

  private addRunning(entry: Entry<Work, Outcome>): void {
    this.running.add(entry);
    this.runningOfJob.set(entry.job, (this.runningOfJob.get(entry.job) ?? 0) + 1);
  }

  /** False when the entry was not running (settled already). */
  private removeRunning(entry: Entry<Work, Outcome>): boolean {
    if (!this.running.delete(entry)) return false;
    const n = this.runningOfJob.get(entry.job)! - 1;
    if (n === 0) this.runningOfJob.delete(entry.job);
    else this.runningOfJob.set(entry.job, n);
    return true;
  }

  /** Starts waiting work while there is room; owners call it when a slot of theirs frees. */
  pump(): void {
    while (!this.isClosed && this.running.size < this.options.limit) {
      const entry = this.next();
      if (!entry) return;
      const started = this.options.start(entry.work);
      if (!started) return;
      this.removeWaiting(entry);
      this.addRunning(entry);
      entry.started?.();
      // A rejection is the owner's error, not a failed attempt: it reaches the caller as it is.
      started.then(
        (outcome) => this.finish(entry, () => entry.resolve(outcome)),
        (error: unknown) => this.finish(entry, () => entry.reject(error)),
      );
    }
  }

  /** Settles every piece of work of `jobId` with a failure now, and has the owner stop the running ones. */
  cancelJob(jobId: string, error = `job ${jobId} was cancelled`): void {
    const dropped = this.waiting.get(jobId)?.entries ?? [];
    this.waiting.delete(jobId);
    const stopped = [...this.running].filter((entry) => entry.job === jobId);
    for (const entry of stopped) this.removeRunning(entry);
    this.options.stopJob(jobId);
    for (const entry of [...dropped, ...stopped]) entry.resolve(this.options.failure(error));
    this.pump();
  }

  /**
   * Refuses new work and fails what waits, then awaits `shutdown` (the owner stops its workers;
   * work they were running settles as they report it), then fails what is still unsettled.
   */
  async close(shutdown: () => Promise<void>): Promise<void> {
    this.isClosed = true;
    const waiting = [...this.waiting.values()].flatMap((line) => line.entries);
    this.waiting.clear();
    for (const entry of waiting) entry.resolve(this.options.failure(this.shutDown));
    await shutdown();
    for (const entry of [...this.running]) {
      this.removeRunning(entry);
      entry.resolve(this.options.failure(this.shutDown));
    }
  }

  private get shutDown(): string {
    return `${this.options.owner} is shut down`;
  }

  private finish(entry: Entry<Work, Outcome>, settle: () => void): void {
    // Settled already (cancelled, or failed at shutdown): this late outcome is dropped.
    if (!this.removeRunning(entry)) return;
    settle();
    this.pump();
  }
}
