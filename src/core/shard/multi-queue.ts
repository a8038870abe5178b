// The shard's multi-queue: one queue per price class, and the rule that picks which class goes next.
// `price-wait` is the paper's rule (largest price × time waited), `strict` is strict class order
// (the paper's open question), `fifo` ignores classes (Hermod's class-blind global queue). A class's
// time waited is its oldest job's. Within a class (`ShardWithin`): `fcfs`, the paper's, or `sef`,
// shortest expected first — the job whose function is expected to take least CPU (the gateway's
// expectation, carried by the `arrive` message: duration-history.ts), the earliest of equals. At a
// shard no job has run yet, so least attained service is FCFS there.

import type { Job, Millis } from '../types.ts';
import { Queue } from '../util/queue.ts';

export type SelectionRule = 'price-wait' | 'strict' | 'fifo';

/** Order within a class at a shard (see the head). */
export type ShardWithin = 'fcfs' | 'sef';
export const SHARD_WITHIN: readonly ShardWithin[] = ['fcfs', 'sef'];

/** A job waiting under `sef`: its key, its order of arrival here, and whether it has left (`taken`). */
interface Entry {
  readonly job: Job;
  readonly key: number;
  readonly seq: number;
  taken: boolean;
}

const before = (a: Entry, b: Entry): boolean => a.key < b.key || (a.key === b.key && a.seq < b.seq);

export class MultiQueue {
  /** `fcfs`: each class's jobs in arrival order. */
  private readonly queues: Queue<Job>[];
  /** `sef`: each class's jobs as a heap by (key, arrival), and in arrival order (taken ones dropped at the head as met). */
  private readonly heaps: Entry[][];
  private readonly arrivals: Queue<Entry>[];
  private readonly sef: boolean;
  private n = 0;
  private seq = 0;

  constructor(private readonly prices: readonly number[], private readonly rule: SelectionRule, within: ShardWithin = 'fcfs') {
    this.sef = within === 'sef';
    this.queues = this.sef ? [] : prices.map(() => new Queue<Job>());
    this.heaps = this.sef ? prices.map(() => []) : [];
    this.arrivals = this.sef ? prices.map(() => new Queue<Entry>()) : [];
  }

  get length(): number {
    return this.n;
  }

  /** Jobs waiting in class `cls`. */
  lengthOf(cls: number): number {
    return (this.sef ? this.heaps[cls]?.length : this.queues[cls]?.length) ?? 0;
  }

  /** Does the job's class have a queue here? (`push` throws if not.) */
  accepts(job: Job): boolean {
    return job.cls >= 0 && job.cls < this.prices.length && Number.isInteger(job.cls);
  }

  /** Queues `job`; `expectedMs`: its expected CPU time (the key under `sef`; 0 when not known). */
  push(job: Job, expectedMs = 0): void {
    if (!this.accepts(job)) throw new RangeError(`job ${job.id} has class ${job.cls}, but the shard has ${this.prices.length} classes`);
    if (this.sef) {
      const e: Entry = { job, key: expectedMs, seq: this.seq++, taken: false };
      (this.arrivals[job.cls] as Queue<Entry>).push(e);
      siftUp(this.heaps[job.cls] as Entry[], e);
    } else (this.queues[job.cls] as Queue<Job>).push(job);
    this.n++;
  }

  /** Removes and returns the next job by the rule, or undefined when empty. Ties go to the higher class. */
  pop(now: Millis): Job | undefined {
    if (this.n === 0) return undefined;
    let best = -1;
    let bestScore = -Infinity;
    let bestHead: Job | undefined;
    for (let c = 0; c < this.prices.length; c++) {
      const head = this.oldest(c);
      if (head === undefined) continue;
      switch (this.rule) {
        case 'strict':
          best = c;
          break;
        case 'price-wait': {
          const score = (this.prices[c] as number) * (now - head.arrival);
          if (score > bestScore) {
            bestScore = score;
            best = c;
          }
          break;
        }
        case 'fifo':
          if (!bestHead || head.arrival < bestHead.arrival || (head.arrival === bestHead.arrival && head.id < bestHead.id)) {
            bestHead = head;
            best = c;
          }
          break;
      }
      if (this.rule === 'strict') break;
    }
    this.n--;
    if (!this.sef) return (this.queues[best] as Queue<Job>).shift();
    const e = popMin(this.heaps[best] as Entry[]);
    e.taken = true;
    return e.job;
  }

  /** The job of class `c` that has waited longest, or undefined. */
  private oldest(c: number): Job | undefined {
    if (!this.sef) return (this.queues[c] as Queue<Job>).peek();
    const q = this.arrivals[c] as Queue<Entry>;
    let e = q.peek();
    while (e !== undefined && e.taken) {
      q.shift();
      e = q.peek();
    }
    return e?.job;
  }
}

function siftUp(h: Entry[], e: Entry): void {
  let i = h.length;
  h.push(e);
  while (i > 0) {
    const p = (i - 1) >> 1;
    const pe = h[p] as Entry;
    if (!before(e, pe)) break;
    h[i] = pe;
    i = p;
  }
  h[i] = e;
}

function popMin(h: Entry[]): Entry {
  const top = h[0] as Entry;
  const last = h.pop() as Entry;
  const n = h.length;
  if (n === 0) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && before(h[r] as Entry, h[l] as Entry) ? r : l;
    if (!before(h[c] as Entry, last)) break;
    h[i] = h[c] as Entry;
    i = c;
  }
  h[i] = last;
  return top;
}
