// The machine scheduler's run queue: which jobs hold the machine's cores.
//  - `priority` (Fare): preemptive priority by class, FCFS within a class, like SCHED_FIFO: an arrival
//    preempts the latest-arrived job of the lowest running class if that class is lower than its own,
//    and the preempted job returns to the head of its class's list. Starving low classes is intended.
//  - `fcfs` (the `fifo` ablation): one FCFS list, no preemption, classes ignored.
//  - `ps` (Hermod): every job is dispatched at once; the cores are shared (processor sharing).

import { Queue } from '../util/queue.ts';
import type { Job } from '../types.ts';

export type MachinePolicy = 'priority' | 'fcfs' | 'ps';

/** A job's place on a machine. */
export interface Slot {
  readonly job: Job;
  /** Order of arrival on this machine. */
  readonly seq: number;
  running: boolean;
  /** Has run at least once. */
  started: boolean;
  /** Resident memory while not running, as last reported (MB). */
  memMB: number;
  swapped: boolean;
  /** Waiting for something outside the machine (a synchronous call to another function): not runnable. */
  blocked: boolean;
  /** It was running when it blocked (so it runs on in the meantime and must be stopped if it cannot get a core back). */
  blockedRunning: boolean;
}

export class RunQueue {
  /** Running slots, and beside them (id, class, arrival order) of each, interleaved in one dense array:
   *  the scans of the running set (victim choice, completion lookup) then read one array, not every slot. */
  readonly running: Slot[] = [];
  private readonly meta: number[] = [];
  /** Waiting jobs per class (one list under `fcfs`), and how many wait in each. */
  readonly waiting: Queue<Slot>[];
  private readonly counts: number[];
  private nWaiting = 0;
  /** Blocked slots (few: callers waiting for their callees). */
  readonly blocked: Slot[] = [];

  constructor(readonly cores: number, readonly policy: MachinePolicy, classes: number) {
    const lists = policy === 'fcfs' ? 1 : classes;
    this.waiting = Array.from({ length: lists }, () => new Queue<Slot>());
    this.counts = new Array<number>(lists).fill(0);
  }

  get waitingCount(): number {
    return this.nWaiting;
  }

  /** Jobs on the machine (running, waiting or blocked). */
  get jobs(): number {
    return this.running.length + this.nWaiting + this.blocked.length;
  }

  /**
   * A job arrives. Returns the slot to start (the arrival or nobody) and the slot to preempt, if any.
   * The caller emits the decisions; the run queue has already moved the slots.
   */
  arrive(slot: Slot, out: { start: Slot | undefined; preempt: Slot | undefined }): void {
    this.place(slot, out, false);
  }

  /** Starts `slot`, preempting a lower class if needed, or queues it (at the head of its class if `front`). */
  private place(slot: Slot, out: { start: Slot | undefined; preempt: Slot | undefined }, front: boolean): void {
    out.start = undefined;
    out.preempt = undefined;
    if (this.policy === 'ps' || this.running.length < this.cores) {
      this.startSlot(slot);
      out.start = slot;
      return;
    }
    if (this.policy === 'priority') {
      const victim = this.victim();
      if (victim >= 0 && (this.meta[victim * 3 + 1] as number) > slot.job.cls) {
        const v = this.running[victim] as Slot;
        this.removeRunning(victim);
        v.running = false;
        this.enqueue(v, true);
        this.startSlot(slot);
        out.preempt = v;
        out.start = slot;
        return;
      }
    }
    this.enqueue(slot, front);
  }

  /** A running job completed. Returns the next slot to start, if any. */
  complete(slot: Slot): Slot | undefined {
    const i = this.indexOfRunning(slot.job.id);
    return i < 0 ? undefined : this.completeAt(i);
  }

  /** The running job at position `i` (see `runningIndex`) completed. Returns the next slot to start, if any. */
  completeAt(i: number): Slot | undefined {
    const slot = this.running[i] as Slot;
    slot.running = false;
    this.removeRunning(i);
    return this.startNext();
  }

  /**
   * The running job at position `i` blocks (waits for a callee): it gives up its core, which goes to
   * the next waiting job, returned if there is one. It stays on the machine, not runnable, until `unblock`.
   */
  blockAt(i: number): Slot | undefined {
    const slot = this.running[i] as Slot;
    slot.running = false;
    this.removeRunning(i);
    slot.blocked = true;
    slot.blockedRunning = true;
    this.blocked.push(slot);
    return this.startNext();
  }

  /** A waiting job blocks (it had made its call before it was preempted): it leaves its waiting list. Returns whether it was there. */
  blockWaiting(slot: Slot): boolean {
    if (!this.removeWaiting(slot)) return false;
    slot.blocked = true;
    slot.blockedRunning = false;
    this.blocked.push(slot);
    return true;
  }

