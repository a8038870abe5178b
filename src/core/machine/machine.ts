// One machine as the core sees it: the machine scheduler (run queue) plus the dispatcher's two jobs,
// class-based swapping under memory pressure and idle-list membership. The driver reports arrivals
// (a shard's `place`, with the job's memory), completions and memory readings, and hands it the
// messages addressed to it (polls, idle-list answers, block / unblock); the machine answers with
// run / preempt / swap decisions for its driver and messages for the shards (poll answers, idle
// list, Sparrow's claims: reservation-queue.ts). It never knows a job's runtime or final memory: those
// belong to the driver (real or simulated). Past 400 lines: one step composes the run queue, swapping,
// memory admission (the bulk) and the idle-list and reservation hooks, whose rules live in their files.

import { DurationHistory } from '../duration-history.ts';
import type { CoreObject, Job, JobId, MachineId, Millis, Mutable, ShardId } from '../types.ts';
import { InvariantError, unreachable } from '../types.ts';
import type { Rng } from '../rng.ts';
import { RunQueue, type MachinePolicy, type Slot, type WithinClass } from './run-queue.ts';
import { MachineWorkspace } from './machine-workspace.ts';

export { MachineWorkspace, type MachineDecision } from './machine-workspace.ts';
import type { MachineDecision } from './machine-workspace.ts';
import { Dispatcher, type DispatcherConfig, type DispatcherDecision } from './dispatcher.ts';
import { machineAddress, type Address, type BlockMsg, type IdleAnswerMsg, type Placement, type PollAnswerMsg, type PollMsg, type ReserveMsg, type TakenMsg } from '../protocol.ts';
import { ReservationQueue } from './reservation-queue.ts';
import { swapOut, swapOutLru, swapOutPages, type SwapConfig } from './swapper.ts';

export interface MachineConfig {
  readonly id: MachineId;
  readonly cores: number;
  readonly policy: MachinePolicy;
  /** Number of price classes. */
  readonly classes: number;
  /** Physical memory (MB); Infinity turns memory management off. */
  readonly memoryMB: number;
  readonly swap: SwapConfig;
  /**
   * Memory admission (not under processor sharing): resident memory, with what is still being
   * written out to swap, never exceeds `memoryMB` by the machine's doing. A job starts only when its
   * memory fits (a job that has not started holds none; one swapped out must come back), else it
   * waits, its need kept for it while jobs behind it start in what is left; the lowest classes' memory goes to swap to
   * make the room (an arrival stops a lower class that runs, as when it preempts, even without the
   * memory to start); when running jobs' growth overfills memory the lowest-class running job is
   * stopped (a lone one only while memory is on its way out). Memory being written out stays taken
   * until the driver says it is written (`paged-out`). Off: the paper's model, and the live worker,
   * where the kernel does this.
   */
  readonly admission?: boolean;
  /**
   * Order within a class under `priority` (default `fcfs`, the paper's): `las`, `sef` or `ps` (see
   * run-queue.ts; `ps` slices on a timer: the machine's `nextDeadline()`, then a `tick`). Under `sef` a job's expected CPU time is its function's mean on this machine
   * (exponentially weighted, α = 1/4), or the mean of every job completed here for a function not
   * seen yet (0 before any: a first call goes first). Not with memory admission (refused).
   */
  readonly within?: WithinClass;
  /**
   * Under `las`, `sef` or `ps`: calls of one function keep their order within the class — a call never
   * preempts one of its own function, and never starts while one of its function that has already
   * run waits (run-queue.ts). Live, each started call holds its function's instance, so overtaking
   * one means starting another instance: a flood of one function would cold-start instance after
   * instance. Default false (the simulator's model, which has no instances).
   */
  readonly keepFunctionOrder?: boolean;
  /** Idle-list membership; undefined when the shards use no idle list. */
  readonly dispatcher: DispatcherConfig | undefined;
  /**
   * Where the machine writes its decisions, with the objects it reuses (default: its own). A driver
   * that steps many machines one at a time, reading each one's decisions and calling `advance()`
   * before it steps another, may hand them all one workspace, which then stays in cache (the
   * simulator).
   */
  readonly workspace?: MachineWorkspace;
}

