// Brute-force oracle: can these jobs all meet their deadlines on `cores` identical cores with
// preemption and migration? For tiny instances with integer arrivals, runtimes and deadlines only.
//
// Why unit slots suffice: with integer data, any feasible preemptive schedule gives each job at most
// one unit of work in each slot [t, t+1) (it runs on one core at a time) and each slot at most `cores`
// units in all: a fractional flow from jobs to the slots in [arrival, deadline). Flow integrality gives a
// 0/1 flow of the same value, i.e. a schedule in which jobs run for whole slots, ≤ cores per slot.
// The search below tries every set of ≤ cores eligible jobs in every slot, memoized on the state.

import type { JobId, Millis } from '../types.ts';

export interface DeadlineJob {
  readonly id: JobId;
  readonly arrival: Millis;
  readonly runtime: Millis;
  readonly deadline: Millis;
}

/** Subsets of `items` with at most `k` elements (the empty one included). */
function subsets<T>(items: readonly T[], k: number): T[][] {
  const out: T[][] = [[]];
  for (const x of items) {
    const n = out.length;
    for (let i = 0; i < n; i++) {
      const s = out[i] as T[];
      if (s.length < k) out.push([...s, x]);
    }
  }
  return out;
}

export function feasible(jobs: readonly DeadlineJob[], cores: number): boolean {
  for (const j of jobs) {
    if (![j.arrival, j.runtime, j.deadline].every(Number.isInteger) || j.runtime < 0) {
      throw new Error(`feasible: job ${j.id} needs integer arrival, runtime ≥ 0 and deadline`);
    }
  }
  if (jobs.length > 10) throw new Error('feasible: brute force is for tiny instances (≤ 10 jobs)');
  const memo = new Map<string, boolean>();
  const search = (t: number, rem: readonly number[]): boolean => {
    // Dead if some job can no longer fit its remaining work before its deadline.
    let all = true;
    for (let i = 0; i < jobs.length; i++) {
      const r = rem[i] as number;
      if (r === 0) continue;
      all = false;
      const j = jobs[i] as DeadlineJob;
      if (j.deadline - Math.max(t, j.arrival) < r) return false;
    }
    if (all) return true;
    const key = `${t}:${rem.join(',')}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const eligible: number[] = [];
    for (let i = 0; i < jobs.length; i++) if ((rem[i] as number) > 0 && (jobs[i] as DeadlineJob).arrival <= t) eligible.push(i);
    let ok = false;
    for (const s of subsets(eligible, cores)) {
      const next = rem.slice();
      for (const i of s) next[i] = (next[i] as number) - 1;
      if (search(t + 1, next)) {
        ok = true;
        break;
      }
    }
    memo.set(key, ok);
    return ok;
  };
  const t0 = Math.min(0, ...jobs.map((j) => j.arrival));
  return search(t0, jobs.map((j) => j.runtime));
}
