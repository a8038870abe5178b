// Class-based swapping: under memory pressure, move the memory of the lowest-class jobs that are not
// running out to swap — latest arrival first within a class, since under priority scheduling those run
// last — until resident memory is back under the target. A job is swapped back in when it is about to run.
// For comparison (the paper's open question, swapping against the kernel's paging), `lru` orders the
// same decisions as a kernel's reclaim would, blind to classes: the job that ran least recently first;
// `pages` also moves memory as the kernel does, a page at a time: only as much as is needed, taken
// from the job that ran least recently (part of a job), and only that part is read back.

import type { RunQueue, Slot } from './run-queue.ts';

export interface SwapConfig {
  readonly enabled: boolean;
  /** Swap out until resident memory ≤ capacity × targetFraction. */
  readonly targetFraction: number;
  /** Swap space (MB) the machine's swapped-out jobs may fill; default unbounded. */
  readonly spaceMB?: number;
  /**
   * Which jobs go first: `class` (Fare's: the lowest class, its latest arrival first) or `lru` (a
   * model of the kernel's reclaim, which knows no classes: the job that ran least recently, or
   * arrived earliest if it has not run, first, whole jobs at a time) or `pages` (the same order at
   * page level: only the memory needed, part of a job, the rest of it staying resident; see
   * `swapOutPages`). Default `class`.
   */
  readonly order?: SwapOrder;
}

export type SwapOrder = 'class' | 'lru' | 'pages';
export const SWAP_ORDERS: readonly SwapOrder[] = ['class', 'lru', 'pages'];

/** Called for each decision to swap out: `mb` of `slot`'s memory goes (all of it but under `pages`). */
export type EmitSwapOut = (slot: Slot, mb: number) => void;

/**
 * Chooses slots to swap out so that `usedMB` falls to `targetMB`, within `spaceMB` of swap space
 * (a job that does not fit in what is left stays resident; a smaller one after it may go; none is
 * looked at once the space left is under `smallestMB`, the smallest job the machine has had). With
 * `forClass` (≥ 0), the room is for a job of that class that arrived `forSeq`-th on the machine: only
 * lower classes and the jobs of its class that arrived after it go (-1: any job). Marks them swapped
 * and calls `emit` for each, in order. Returns the resident memory after swapping.
 */
export function swapOut(rq: RunQueue, usedMB: number, targetMB: number, emit: EmitSwapOut, spaceMB = Infinity, smallestMB = 0, forClass = -1, forSeq = -1): number {
  for (let c = rq.waiting.length - 1; c >= forClass && c >= 0 && usedMB > targetMB; c--) {
    const q = rq.waiting[c];
    if (!q) continue;
    for (let i = q.length - 1; i >= 0 && usedMB > targetMB; i--) {
      // No job this machine was given is small enough for the space left: nothing more can go.
      if (spaceMB < smallestMB) return usedMB;
      const s = q.at(i) as Slot;
      // ≤ 0: size unknown (preempted, not yet reported); not counted: not started, holds no memory yet.
      if (s.swapped || s.memMB <= 0 || !s.counted) continue;
      // In the class room is made for, only jobs that arrived after the one it is for.
      if (c === forClass && s.seq <= forSeq) continue;
      if (s.memMB > spaceMB) continue;
      s.swapped = true;
      s.outMB = s.memMB;
      usedMB -= s.memMB;
      spaceMB -= s.memMB;
      emit(s, s.memMB);
    }
  }
  return usedMB;
}

/**
 * `swapOut` in the `lru` order: any job not running (not only lower classes), the one that ran
 * least recently first, arrival order among ties. The same bounds on swap space. Returns the
 * resident memory after swapping.
 */
export function swapOutLru(rq: RunQueue, usedMB: number, targetMB: number, emit: EmitSwapOut, spaceMB = Infinity, smallestMB = 0): number {
  if (usedMB <= targetMB || spaceMB < smallestMB) return usedMB;
  const order = new LeastRecentFirst(waitingWhere(rq, (s) => !s.swapped && s.memMB > 0 && s.counted));
  for (let s = order.next(); s !== undefined; s = order.next()) {
    if (usedMB <= targetMB || spaceMB < smallestMB) break;
    if (s.memMB > spaceMB) continue;
    s.swapped = true;
    s.outMB = s.memMB;
    usedMB -= s.memMB;
    spaceMB -= s.memMB;
    emit(s, s.memMB);
  }
  return usedMB;
}

