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
}

export class RunQueue {
  readonly running: Slot[] = [];
  /** Waiting jobs per class (one list under `fcfs`). */
  readonly waiting: Queue<Slot>[];
  private nWaiting = 0;

  constructor(readonly cores: number, readonly policy: MachinePolicy, classes: number) {
    this.waiting = Array.from({ length: policy === 'fcfs' ? 1 : classes }, () => new Queue<Slot>());
  }

  get waitingCount(): number {
    return this.nWaiting;
  }

  /** Jobs on the machine (running or waiting). */
  get jobs(): number {
    return this.running.length + this.nWaiting;
  }

  /**
   * A job arrives. Returns the slot to start (the arrival or nobody) and the slot to preempt, if any.
   * The caller emits the decisions; the run queue has already moved the slots.
   */
  arrive(slot: Slot, out: { start: Slot | undefined; preempt: Slot | undefined }): void {
    out.start = undefined;
    out.preempt = undefined;
    if (this.policy === 'ps' || this.running.length < this.cores) {
      this.startSlot(slot);
      out.start = slot;
      return;
    }
    if (this.policy === 'priority') {
      const victim = this.victim();
      if (victim >= 0) {
        const v = this.running[victim] as Slot;
        if (v.job.cls > slot.job.cls) {
          this.running[victim] = this.running[this.running.length - 1] as Slot;
          this.running.pop();
          v.running = false;
          this.queueOf(v).unshift(v);
          this.nWaiting++;
          this.startSlot(slot);
          out.preempt = v;
          out.start = slot;
          return;
        }
      }
    }
    this.queueOf(slot).push(slot);
    this.nWaiting++;
  }

  /** A running job completed. Returns the next slot to start, if any. */
  complete(slot: Slot): Slot | undefined {
    const i = this.running.indexOf(slot);
    if (i < 0) return undefined;
    this.running[i] = this.running[this.running.length - 1] as Slot;
    this.running.pop();
    if (this.policy === 'ps' || this.nWaiting === 0) return undefined;
    for (const q of this.waiting) {
      const next = q.shift();
      if (next) {
        this.nWaiting--;
        this.startSlot(next);
        return next;
      }
    }
    return undefined;
  }

  /** Lowest class among running jobs (-1 when none run). */
  lowestRunningClass(): number {
    let c = -1;
    for (const s of this.running) if (s.job.cls > c) c = s.job.cls;
    return c;
  }

  private queueOf(slot: Slot): Queue<Slot> {
    return this.waiting[this.policy === 'fcfs' ? 0 : slot.job.cls] as Queue<Slot>;
  }

  private startSlot(slot: Slot): void {
    slot.running = true;
    slot.started = true;
    this.running.push(slot);
  }

  /** Index of the running job to preempt: lowest class, then latest arrival on the machine. */
  private victim(): number {
    let best = -1;
    for (let i = 0; i < this.running.length; i++) {
      const s = this.running[i] as Slot;
      const b = best < 0 ? undefined : (this.running[best] as Slot);
      if (!b || s.job.cls > b.job.cls || (s.job.cls === b.job.cls && s.seq > b.seq)) best = i;
    }
    return best;
  }
}
