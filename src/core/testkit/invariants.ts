// Invariant checks over an executor run. Each returns the violations as readable strings, so a test
// asserts `toEqual([])` and a failure says what went wrong, when, and to whom.

import type { ClassIndex, JobId } from '../types.ts';
import type { ExecJob, ExecResult, Interval } from './executor.ts';

const TOLERANCE = 1e-6;

function cls(r: ExecResult, id: JobId): ClassIndex {
  return (r.byId.get(id) as { job: ExecJob }).job.cls;
}

function at(iv: Interval): string {
  return `[${iv.from},${iv.to})`;
}

/** Every job ran to completion exactly once: it finished, after it arrived, with service = runtime. */
export function lostOrMiscounted(r: ExecResult): string[] {
  const bad: string[] = [];
  for (const o of r.outcomes) {
    const { id, arrival, runtime } = o.job;
    if (o.finish === undefined) bad.push(`job ${id} never finished`);
    else if (o.start === undefined || o.start < arrival) bad.push(`job ${id} started at ${String(o.start)} before arriving at ${arrival}`);
    if (Math.abs(o.service - runtime) > TOLERANCE) bad.push(`job ${id} received ${o.service} of ${runtime} work`);
  }
  return bad;
}

/** Work conservation: no core idle while a job waits on the machine. */
export function idleWhileWaiting(r: ExecResult, cores: number): string[] {
  return r.intervals
    .filter((iv) => iv.to > iv.from && iv.waiting.length > 0 && iv.running.length < cores)
    .map((iv) => `${at(iv)}: ${iv.running.length}/${cores} cores busy while jobs ${iv.waiting.join(',')} wait`);
}

/** Priority: no job waits while a lower-class (larger index) job runs. */
export function classInversions(r: ExecResult): string[] {
  const bad: string[] = [];
  for (const iv of r.intervals) {
    if (!(iv.to > iv.from)) continue;
    for (const w of iv.waiting) {
      for (const x of iv.running) {
        if (cls(r, x) > cls(r, w)) bad.push(`${at(iv)}: job ${w} (class ${cls(r, w)}) waits while job ${x} (class ${cls(r, x)}) runs`);
      }
    }
  }
  return bad;
}

/**
 * First come, first served within each group (by default, each class): of two jobs in a group, the
 * one that arrived on the machine first (by arrival, then id) starts no later.
 */
export function fcfsViolations(r: ExecResult, group: (j: ExecJob) => number = (j) => j.cls): string[] {
  const bad: string[] = [];
  const order = [...r.outcomes].sort((a, b) => a.job.arrival - b.job.arrival || a.job.id - b.job.id);
  for (let i = 0; i < order.length; i++) {
    for (let k = i + 1; k < order.length; k++) {
      const a = order[i] as (typeof order)[number], b = order[k] as (typeof order)[number];
      if (group(a.job) !== group(b.job) || b.start === undefined) continue;
      if (a.start === undefined || a.start > b.start) {
        bad.push(`job ${b.job.id} started at ${b.start} before job ${a.job.id} (${String(a.start)}), which arrived first`);
      }
    }
  }
  return bad;
}

/** Jobs with a deadline that finished after it (or never). */
export function deadlineMisses(r: ExecResult): string[] {
  return r.outcomes
    .filter((o) => o.job.deadline !== undefined && !(o.finish !== undefined && o.finish <= o.job.deadline))
    .map((o) => `job ${o.job.id} finished at ${String(o.finish)}, deadline ${String(o.job.deadline)}`);
}

/** EDF's own rule: no job waits while a job with a later deadline runs. */
export function deadlineInversions(r: ExecResult): string[] {
  const bad: string[] = [];
  const dl = (id: JobId): number => (r.byId.get(id) as { job: ExecJob }).job.deadline ?? Infinity;
  for (const iv of r.intervals) {
    if (!(iv.to > iv.from)) continue;
    for (const w of iv.waiting) {
      for (const x of iv.running) {
        if (dl(x) > dl(w)) bad.push(`${at(iv)}: job ${w} (deadline ${dl(w)}) waits while job ${x} (deadline ${dl(x)}) runs`);
      }
    }
  }
  return bad;
}