export type MachineInput =
  /**
   * A job placed here; `memMB` is its resident memory now (its initial size). With admission, the
   * driver may add `usedMB`, the machine's resident memory as it measures it now (as on `complete`
   * and `paged-out`): the machine decides on it rather than on its last reading. `shard` and `via`:
   * who placed it and how, from its `place` message (JIQ's dispatcher learns it is off a list).
   */
  | { readonly kind: 'arrive'; readonly job: Job; readonly memMB: number; readonly usedMB?: number; readonly shard?: ShardId; readonly via?: Placement }
  /** A running job finished; `memMB` is the resident memory it frees (`usedMB`: see `arrive`). */
  | { readonly kind: 'complete'; readonly job: JobId; readonly memMB: number; readonly usedMB?: number }
  /**
   * The driver carried out a preempt; the job's resident memory at that moment. Until this arrives the
   * machine does not know the preempted job's size, so it never swaps that job out.
   */
  | { readonly kind: 'stopped'; readonly job: JobId; readonly memMB: number }
  /**
   * A job on the machine waits for something outside it (a synchronous call to another function):
   * it gives up its core until `unblock`, and is neither frozen nor scheduled meanwhile. Without
   * this, a caller would hold its core while its callee waits for one: a chain of calls as deep as
   * the machine has cores would deadlock.
   */
  | { readonly kind: 'block'; readonly job: JobId }
  /** The blocked job can go on: it is scheduled again like a preempted job (it may preempt a lower class). */
  | { readonly kind: 'unblock'; readonly job: JobId }
  /** Resident memory of the whole machine (sent when it leaves `memoryBand()`). */
  | { readonly kind: 'memory'; readonly usedMB: number }
  /** With memory admission: `mb` of the memory the machine swapped out is written and free. */
  | { readonly kind: 'paged-out'; readonly mb: number; readonly usedMB?: number }
  /** The machine's deadline (`nextDeadline()`) has come: a poll of the shards timed out, or a slice ended (`ps`). */
  | { readonly kind: 'tick' }
  /**
   * A shard was lost or restarted (the cluster's membership): its idle list, soft state, is gone. A
   * dispatcher that was on it joins an idle list again (by the usual rule, if it has the room).
   */
  | { readonly kind: 'shard-lost'; readonly shard: ShardId }
  /**
   * Messages: a shard's poll (answered at once), a shard's answer to the dispatcher, block / unblock
   * from a gateway, Sparrow's reservations and `taken` answers.
   */
  | PollMsg
  | IdleAnswerMsg
  | BlockMsg
  | ReserveMsg
  | TakenMsg;

/** Size of a preempted job until the driver reports it (`stopped`): not a candidate for swapping. */
const UNKNOWN_SIZE = -1;
/** With admission, memory within this of capacity (MB) is full: readings at a threshold land on it, give or take rounding. */
const FULL_MB = 1e-6;

export class Machine implements CoreObject<MachineInput, MachineDecision> {
  readonly rq: RunQueue;
  private readonly dispatcher: Dispatcher | undefined;
  /** JIQ: the dispatcher joins an idle list when the machine is idle (`DispatcherConfig.joinWhen`). */
  private readonly joinIdle: boolean;
  /** Sparrow's reservations, made on the first one. */
  private reservations: ReservationQueue | undefined;
  readonly address: Address & { readonly part: 'machine' };
  /**
   * Jobs on the machine (`rq.jobs`) as of its last step: what a poll's answer reads, beside the
   * address, so that answering touches this object only (a simulator's shard polls machines at random).
   */
  private nJobs = 0;
  private readonly ws: MachineWorkspace;
  private readonly out: MachineDecision[];
  private seq = 0;
  /** Resident memory (MB), counted only when memory is managed (`managed`). */
  private used = 0;
  private jobsFell = false;
  /** Hot configuration, copied out of `cfg` (one object less to touch per step). */
  private readonly classes: number;
  /**
   * Memory is finite, so counted. Otherwise `used` is never touched: a fractional field is a heap
   * number of its own, one cache line more per step at 10,000 machines.
   */
  private readonly managed: boolean;
  /** Class-based swapping is on (memory managed and swapping enabled). */
  private readonly swapping: boolean;
  private readonly moved = { start: undefined as Slot | undefined, preempt: undefined as Slot | undefined };
  /** Under `sef`: each function's expected CPU time from the jobs completed here (duration-history.ts). */
  private readonly learns: boolean;
  private readonly history = new DurationHistory();
  /** Memory of the jobs swapped out now (MB), against the swap space (`swap.spaceMB`). */
  private swappedMB = 0;
  /** The smallest size a job was known to have here (MB; 0: none known yet): with less swap space left than that, nothing is worth a look. */
  private smallestMB = 0;
  /** Memory admission is on (`cfg.admission`, memory managed, not processor sharing). */
  private readonly admit: boolean;
  /** With admission: memory swapped out that is not yet written (MB): still taken. */
  private pendingOutMB = 0;
  /** `memoryBand()` as last computed, and whether a step has happened since (it may have moved). */
  private readonly band = { low: -Infinity, high: Infinity };
  private bandStale = true;
  private readonly emitSwapOut = (s: Slot, mb: number): void => {
    this.swappedMB += mb;
    if (this.admit) this.pendingOutMB += mb;
    this.out.push({ kind: 'swap-out', job: s.job, mb });
  };

