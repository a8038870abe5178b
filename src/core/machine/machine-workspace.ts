// The objects a machine reuses so that a step allocates nothing: its decisions since its last
// `advance()`, the run / preempt decision objects, spare slots of jobs that left, and poll answers
// handed back by the driver. One workspace may serve many machines stepped one at a time. The
// decisions' type lives here, with the list that holds them.

import type { Job, Mutable } from '../types.ts';
import type { Slot } from './run-queue.ts';
import type { Address, ClaimMsg, PollAnswerMsg } from '../protocol.ts';
import type { DispatcherDecision } from './dispatcher.ts';

/** Decisions name the Job object the machine was given, so a driver needs no lookup to carry them out. */
export type MachineDecision =
  | { readonly kind: 'run'; readonly job: Job }
  | { readonly kind: 'preempt'; readonly job: Job }
  | { readonly kind: 'swap-out'; readonly job: Job; readonly mb: number }
  | { readonly kind: 'swap-in'; readonly job: Job; readonly mb: number }
  /** Messages to send: the answer to a poll, the dispatcher's (idle-list polls, join / update / leave), Sparrow's claims. */
  | PollAnswerMsg
  | DispatcherDecision
  | ClaimMsg;


/**
 * A machine's decisions since its last `advance()`, and the objects it reuses so that a step allocates
 * nothing: the run and preempt decisions (valid until the machine's next `advance()`; a driver that
 * keeps one longer copies it) and, with `reuseSlots`, the slots of jobs that have left (a slot is
 * spare only while no machine holds it, so machines stepped in any order may share the spares).
 *
 * Reusing slots pays only while they stay in cache: in the simulator, +2% at 100 machines but -8% at
 * 10,000 machines, where a spare slot was last touched long ago and a fresh one is cheaper.
 */
export class MachineWorkspace {
  readonly decisions: MachineDecision[] = [];
  /** The run and preempt decisions made since the last `clear()` are the first `nJobDecisions`. */
  private readonly jobDecisions: { kind: 'run' | 'preempt'; job: Job }[] = [];
  private nJobDecisions = 0;
  /** Slots of jobs that left a machine, for the next arrivals. */
  private readonly spare: Slot[] = [];
  /** Poll answers the driver has delivered and handed back (`releaseAnswer`). */
  private readonly spareAnswers: Mutable<PollAnswerMsg>[] = [];

  constructor(private readonly reuseSlots = true) {}

  /** A slot that no machine holds any more, if there is one. */
  spareSlot(): Slot | undefined {
    return this.spare.pop();
  }

  /** A machine let go of this slot (its job left). */
  release(slot: Slot): void {
    if (this.reuseSlots) this.spare.push(slot);
  }

  run(job: Job): void {
    this.jobDecision('run', job);
  }

  /** The answer to a poll, in a handed-back object if there is one (not listed among the decisions). */
  answer(from: Address & { readonly part: 'machine' }, to: Address & { readonly part: 'shard' }, poll: number, jobs: number, memoryLow: true | undefined): PollAnswerMsg {
    let a = this.spareAnswers.pop();
    if (a === undefined) {
      // One shape for every answer (memoryLow present, maybe undefined): the shard's reads stay monomorphic.
      a = { kind: 'poll-answer', from, to, poll, jobs, memoryLow };
    } else {
      a.from = from;
      a.to = to;
      a.poll = poll;
      a.jobs = jobs;
      a.memoryLow = memoryLow;
    }
    return a;
  }

  /**
   * A driver that delivered a poll answer of this workspace's without copying it (the simulator's
   * Bus) hands it back once its receiver has read it; it is then reused. Otherwise answers are not reused.
   */
  releaseAnswer(a: PollAnswerMsg): void {
    if (this.reuseSlots) this.spareAnswers.push(a);
  }

  preempt(job: Job): void {
    this.jobDecision('preempt', job);
  }

  private jobDecision(kind: 'run' | 'preempt', job: Job): void {
    let d = this.jobDecisions[this.nJobDecisions];
    if (d === undefined) {
      d = { kind, job };
      this.jobDecisions.push(d);
    } else {
      d.kind = kind;
      d.job = job;
    }
    this.nJobDecisions++;
    this.decisions.push(d);
  }

  /** Forgets the decisions (their reusable objects become free again). */
  clear(): void {
    const out = this.decisions;
    while (out.length > 0) out.pop();
    this.nJobDecisions = 0;
  }
}
