// Early (pipelined) tasks running on one backend, counted across every job it serves.
//
// An early task holds a backend slot while it waits for its producers' last tasks. Were early
// tasks to hold every slot, a producer's retry would queue behind the tasks waiting for it, and
// a straggler's speculative copy behind the straggler it is meant to overtake. So early tasks
// together leave one slot free, two with speculation. The count must span jobs, as the
// backend's slots do: two jobs' early tasks could otherwise fill the backend between them. So
// the owner of the backend (the job server) owns one of these and hands it to every job.
export class EarlyTaskSlots {
  private taken = 0;

  /** Takes a slot if fewer than `limit` are taken. */
  tryTake(limit: number): boolean {
    if (this.taken >= limit) return false;
    this.taken++;
    return true;
  }

  release(): void {
    this.taken--;
  }
}
