// The simulated workers: each machine's core `Machine` driven over the simulated hardware. A
// machine is reached only by messages on the Bus (placements, polls, idle-list answers, Sparrow's
// reservations); what the kernel would tell a live worker (a job's memory, its completion, a memory
// reading) comes from the hardware model. Its decisions are carried out on the hardware (run,
// preempt, swap) or sent as messages (poll answers, idle-list joins, updates and leaves, claims).

import type { Millis, Mutable } from '../core/types.ts';
import { unreachable } from '../core/types.ts';
import { formatDecisionLine, formatTime, type Address, type MachineMessage, type PollAnswerMsg, type PollMsg } from '../core/protocol.ts';
import type { Machine, MachineDecision, MachineInput } from '../core/machine/machine.ts';
import type { EventQueue } from './event-queue.ts';
import type { Hardware } from './hardware.ts';
import type { JobTable, SimJob } from './job-table.ts';
import type { Recorder } from './recorder.ts';
import type { SimBus } from './bus.ts';

/**
 * What the engine and its machines share: the virtual time, and how deep in carrying out batches
 * of decisions they are (only a batch at depth 0, sent while the Bus's mailbox is empty, may be
 * delivered at once: that is what the mailbox would do next).
 */
export class Pace {
  now: Millis = 0;
  depth = 0;

  constructor(private readonly bus: SimBus) {}

  /** A batch of decisions starts: true when its messages may be delivered at once. */
  batch(): boolean {
    const direct = this.depth === 0 && this.bus.idle && this.bus.instant;
    this.depth++;
    return direct;
  }

  batchEnd(): void {
    this.depth--;
  }
}

export interface SimMachinesOptions {
  readonly trackMemory: boolean;
  /** Dispatchers' polls may time out, or slices end (`ps` within a class): machines have deadlines to wake at. */
  readonly deadlines: boolean;
  /** The machines admit jobs by memory: they are told when memory they swapped out is written (`paged-out`). */
  readonly admission?: boolean;
  /** The machines swap out parts of jobs (`pages` order): the swap device moves each decision's MB, not the job's whole memory. */
  readonly partialSwaps?: boolean;
  readonly log: ((line: string) => void) | undefined;
}

export class SimMachines {
  // The options, as fields of this object (read on every step).
  private readonly trackMemory: boolean;
  private readonly deadlines: boolean;
  private readonly admission: boolean;
  private readonly partialSwaps: boolean;
  private readonly log: ((line: string) => void) | undefined;
  /** MB of the machine being stepped that its swap device wrote since it was last told (`paged-out`). */
  private written = 0;
  /** The local inputs stepped often, reused (a machine never keeps its input). */
  private readonly arrival: Mutable<MachineInput & { kind: 'arrive' }> = { kind: 'arrive', job: { id: -1, cls: 0, arrival: 0, fn: 0 }, memMB: 0, shard: -1, via: 'power-of-k' };
  private readonly completion: Mutable<MachineInput & { kind: 'complete' }> = { kind: 'complete', job: 0, memMB: 0 };
  /** Preempted jobs' sizes to report once the machine's decisions are carried out (`stopped`). */
  private readonly stopped: { job: number; memMB: number }[] = [];
  /** Jobs placed `capped` (their function has a concurrency limit), by table row: the shard that placed them, told when they complete. */
  private readonly capped = new Map<number, Address & { readonly part: 'shard' }>();
  /** A job whose page-in ends later than now (table row, when): its `run`, the machine's next decision, waits for it. */
  private pageInJob = -1;
  private pageInEnd = 0;

  constructor(
    private readonly machines: readonly Machine[],
    private readonly hw: Hardware,
    private readonly table: JobTable,
    private readonly q: EventQueue,
    private readonly bus: SimBus,
    private readonly pace: Pace,
    private readonly rec: Recorder,
    opts: SimMachinesOptions,
  ) {
    this.trackMemory = opts.trackMemory;
    this.deadlines = opts.deadlines;
    this.admission = opts.admission === true && opts.trackMemory;
    this.partialSwaps = opts.partialSwaps === true;
    this.log = opts.log;
    for (const m of machines) bus.listen(m.address, (msg) => this.deliver(msg as MachineMessage));
  }

  /** Every machine reads its memory once at the start (dispatchers with room poll the shards). */
  start(): void {
    // Each machine starts on its own: what one sends is delivered after all have started.
    this.pace.batch();
    for (let i = 0; i < this.machines.length; i++) this.step(i, { kind: 'memory', usedMB: 0 }, false);
    this.pace.batchEnd();
  }