  /**
   * A blocked job is runnable again, like an arrival that has run before: it takes a free core, or
   * preempts a lower class, or else waits at the head of its class's list. `out.start` is the slot
   * if it runs; `out.preempt` is the slot that must stop running: the victim, or the job itself when
   * it was running while blocked and gets no core back.
   */
  unblock(slot: Slot, out: { start: Slot | undefined; preempt: Slot | undefined }): void {
    const b = this.blocked.indexOf(slot);
    if (b >= 0) this.blocked.splice(b, 1);
    slot.blocked = false;
    const wasRunning = slot.blockedRunning;
    slot.blockedRunning = false;
    this.place(slot, out, true);
    if (!out.start && wasRunning) out.preempt = slot;
  }

  /** A blocked job finished (its instance died or timed out while it waited). Returns whether it was blocked here. */
  completeBlocked(slot: Slot): boolean {
    const b = this.blocked.indexOf(slot);
    if (b < 0) return false;
    this.blocked.splice(b, 1);
    slot.blocked = false;
    return true;
  }

  /** The blocked slot of a job, or undefined. */
  findBlocked(job: number): Slot | undefined {
    for (const s of this.blocked) if (s.job.id === job) return s;
    return undefined;
  }

  /** Starts the first waiting job in class order, if any core work waits; returns it. */
  private startNext(): Slot | undefined {
    if (this.policy === 'ps' || this.nWaiting === 0) return undefined;
    const counts = this.counts;
    for (let c = 0; c < counts.length; c++) {
      if ((counts[c] as number) === 0) continue;
      const next = (this.waiting[c] as Queue<Slot>).shift() as Slot;
      counts[c] = (counts[c] as number) - 1;
      this.nWaiting--;
      this.startSlot(next);
      return next;
    }
    return undefined;
  }

  /**
   * A job finished while it was not running: in a live system a completion can race a preemption
   * (the process answered before it was frozen). Removes it from its waiting list.
   */
  completeWaiting(slot: Slot): boolean {
    return this.removeWaiting(slot);
  }

  private removeWaiting(slot: Slot): boolean {
    const c = this.policy === 'fcfs' ? 0 : slot.job.cls;
    if (!(this.waiting[c] as Queue<Slot>).remove(slot)) return false;
    this.counts[c] = (this.counts[c] as number) - 1;
    this.nWaiting--;
    return true;
  }

  /** The running slot of a job, or undefined. O(running). */
  findRunning(job: number): Slot | undefined {
    const i = this.indexOfRunning(job);
    return i < 0 ? undefined : this.running[i];
  }

  /** Position of a job in the running set, or -1. O(running). */
  runningIndex(job: number): number {
    return this.indexOfRunning(job);
  }

  private indexOfRunning(job: number): number {
    const meta = this.meta;
    for (let i = 0; i < meta.length; i += 3) if (meta[i] === job) return i / 3;
    return -1;
  }

  /** O(waiting), front first (where a preempted job goes): for the rare lookups of waiting jobs. */
  findWaiting(job: number): Slot | undefined {
    for (const q of this.waiting) {
      for (let i = 0; i < q.length; i++) {
        const s = q.at(i) as Slot;
        if (s.job.id === job) return s;
      }
    }
    return undefined;
  }

  /** Lowest class among running jobs (-1 when none run). */
  lowestRunningClass(): number {
    let c = -1;
    for (let i = 1; i < this.meta.length; i += 3) if ((this.meta[i] as number) > c) c = this.meta[i] as number;
    return c;
  }

  private enqueue(slot: Slot, front: boolean): void {
    const c = this.policy === 'fcfs' ? 0 : slot.job.cls;
    const q = this.waiting[c] as Queue<Slot>;
    if (front) q.unshift(slot);
    else q.push(slot);
    this.counts[c] = (this.counts[c] as number) + 1;
    this.nWaiting++;
  }

  private startSlot(slot: Slot): void {
    slot.running = true;
    slot.started = true;
    this.running.push(slot);
    this.meta.push(slot.job.id, slot.job.cls, slot.seq);
  }

  /** Removes running entry i by moving the last one into its place. */
  private removeRunning(i: number): void {
    const last = this.running.length - 1;
    const meta = this.meta;
    if (i !== last) {
      this.running[i] = this.running[last] as Slot;
      meta[3 * i] = meta[3 * last] as number;
      meta[3 * i + 1] = meta[3 * last + 1] as number;
      meta[3 * i + 2] = meta[3 * last + 2] as number;
    }
    this.running.pop();
    meta.pop();
    meta.pop();
    meta.pop();
  }

  /** Index of the running job to preempt: lowest class, then latest arrival on the machine. */
  private victim(): number {
    const meta = this.meta;
    let best = -1;
    let bc = -1;
    let bs = -1;
    for (let i = 0; i < meta.length; i += 3) {
      const c = meta[i + 1] as number;
      const q = meta[i + 2] as number;
      if (c > bc || (c === bc && q > bs)) {
        best = i / 3;
        bc = c;
        bs = q;
      }
    }
    return best;
  }
}