  constructor(readonly cfg: Readonly<MachineConfig>, private readonly rng: Rng) {
    if (!Number.isInteger(cfg.cores) || cfg.cores < 1) throw new RangeError(`machine ${cfg.id}: cores must be a whole number ≥ 1, got ${cfg.cores}`);
    this.classes = cfg.classes;
    this.managed = Number.isFinite(cfg.memoryMB);
    this.swapping = this.managed && cfg.swap.enabled;
    this.ws = cfg.workspace ?? new MachineWorkspace();
    this.out = this.ws.decisions;
    this.rq = new RunQueue(cfg.cores, cfg.policy, cfg.classes, cfg.within ?? 'fcfs');
    this.rq.keepFunctionOrder = cfg.keepFunctionOrder === true;
    this.learns = cfg.policy === 'priority' && cfg.within === 'sef';
    if (this.learns) this.rq.expected = (slot) => this.history.expect(slot.job.fn);
    this.address = machineAddress(cfg.id);
    this.dispatcher = cfg.dispatcher ? new Dispatcher(cfg.dispatcher, rng.fork('dispatcher'), this.address, cfg.cores) : undefined;
    this.joinIdle = cfg.dispatcher?.joinWhen === 'idle';
    this.admit = this.managed && cfg.admission === true && cfg.policy !== 'ps';
    if (this.admit && cfg.policy === 'priority' && (cfg.within ?? 'fcfs') !== 'fcfs') {
      // Its memory rules rank the jobs of a class by arrival; by another order a class's first job,
      // swapped out, could wait for room its own class holds, stopped, for ever.
      throw new RangeError(`machine ${cfg.id}: memory admission works with FCFS within a class only, not ${String(cfg.within)}: turn one of them off`);
    }
    if (this.admit) {
      this.rq.fits = (slot, reserved) => this.fits(slot, reserved);
      this.rq.need = (slot) => Machine.need(slot);
    }
  }

  /** Jobs on the machine, running or waiting: the answer to a shard's poll. */
  get jobs(): number {
    return this.nJobs;
  }

  get running(): number {
    return this.rq.runningCount;
  }

  /** Resident memory as the machine last knew it (MB); 0 when its memory is unlimited (not counted). */
  get usedMB(): number {
    return this.used;
  }

  /** The idle list this machine is on, or -1. */
  get idleShard(): ShardId {
    return this.dispatcher?.member ?? -1;
  }

  /** Is this job on the machine, and is it running / swapped? For drivers and tests. */
  slot(job: JobId): Readonly<Slot> | undefined {
    return this.rq.findRunning(job) ?? this.rq.findWaiting(job) ?? this.rq.findBlocked(job);
  }

  /**
   * Must the driver send a `memory` reading, now that it measures `usedMB`? When the machine's view
   * is stale and the measure is outside `memoryBand()`.
   */
  needsReading(usedMB: number): boolean {
    if (!this.managed) return false;
    const band = this.memoryBand();
    return (usedMB > band.high - 1e-6 || usedMB < band.low) && Math.abs(this.used - usedMB) > 1e-6;
  }