  /** A message for a machine, delivered by the Bus (or at once, see `Simulation.batchStarts`). */
  deliver(msg: MachineMessage): void {
    const m = msg.to.id;
    switch (msg.kind) {
      case 'place': {
        const sj = msg.job as SimJob;
        const h = this.hw;
        if (this.trackMemory) {
          // Its memory becomes resident now: the machine's memory clock first comes to now.
          h.advanceTo(m, this.pace.now);
          h.place(m, sj.k);
        }
        this.rec.placed(msg.via, msg.waited);
        if (msg.capped === true) this.capped.set(sj.k, msg.from);
        const input = this.arrival;
        input.job = sj;
        input.memMB = this.table.memInit(sj.k);
        input.shard = msg.from.id;
        input.via = msg.via;
        if (this.admission) input.usedMB = h.used(m);
        this.step(m, input, false);
        break;
      }
      case 'poll':
        // A poll changes nothing on the machine: its answer is handed to the Bus as is (the engine
        // gives it back to the workspace once the shard has read it).
        this.bus.sendOwned(this.answerPoll(msg));
        break;
      case 'idle-answer':
      case 'block':
      case 'unblock':
      case 'reserve':
      case 'taken':
        this.step(m, msg, false);
        break;
      case 'ask':
        // Only a live gateway asks (its carrier may lose messages; the simulated Bus loses none of these).
        break;
      case 'stream-ack':
        // Simulated jobs stream no responses.
        break;
      default:
        unreachable(msg, 'message for a machine');
    }
  }

  /**
   * Delivers a poll to its machine at once and returns the machine's answer: written into `into`
   * if given, else an object of the workspace's.
   */
  answerPoll(msg: PollMsg, into?: Mutable<PollAnswerMsg>): PollAnswerMsg {
    const mc = this.machines[msg.to.id] as Machine;
    const answer = into === undefined ? mc.answer(msg) : mc.answerInto(msg, into);
    if (this.log) this.log(`t=${formatTime(this.pace.now)} ${formatDecisionLine(mc.address, answer)}`);
    return answer;
  }

  /**
   * Machine `m`'s wake-up is due: a completion, a memory threshold or a deadline. Returns the
   * completed job's table row (the caller records and releases it), or -1.
   */
  wake(m: number): number {
    const h = this.hw;
    const now = this.pace.now;
    h.advanceTo(m, now);
    if (this.trackMemory) {
      const w = h.settleSwaps(m, now);
      if (this.admission) this.written += w;
    }
    if (h.nextCompletion(m) <= now) {
      const k = h.completeNext(m);
      // A job of a limited function has left: its shard hears it (as a live worker tells it at the answer).
      if (this.capped.size > 0) this.left(m, k);
      const input = this.completion;
      input.job = this.table.id(k);
      input.memMB = this.table.memTotal(k);
      if (this.admission) input.usedMB = h.used(m);
      this.step(m, input, true);
      return k;
    }
    const mc = this.machines[m] as Machine;
    if (this.deadlines && mc.nextDeadline() <= now) this.step(m, { kind: 'tick' }, true);
    else if (this.written > 0) this.step(m, this.pagedOut(m), true);
    else if (this.staleMemory(m)) this.step(m, { kind: 'memory', usedMB: h.used(m) }, true);
    else this.reschedule(m, true);
    return -1;
  }

  private left(m: number, k: number): void {
    const shard = this.capped.get(k);
    if (shard === undefined) return;
    this.capped.delete(k);
    this.bus.sendOwned({ kind: 'left', from: (this.machines[m] as Machine).address, to: shard, job: this.table.id(k) });
  }

  /** Steps machine `m`, carries out its decisions and what they lead to on it, and reschedules its wake-up. */
  private step(m: number, input: MachineInput, renew: boolean): void {
    const mc = this.machines[m] as Machine;
    const now = this.pace.now;
    this.hw.advanceTo(m, now);
    mc.step(now, input);
    this.carryOut(m, mc);
    // What the driver learns by carrying out the decisions, reported at once, in order: the sizes of
    // the jobs it stopped, then the memory it reads now if the machine's view of it is stale.
    if (this.trackMemory) this.report(m, mc, now);
    this.reschedule(m, renew);
  }

