// The queue a backend runs its work through, owning the invariants every backend must keep, so
// that none re-implements them:
// - at most `limit` pieces of work run at once; the rest wait in order (some may go first);
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
  /** Work that goes to the front of the line (none by default). */
  goesFirst?(work: Work): boolean;
}

interface Entry<Work, Outcome> {
  work: Work;
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

export class WorkQueue<Work, Outcome> {
  private readonly waiting: Entry<Work, Outcome>[] = [];
  private readonly running = new Set<Entry<Work, Outcome>>();
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

  /** Queues `work`; resolves with its outcome, or with a failure if it is cancelled or shut down first. */
  submit(work: Work): Promise<Outcome> {
    if (this.isClosed) return Promise.resolve(this.options.failure(this.shutDown));
    return new Promise((resolve, reject) => {
      const entry = { work, resolve, reject };
      if (this.options.goesFirst?.(work)) this.waiting.unshift(entry);
      else this.waiting.push(entry);
      this.pump();
    });
  }

  /** Starts waiting work while there is room; owners call it when a slot of theirs frees. */
  pump(): void {
    while (!this.isClosed && this.running.size < this.options.limit && this.waiting.length > 0) {
      const entry = this.waiting[0]!;
      const started = this.options.start(entry.work);
      if (!started) return;
      this.waiting.shift();
      this.running.add(entry);
      // A rejection is the owner's error, not a failed attempt: it reaches the caller as it is.
      started.then(
        (outcome) => this.finish(entry, () => entry.resolve(outcome)),
        (error: unknown) => this.finish(entry, () => entry.reject(error)),
      );
    }
  }

  /** Settles every piece of work of `jobId` with a failure now, and has the owner stop the running ones. */
  cancelJob(jobId: string, error = `job ${jobId} was cancelled`): void {
    const ofJob = (entry: Entry<Work, Outcome>) => this.options.jobOf(entry.work) === jobId;
    const dropped = this.waiting.filter(ofJob);
    this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((entry) => !ofJob(entry)));
    const stopped = [...this.running].filter(ofJob);
    for (const entry of stopped) this.running.delete(entry);
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
    for (const entry of this.waiting.splice(0)) entry.resolve(this.options.failure(this.shutDown));
    await shutdown();
    for (const entry of [...this.running]) {
      this.running.delete(entry);
      entry.resolve(this.options.failure(this.shutDown));
    }
  }

  private get shutDown(): string {
    return `${this.options.owner} is shut down`;
  }

  private finish(entry: Entry<Work, Outcome>, settle: () => void): void {
    // Settled already (cancelled, or failed at shutdown): this late outcome is dropped.
    if (!this.running.delete(entry)) return;
    settle();
    this.pump();
  }
}