  /**
   * Used memory (MB) outside of which the driver must send a `memory` reading. Only a step changes
   * it: the object is this machine's, computed once after each step and valid until the next.
   */
  memoryBand(): Readonly<{ low: number; high: number }> {
    const band = this.band;
    if (!this.bandStale) return band;
    this.bandStale = false;
    const cap = this.cfg.memoryMB;
    let low = -Infinity;
    let high = (this.cfg.swap.enabled || this.admit) && Number.isFinite(cap) ? cap - this.pendingOutMB : Infinity;
    if (this.dispatcher && Number.isFinite(cap)) {
      const b = this.dispatcher.band(cap);
      low = b.low;
      // A level the machine already knows it is past (its dispatcher has yet to move it) must not
      // hide the next one: growth past the swapping level would go unreported.
      if (b.high < high && b.high > this.used + 1e-6) high = b.high;
    }
    band.low = low;
    band.high = high;
    return band;
  }

  step(now: Millis, input: MachineInput): void {
    this.rq.now = now;
    this.bandStale = true;
    // The common inputs each in a method of their own, the rest in `stepOther`: this method, called
    // for every event, stays small enough for V8 to inline into its driver's.
    if (input.kind === 'poll') {
      this.out.push(this.answer(input));
      return;
    }
    if (input.kind === 'arrive') this.arrived(input);
    else if (input.kind === 'complete') this.completed(input);
    else this.stepOther(now, input);
    this.settle(now);
  }

  /** A job placed here (`step`). */
  private arrived(input: MachineInput & { readonly kind: 'arrive' }): void {
    const cls = input.job.cls;
    if (!(cls >= 0 && cls < this.classes && (cls | 0) === cls)) {
      throw new InvariantError(`machine ${this.cfg.id}: job ${input.job.id} has class ${cls}, outside 0..${this.cfg.classes - 1}`, { seed: this.rng.label });
    }
    // A second arrival of a job is caught while the job runs (under `ps`: unless it is blocked).
    if (this.rq.findRunning(input.job.id)) {
      throw new InvariantError(`machine ${this.cfg.id}: job ${input.job.id} arrived twice`, { seed: this.rng.label });
    }
    // The answer to a claim (Sparrow), or a placement from the idle list that took this machine off it (JIQ).
    this.reservations?.granted(input.job.id);
    if (this.joinIdle && input.via === 'idle-list' && input.shard !== undefined) this.dispatcher?.taken(input.shard);
    const slot = this.slotFor(input.job, input.memMB);
    this.sized(input.memMB);
    if (this.admit) {
      slot.counted = false;
      if (input.usedMB !== undefined) this.used = input.usedMB;
    } else if (this.managed) this.used += input.memMB;
    this.rq.arrive(slot, this.moved);
    this.carryOutMoved();
  }

  /** A running job finished (`step`). */
  private completed(input: MachineInput & { readonly kind: 'complete' }): void {
    const at = this.rq.runningIndex(input.job);
    if (at >= 0) {
      // The common case (under `ps` the only one but for blocked jobs), found in the dense running
      // set without touching the job's slot: cheaper than a Map from job to slot even under `ps`,
      // whose running set is every job on the machine (a Map's churn cost Hermod 9 %).
      if (this.managed) this.freed(input);
      if (this.learns) this.learn(this.rq.slotAt(at));
      this.ws.release(this.rq.slotAt(at));
      const next = this.rq.completeAt(at);
      this.jobsFell = true;
      if (next) this.start(next);
      return;
    }
    // A completion that raced a preemption (the job ran, was told to stop, and finished anyway),
    // or of a job that was blocked (its instance timed out or died while it waited for a callee).
    const waiting = this.rq.findWaiting(input.job) ?? this.rq.findBlocked(input.job);
    if (waiting?.started && (waiting.blocked ? this.rq.completeBlocked(waiting) : this.rq.completeWaiting(waiting))) {
      if (waiting.swapped) this.swappedMB -= waiting.outMB;
      this.freed(input);
      this.ws.release(waiting);
      this.jobsFell = true;
      return;
    }
    throw new InvariantError(`machine ${this.cfg.id}: completion of job ${input.job}, which is not running here`, { seed: this.rng.label });
  }