  private report(m: number, mc: Machine, now: Millis): void {
    for (let guard = 0; guard < 64; guard++) {
      const s = this.stopped.shift();
      if (s !== undefined) mc.step(now, { kind: 'stopped', job: s.job, memMB: s.memMB });
      else if (this.written > 0) mc.step(now, this.pagedOut(m));
      else if (this.staleMemory(m)) mc.step(now, { kind: 'memory', usedMB: this.hw.used(m) });
      else break;
      this.carryOut(m, mc);
    }
  }

  /** Carries out a machine's decisions and forgets them. */
  private carryOut(m: number, mc: Machine): void {
    const ds = mc.ready();
    if (ds.length === 0) return;
    const h = this.hw;
    // Whether the messages among the decisions may be delivered at once, asked at the first of them
    // (carrying out the others sends nothing): 0 not yet asked, 1 at once, 2 through the Bus.
    let direct = 0;
    const log = this.log;
    if (log) for (const d of ds) log(`t=${formatTime(this.pace.now)} ${formatDecisionLine(mc.address, d)}`);
    for (let i = 0; i < ds.length; i++) {
      const d = ds[i] as MachineDecision;
      switch (d.kind) {
        case 'run': {
          const k = (d.job as SimJob).k;
          if (k === this.pageInJob) {
            this.pageInJob = -1;
            h.dispatchAt(m, k, this.pageInEnd);
          } else {
            h.dispatch(m, k);
          }
          break;
        }
        case 'preempt': {
          const sj = d.job as SimJob;
          // A job still waiting for its page-in had not started: it only stops waiting.
          if (!(this.trackMemory && h.cancelDispatch(m, sj.k))) h.stop(m, sj.k);
          this.rec.preempted();
          if (this.trackMemory) this.stopped.push({ job: d.job.id, memMB: this.table.memNow(sj.k) });
          break;
        }
        case 'swap-out': {
          const now = this.pace.now;
          const done = h.swapOut(m, (d.job as SimJob).k, now, this.partialSwaps ? d.mb : undefined);
          if (this.admission && done <= now) this.written += d.mb;
          this.rec.swap('out', m, d.job.cls, d.mb, now, d.job.id, done - now);
          break;
        }
        case 'swap-in': {
          const now = this.pace.now;
          const k = (d.job as SimJob).k;
          const done = h.swapIn(m, k, now, this.partialSwaps ? d.mb : undefined);
          if (done > now) {
            this.pageInJob = k;
            this.pageInEnd = done;
          }
          this.rec.swap('in', m, d.job.cls, d.mb, now, d.job.id, done - now);
          break;
        }
        case 'poll-answer':
        case 'idle-poll':
        case 'idle-join':
        case 'idle-update':
        case 'idle-leave':
        case 'claim':
          if (direct === 0) direct = this.pace.batch() ? 1 : 2;
          if (direct === 1) this.bus.deliverNow(d);
          // Answers and claims are objects the machine reuses after its `advance()`: the Bus copies
          // them. The dispatcher builds each of its messages for its one send: kept as it is.
          else if (d.kind === 'poll-answer' || d.kind === 'claim') this.bus.send(d);
          else this.bus.sendOwned(d);
          break;
        default:
          unreachable(d, 'machine decision');
      }
    }
    if (direct !== 0) this.pace.batchEnd();
    mc.advance();
  }

  /** What the swap device wrote, as the machine's input (and forgotten here). */
  private pagedOut(m: number): MachineInput {
    const mb = this.written;
    this.written = 0;
    return { kind: 'paged-out', mb, usedMB: this.hw.used(m) };
  }

  /** The machine's last memory reading is stale and outside the band it must hear about. */
  private staleMemory(m: number): boolean {
    if (!this.trackMemory) return false;
    return (this.machines[m] as Machine).needsReading(this.hw.used(m));
  }

  /** `renew`: the machine was just woken (its entry is due now) and goes behind others due at the same time. */
  private reschedule(m: number, renew: boolean): void {
    const h = this.hw;
    const mc = this.machines[m] as Machine;
    let t = h.nextCompletion(m);
    if (this.trackMemory) {
      const c = h.crossing(m, mc.memoryBand().high);
      if (c < t) t = c;
      const w = h.nextSwapEvent(m);
      if (w < t) t = w;
    }
    if (this.deadlines) {
      // A deadline already past (a slice that ended while nobody of its class waited) is due now.
      const d = Math.max(mc.nextDeadline(), this.pace.now);
      if (d < t) t = d;
    }
    if (renew) this.q.renew(m, t);
    else this.q.schedule(m, t);
  }
}
