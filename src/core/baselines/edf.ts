// EDF baseline (the paper's ideal): one centralized machine with all the cluster's cores, preemptive
// earliest-deadline-first over deadline = arrival + runtime × maxPrice / price. It is an oracle: the
// deadline uses the true runtime, which only the simulator knows; the live system cannot run it.

import type { CoreObject, Job, JobId, Millis } from '../types.ts';
import { InvariantError, unreachable } from '../types.ts';
import { IndexedHeap } from '../util/indexed-heap.ts';

export interface EdfConfig {
  readonly cores: number;
}

export type EdfInput =
  | { readonly kind: 'arrive'; readonly job: Job; readonly deadline: Millis }
  | { readonly kind: 'complete'; readonly job: JobId };

export type EdfDecision = { readonly kind: 'run'; readonly job: Job } | { readonly kind: 'preempt'; readonly job: Job };

/** Relative deadline of a job under the paper's rule. */
export function edfDeadline(arrival: Millis, runtime: Millis, price: number, maxPrice: number): Millis {
  return arrival + (runtime * maxPrice) / price;
}

export class Edf implements CoreObject<EdfInput, EdfDecision> {
  /** Waiting jobs, earliest deadline first (ties: lower id). */
  private readonly waiting = new IndexedHeap();
  /** Running jobs keyed by −deadline, so the top is the latest deadline (the preemption victim). */
  private readonly running = new IndexedHeap();
  /** Jobs in the system by id. */
  private readonly jobsById = new Map<JobId, Job>();
  private readonly out: EdfDecision[] = [];

  constructor(readonly cfg: Readonly<EdfConfig>) {
    if (!Number.isInteger(cfg.cores) || cfg.cores < 1) throw new RangeError(`edf: cores must be a whole number ≥ 1, got ${cfg.cores}`);
  }

  get jobs(): number {
    return this.jobsById.size;
  }

  get runningCount(): number {
    return this.running.size;
  }

  step(_now: Millis, input: EdfInput): void {
    switch (input.kind) {
      case 'arrive': {
        const id = input.job.id;
        if (this.jobsById.has(id)) throw new InvariantError(`edf: job ${id} arrived twice`);
        this.jobsById.set(id, input.job);
        if (this.running.size < this.cfg.cores) {
          this.running.set(id, -input.deadline, -id);
          this.out.push({ kind: 'run', job: input.job });
          break;
        }
        const victimDeadline = -this.running.peekKey();
        if (input.deadline < victimDeadline) {
          const victim = this.running.pop();
          this.waiting.set(victim, victimDeadline, victim);
          this.out.push({ kind: 'preempt', job: this.jobsById.get(victim) as Job });
          this.running.set(id, -input.deadline, -id);
          this.out.push({ kind: 'run', job: input.job });
        } else {
          this.waiting.set(id, input.deadline, id);
        }
        break;
      }
      case 'complete': {
        if (!this.running.remove(input.job)) throw new InvariantError(`edf: completion of job ${input.job}, which is not running`);
        this.jobsById.delete(input.job);
        if (this.waiting.size > 0) {
          const d = this.waiting.peekKey();
          const next = this.waiting.pop();
          this.running.set(next, -d, -next);
          this.out.push({ kind: 'run', job: this.jobsById.get(next) as Job });
        }
        break;
      }
      default:
        unreachable(input, 'edf input');
    }
  }

  ready(): readonly EdfDecision[] {
    return this.out;
  }

  advance(): void {
    const out = this.out;
    while (out.length > 0) out.pop();
  }

  nextDeadline(): Millis {
    return Infinity;
  }
}