  /** The inputs other than a poll, an arrival and a completion (`step`). */
  private stepOther(now: Millis, input: Exclude<MachineInput, { readonly kind: 'poll' | 'arrive' | 'complete' }>): void {
    switch (input.kind) {
      case 'block': {
        const at = this.rq.runningIndex(input.job);
        if (at >= 0) {
          const next = this.rq.blockAt(at);
          if (next) this.start(next);
          break;
        }
        const slot = this.rq.findWaiting(input.job);
        if (!slot || slot.blocked || !this.rq.blockWaiting(slot)) {
          throw new InvariantError(`machine ${this.cfg.id}: job ${input.job} blocked, but it is not running or waiting here`, { seed: this.rng.label });
        }
        break;
      }
      case 'unblock': {
        const slot = this.rq.findBlocked(input.job);
        if (!slot) throw new InvariantError(`machine ${this.cfg.id}: job ${input.job} unblocked, but it is not blocked here`, { seed: this.rng.label });
        this.rq.unblock(slot, this.moved);
        this.carryOutMoved();
        break;
      }
      case 'stopped': {
        const slot = this.rq.findWaiting(input.job);
        if (slot && !slot.running) {
          slot.memMB = input.memMB;
          this.sized(input.memMB);
        }
        break;
      }
      case 'memory':
        if (this.managed) this.used = input.usedMB;
        break;
      case 'paged-out':
        this.pendingOutMB = Math.max(0, this.pendingOutMB - input.mb);
        if (this.admit && input.usedMB !== undefined) this.used = input.usedMB;
        break;
      case 'idle-answer':
        this.dispatcher?.answered(input.poll, input.from.id, input.size, this.free(), this.rq.jobs, this.out as DispatcherDecision[]);
        break;
      case 'tick':
        this.dispatcher?.expire(now, this.free(), this.rq.jobs, this.out as DispatcherDecision[]);
        if (this.rq.sliced) this.rq.rotate(this.sliceEnded);
        break;
      case 'shard-lost':
        this.dispatcher?.lost(input.shard);
        break;
      case 'reserve':
        (this.reservations ??= new ReservationQueue(this.address)).reserve(input.from.id, input.job);
        break;
      case 'taken':
        this.reservations?.taken(input.job);
        break;
      default:
        unreachable(input, 'machine input');
    }
  }

  /** After every step but a poll's: memory relieved, the poll answer's figure, Sparrow's claims, the dispatcher's look. */
  private settle(now: Millis): void {
    if (this.admit) {
      this.relieve();
      this.fill();
    } else if (this.swapping) this.relieve();
    const rq = this.rq;
    this.nJobs = rq.jobs;
    // Sparrow: a core that runs nothing and waits for no answer claims the next reservation's job.
    if (this.reservations !== undefined) this.reservations.claim(this.cfg.cores - rq.runningCount - rq.waitingCount, this.out);
    if (this.dispatcher) {
      // JIQ's idle: a free core and nothing waiting for one (on one core: no job at all).
      if (this.joinIdle) this.dispatcher.checkIdle(rq.runningCount < this.cfg.cores && rq.waitingCount === 0, this.free(), rq.jobs, this.out as DispatcherDecision[]);
      else this.dispatcher.check(now, this.free(), rq.jobs, this.jobsFell, this.out as DispatcherDecision[]);
      this.jobsFell = false;
    }
  }

  /**
   * A shard's poll is a request the machine answers at once, changing nothing (its dispatcher has
   * nothing new to look at). `step` lists the answer among its decisions; a driver that delivers a
   * poll may instead call this and send what it returns (not listed by `ready()`).
   */
  answer(poll: PollMsg): PollAnswerMsg {
    return this.ws.answer(this.address, poll.from, poll.poll, this.nJobs, this.memoryLow());
  }

  /** Free memory below the dispatcher's leave mark (told in poll answers); undefined when not, or without one. */
  private memoryLow(): true | undefined {
    const d = this.dispatcher;
    return d !== undefined && !this.joinIdle && this.free() < d.cfg.leaveFreeMB ? true : undefined;
  }

  /** `answer`, written into a driver's own answer object (a driver that reuses its answers). */
  answerInto(poll: PollMsg, a: Mutable<PollAnswerMsg>): PollAnswerMsg {
    a.from = this.address;
    a.to = poll.from;
    a.poll = poll.poll;
    a.jobs = this.nJobs;
    a.memoryLow = this.memoryLow();
    return a;
  }

