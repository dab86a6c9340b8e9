// The median of a growing list of numbers in O(log n) per number: the lower half in a max-heap,
// the upper half in a min-heap. A stage's running attempts ask for its median every
// SPECULATION_CHECK_MS; sorting every duration for each of those asks was quadratic in the stage's
// tasks (a thousand attempts in flight over ten thousand durations; bench/fanout.ts).

/** A binary heap ordered by `before` (the root comes before every other element). */
class Heap {
  private readonly items: number[] = [];

  constructor(private readonly before: (a: number, b: number) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): number | undefined {
    return this.items[0];
  }

  push(x: number): void {
    const items = this.items;
    let i = items.push(x) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length === 0) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < items.length && this.before(items[left]!, items[first]!)) first = left;
      if (right < items.length && this.before(items[right]!, items[first]!)) first = right;
      if (first === i) return top;
      [items[i], items[first]] = [items[first]!, items[i]!];
      i = first;
    }
  }
}

export class RunningMedian {
  /** The smaller floor(n/2) numbers, largest first. */
  private readonly lower = new Heap((a, b) => a > b);
  /** The larger ceil(n/2) numbers, smallest first. */
  private readonly upper = new Heap((a, b) => a < b);

  get count(): number {
    return this.lower.size + this.upper.size;
  }

  add(x: number): void {
    if (this.upper.size > 0 && x < this.upper.peek()!) this.lower.push(x);
    else this.upper.push(x);
    // Rebalance so that upper holds ceil(n/2), lower floor(n/2).
    if (this.upper.size > this.lower.size + 1) this.lower.push(this.upper.pop());
    else if (this.lower.size > this.upper.size) this.upper.push(this.lower.pop());
  }

  /** The element at index floor(n/2) of the sorted numbers (the upper median); undefined when empty. */
  get median(): number | undefined {
    return this.upper.peek();
  }
}