/**
 * The `pages` order, a model of the kernel's reclaim at page level: the jobs not running, the one
 * that ran least recently first (arrival order among ties), give only the memory needed to bring
 * `usedMB` down to `targetMB` — the last one taken from gives part of its memory and keeps the rest
 * resident, and a job already partly out may give more. Within `spaceMB` of swap space (a part fits
 * where a whole job would not). What it leaves out of the model: the kernel also takes the cold pages
 * of running jobs (here a running job's memory is all its working set), and reads pages back as they
 * are touched (here the part swapped out is read back, at the device's rate, before the job runs
 * again). Returns the resident memory after swapping.
 */
export function swapOutPages(rq: RunQueue, usedMB: number, targetMB: number, emit: EmitSwapOut, spaceMB = Infinity): number {
  if (usedMB <= targetMB || spaceMB <= 0) return usedMB;
  const order = new LeastRecentFirst(waitingWhere(rq, (s) => s.memMB > 0 && s.counted && s.outMB < s.memMB));
  for (let s = order.next(); s !== undefined; s = order.next()) {
    const mb = Math.min(s.memMB - s.outMB, usedMB - targetMB, spaceMB);
    if (mb <= 0) break;
    s.swapped = true;
    s.outMB += mb;
    usedMB -= mb;
    spaceMB -= mb;
    emit(s, mb);
  }
  return usedMB;
}

/** The waiting slots (every class) that `keep` accepts: the kernel-like orders' candidates. */
function waitingWhere(rq: RunQueue, keep: (s: Slot) => boolean): Slot[] {
  const out: Slot[] = [];
  for (const q of rq.waiting) {
    for (let i = 0; i < q.length; i++) {
      const s = q.at(i) as Slot;
      if (keep(s)) out.push(s);
    }
  }
  return out;
}

/**
 * Slots in the order of the kernel-like swapping, least recently run first (then arrival), handed out
 * one at a time: a binary heap built in linear time, so that taking the few a swap needs does not sort
 * every waiting job (the whole sort was 70 % of a long overloaded run).
 */
class LeastRecentFirst {
  constructor(private readonly h: Slot[]) {
    for (let i = (h.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  next(): Slot | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      h[0] = last as Slot;
      this.down(0);
    }
    return top;
  }

  private static before(a: Slot, b: Slot): boolean {
    return a.lastRan < b.lastRan || (a.lastRan === b.lastRan && a.seq < b.seq);
  }

  private down(i: number): void {
    const h = this.h;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && LeastRecentFirst.before(h[r] as Slot, h[l] as Slot) ? r : l;
      if (!LeastRecentFirst.before(h[c] as Slot, h[i] as Slot)) return;
      const t = h[i] as Slot;
      h[i] = h[c] as Slot;
      h[c] = t;
      i = c;
    }
  }
}

/** An instance serving no invocation (idle, frozen) that the worker could swap out. */
export interface IdleInstance {
  readonly id: number;
  /** The class of the function it serves. */
  readonly cls: number;
  /** Its resident memory (MB). */
  readonly mb: number;
  /** Since when it is idle (ms). */
  readonly idleSince: number;
}

/**
 * Idle instances to swap out so that `usedMB` falls to `targetMB`, within `spaceMB` of swap space:
 * the lowest class first, within a class the one idle longest. They go before any waiting job is
 * swapped (the worker asks this first): nobody waits on an idle instance — swapping it costs its
 * function's next warm start a read-back, swapping a waiting job delays an invocation already
 * accepted. Returns their ids in order.
 */
export function idleToSwapOut(idle: readonly IdleInstance[], usedMB: number, targetMB: number, spaceMB = Infinity): number[] {
  if (usedMB <= targetMB) return [];
  const order = [...idle].filter((i) => i.mb > 0).sort((a, b) => b.cls - a.cls || a.idleSince - b.idleSince || a.id - b.id);
  const out: number[] = [];
  for (const i of order) {
    if (usedMB <= targetMB) break;
    if (i.mb > spaceMB) continue;
    out.push(i.id);
    usedMB -= i.mb;
    spaceMB -= i.mb;
  }
  return out;
}