  ready(): readonly MachineDecision[] {
    return this.out;
  }

  /** Forgets the decisions `ready()` listed: their objects may be reused by the next step. */
  advance(): void {
    this.ws.clear();
    this.reservations?.reset();
  }

  /**
   * When a poll of the shards times out, or (within a class `ps`) a running job's slice ends while
   * another of its class waits; Infinity when neither.
   */
  nextDeadline(): Millis {
    const d = this.dispatcher ? this.dispatcher.deadline() : Infinity;
    if (!this.rq.sliced) return d;
    const s = this.rq.nextSlice();
    return s < d ? s : d;
  }

  /** Under `ps`: a job's slice ended; it stops and the next of its class starts, as after a preemption. */
  private readonly sliceEnded = (stopped: Slot, started: Slot): void => {
    this.moved.preempt = stopped;
    this.moved.start = started;
    this.carryOutMoved();
  };

  /** Emits what the run queue's last arrive/unblock moved: the slot to stop, then the slot to start. */
  private carryOutMoved(): void {
    const { start, preempt } = this.moved;
    if (preempt) {
      preempt.memMB = UNKNOWN_SIZE;
      this.ws.preempt(preempt.job);
    }
    if (start) this.start(start);
  }

  private start(slot: Slot): void {
    if (!slot.counted) {
      // Admission: its memory is taken from its first start.
      slot.counted = true;
      this.used += slot.memMB;
    }
    if (slot.swapped) {
      const mb = slot.outMB;
      slot.swapped = false;
      slot.outMB = 0;
      this.swappedMB -= mb;
      if (this.managed) this.used += mb;
      this.out.push({ kind: 'swap-in', job: slot.job, mb });
    }
    this.ws.run(slot.job);
  }

  /** A slot for an arriving job: a spare one when there is one (no allocation), else a new one. */
  private slotFor(job: Job, memMB: number): Slot {
    const s = this.ws.spareSlot() as Mutable<Slot> | undefined;
    if (s === undefined) return { job, seq: this.seq++, running: false, started: false, memMB, swapped: false, outMB: 0, blocked: false, blockedRunning: false, counted: true, attained: 0, since: 0, lastRan: this.rq.now };
    s.job = job;
    s.seq = this.seq++;
    s.running = false;
    s.started = false;
    s.memMB = memMB;
    s.swapped = false;
    s.outMB = 0;
    s.blocked = false;
    s.blockedRunning = false;
    s.counted = true;
    s.attained = 0;
    s.since = 0;
    s.lastRan = this.rq.now;
    return s;
  }

  /** Under `sef`: a job completed after `attainedOf` ms of CPU; its function's expectation moves towards it. */
  private learn(slot: Slot): void {
    this.history.learn(slot.job.fn, this.rq.attainedOf(slot));
  }

  private sized(mb: number): void {
    if (mb > 0 && (this.smallestMB === 0 || mb < this.smallestMB)) this.smallestMB = mb;
  }

  /** A completion's memory leaves the machine's count (or, measured with it, the count is the measure). */
  private freed(input: { readonly memMB: number; readonly usedMB?: number }): void {
    if (!this.managed) return;
    if (this.admit && input.usedMB !== undefined) this.used = input.usedMB;
    else this.used -= input.memMB;
  }

  /** Free memory as the dispatcher sees it (MB): with admission, memory still being written out is not free. */
  private free(): number {
    return this.cfg.memoryMB - this.used - this.pendingOutMB;
  }

