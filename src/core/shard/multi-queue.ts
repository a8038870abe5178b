// The shard's multi-queue: one FIFO per price class, and the rule that picks which head goes next.
// `price-wait` is the paper's rule (largest price × time waited), `strict` is strict class order
// (the paper's open question), `fifo` ignores classes (Hermod's class-blind global queue).

import type { Job, Millis } from '../types.ts';
import { Queue } from '../util/queue.ts';

export type SelectionRule = 'price-wait' | 'strict' | 'fifo';

export class MultiQueue {
  private readonly queues: Queue<Job>[];
  private n = 0;

  constructor(private readonly prices: readonly number[], private readonly rule: SelectionRule) {
    this.queues = prices.map(() => new Queue<Job>());
  }

  get length(): number {
    return this.n;
  }

  /** Jobs waiting in class `cls`. */
  lengthOf(cls: number): number {
    return this.queues[cls]?.length ?? 0;
  }

  /** Does the job's class have a queue here? (`push` throws if not.) */
  accepts(job: Job): boolean {
    return this.queues[job.cls] !== undefined;
  }

  push(job: Job): void {
    const q = this.queues[job.cls];
    if (!q) throw new RangeError(`job ${job.id} has class ${job.cls}, but the shard has ${this.queues.length} classes`);
    q.push(job);
    this.n++;
  }

  /** Removes and returns the next job by the rule, or undefined when empty. Ties go to the higher class. */
  pop(now: Millis): Job | undefined {
    if (this.n === 0) return undefined;
    let best = -1;
    let bestScore = -Infinity;
    let bestHead: Job | undefined;
    for (let c = 0; c < this.queues.length; c++) {
      const head = (this.queues[c] as Queue<Job>).peek();
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
    return (this.queues[best] as Queue<Job>).shift();
  }
}
