// What a function's calls are expected to take, learnt from the calls that completed: each
// function's CPU time as an exponentially weighted mean (α = 1/4), or, for a function not seen yet,
// the mean of every call seen (0 before any: a first call goes first). The rule of shortest expected
// first, written once: a machine orders a class by it (run-queue.ts, `sef`), and a gateway stamps
// each arrival with it for a shard that orders its class queues by it (multi-queue.ts, `sef`).

export class DurationHistory {
  private readonly byFn = new Map<number, number>();
  private total = 0;
  private seen = 0;

  /** The expected CPU time of a call of `fn` (ms). */
  expect(fn: number): number {
    return this.byFn.get(fn) ?? (this.seen > 0 ? this.total / this.seen : 0);
  }

  /** A call of `fn` completed after `ms` of CPU: its function's expectation moves towards it. */
  learn(fn: number, ms: number): void {
    const before = this.byFn.get(fn);
    this.byFn.set(fn, before === undefined ? ms : before + (ms - before) / 4);
    this.total += ms;
    this.seen++;
  }
}