  /**
   * Class-based swapping when resident memory is over capacity — with admission, also when the job
   * first in line to start needs more room than is left once what is being written out is gone; and
   * when running jobs have overfilled memory, the lowest-class running job is stopped.
   */
  private relieve(): void {
    const cap = this.cfg.memoryMB;
    if (!this.admit) {
      if (this.swapping && this.used > cap) this.used = this.swapDown(cap * this.cfg.swap.targetFraction);
      return;
    }
    // Admission: memory is full once what is being written out is counted (running jobs grow into
    // it), or the job first in line needs more than is left. Swapped down so that, once written,
    // the first in line fits under the target; what is already on its way out is not sent again.
    const head = this.head();
    const need = head === undefined ? 0 : Machine.need(head);
    if (this.used + this.pendingOutMB + need < cap - FULL_MB) return;
    // Room is made for the most important job that needs it — the first in line, or a running job
    // that grows — from the classes below it and the later jobs of its own class only (an earlier job
    // of its class is not swapped out for it).
    const forJob = this.mostImportant(head);
    if (this.swapping && forJob !== undefined) {
      const target = Math.min(cap * this.cfg.swap.targetFraction, cap - need);
      const fcfs = this.cfg.policy === 'fcfs';
      this.used = this.swapDown(target, fcfs ? -1 : forJob.job.cls, fcfs ? -1 : forJob.seq);
    }
    // Running jobs may not grow into memory that is not free: the lowest class stops (one per step;
    // the driver's report of its size steps the machine again) — the last one only while memory is
    // on its way out, which will make room for it.
    if (this.used + this.pendingOutMB >= cap - FULL_MB) {
      const v = this.rq.preemptForMemory(this.pendingOutMB > 0);
      if (v) {
        v.memMB = UNKNOWN_SIZE;
        this.ws.preempt(v.job);
      }
    }
  }

  /**
   * Swaps out down to `targetMB` within the swap space left, in the configured order (the class
   * order makes room for a job of `forClass` that arrived `forSeq`-th; the kernel-like order knows
   * no classes). Returns the resident memory after.
   */
  private swapDown(targetMB: number, forClass = -1, forSeq = -1): number {
    const space = (this.cfg.swap.spaceMB ?? Infinity) - this.swappedMB;
    const order = this.cfg.swap.order;
    if (order === 'pages') return swapOutPages(this.rq, this.used, targetMB, this.emitSwapOut, space);
    return order === 'lru'
      ? swapOutLru(this.rq, this.used, targetMB, this.emitSwapOut, space, this.smallestMB)
      : swapOut(this.rq, this.used, targetMB, this.emitSwapOut, space, this.smallestMB, forClass, forSeq);
  }

  /** Of `head` and the running jobs, the first by class, then arrival. */
  private mostImportant(head: Slot | undefined): Slot | undefined {
    let best = head;
    for (let i = 0; i < this.rq.runningCount; i++) {
      const s = this.rq.slotAt(i);
      if (best === undefined || s.job.cls < best.job.cls || (s.job.cls === best.job.cls && s.seq < best.seq)) best = s;
    }
    return best;
  }

  /** The job first in line to start (the first waiting in class order), if any. */
  private head(): Slot | undefined {
    for (const q of this.rq.waiting) if (q.length > 0) return q.at(0);
    return undefined;
  }

  /** Admission: may `slot` start, as far as memory goes? (See `MachineConfig.admission`.) */
  private fits(slot: Slot, reservedMB: number): boolean {
    // Room to spare: a job that starts grows, and a full machine stops its running jobs.
    if (this.used + this.pendingOutMB + reservedMB + Machine.need(slot) < this.cfg.memoryMB - FULL_MB) return true;
    // Nothing runs, nothing is being written out and no other job holds memory that could go:
    // nothing would ever make the room.
    return reservedMB === 0 && this.rq.runningCount === 0 && this.pendingOutMB <= 0 && !this.othersResident(slot);
  }

  /** Does a waiting job other than `slot` hold memory (started, not swapped out)? Rare: only asked when nothing runs. */
  private othersResident(slot: Slot): boolean {
    for (const q of this.rq.waiting) {
      for (let i = 0; i < q.length; i++) {
        const s = q.at(i) as Slot;
        if (s !== slot && s.counted && (!s.swapped || s.outMB < s.memMB)) return true;
      }
    }
    return false;
  }

  /** Memory a job needs to start (MB): its size if it has not started, what of it is swapped out, else 0. */
  private static need(slot: Slot): number {
    if (!slot.counted) return Math.max(0, slot.memMB);
    return slot.swapped ? Math.max(0, slot.outMB) : 0;
  }

  /** Admission: starts what fits on the free cores, in class order, after memory was freed. */
  private fill(): void {
    for (let s = this.rq.startNext(); s !== undefined; s = this.rq.startNext()) this.start(s);
  }
}
