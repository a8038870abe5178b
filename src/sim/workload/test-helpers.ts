// Test-only helper: drains a JobSource into plain arrays (fine for the few hundred thousand jobs a test uses).

import { newBatch, type JobSource } from './job-batch.ts';

export interface Drained {
  id: number[];
  arrival: number[];
  runtime: number[];
  cls: number[];
  fn: number[];
  memMB: number[];
}

/** Pulls every job, in batches of `batch` (varied sizes must give the same stream). */
export function drain(source: JobSource, batch = 1000, sizes?: readonly number[]): Drained {
  const out: Drained = { id: [], arrival: [], runtime: [], cls: [], fn: [], memMB: [] };
  const b = newBatch(batch);
  for (let call = 0; ; call++) {
    const max = sizes ? (sizes[call % sizes.length] ?? batch) : batch;
    const n = source.fill(b, max);
    if (n !== b.count) throw new Error(`fill returned ${String(n)} but batch.count is ${String(b.count)}`);
    if (n === 0) break;
    for (let i = 0; i < n; i++) {
      out.id.push(b.id[i] ?? NaN);
      out.arrival.push(b.arrival[i] ?? NaN);
      out.runtime.push(b.runtime[i] ?? NaN);
      out.cls.push(b.cls[i] ?? NaN);
      out.fn.push(b.fn[i] ?? NaN);
      out.memMB.push(b.memMB[i] ?? NaN);
    }
  }
  return out;
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

export function cv(xs: readonly number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1)) / m;
}

export function isSorted(xs: readonly number[]): boolean {
  for (let i = 1; i < xs.length; i++) if ((xs[i] ?? 0) < (xs[i - 1] ?? 0)) return false;
  return true;
}

/** Math.min/max without spreading (which overflows the stack on large arrays). */
export function min(xs: readonly number[]): number {
  let m = Infinity;
  for (const x of xs) if (x < m) m = x;
  return m;
}

export function max(xs: readonly number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}
