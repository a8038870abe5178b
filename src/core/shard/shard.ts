// A global scheduler shard: queues arriving jobs in its multi-queue and places them, one at a time in
// the rule's order, on the idle list's emptiest machine, or else by power-of-k polling (the machine
// with the fewest jobs among k sampled). Pure: polls are decisions, their answers are inputs.

import type { Job, JobId, MachineId, Millis, Mutable, ShardId, CoreObject } from '../types.ts';
import { unreachable, InvariantError } from '../types.ts';
import type { Rng } from '../rng.ts';
import type { PriceTable } from '../classes.ts';
import { MultiQueue, type SelectionRule } from './multi-queue.ts';
import { IdleList, type IdleEntry } from './idle-list.ts';

export interface ShardConfig {
  readonly id: ShardId;
  readonly prices: PriceTable;
  readonly selection: SelectionRule;
  /** Machines 0..machines-1 are the ones this shard may poll. */
  readonly machines: number;
  /** Machines polled per placement when the idle list is empty. */
  readonly k: number;
  readonly useIdleList: boolean;
  /** Polls in flight at once; each is bound to the job it places. */
  readonly maxOutstandingPolls: number;
}

export type ShardInput =
  /**
   * `loads`, when the driver has them at no cost (the simulator under the paper's assumption 2, where
   * communication takes no time): jobs on every machine now, by machine id. The shard then reads its
   * power-of-k polls from it within this step (a placement, no `poll` decision); it does not keep it.
   */
  | { readonly kind: 'arrive'; readonly job: Job; readonly loads?: ArrayLike<number> | undefined }
  /** Answer to a poll: jobs on each polled machine, in the poll's order. */
  | { readonly kind: 'polled'; readonly poll: number; readonly loads: readonly number[] }
  | { readonly kind: 'idle-join'; readonly machine: MachineId; readonly freeMB: number; readonly jobs: number }
  | { readonly kind: 'idle-update'; readonly machine: MachineId; readonly freeMB: number; readonly jobs: number }
  | { readonly kind: 'idle-leave'; readonly machine: MachineId };

export type Placement = 'idle-list' | 'power-of-k';

export type ShardDecision =
  /** `machines` stays valid until the poll is answered (the shard reuses the array afterwards). */
  | { readonly kind: 'poll'; readonly poll: number; readonly job: JobId; readonly machines: readonly MachineId[] }
  | { readonly kind: 'place'; readonly job: Job; readonly machine: MachineId; readonly via: Placement; readonly waited: Millis };

export class Shard implements CoreObject<ShardInput, ShardDecision> {
  private readonly queue: MultiQueue;
  readonly idle: IdleList;
  /**
   * Polls in flight, in a ring indexed by poll id modulo its size (a power of two): the poll's id, the
   * job it places, and the machines polled (one array per position, reused). Answers usually come in
   * order; when an old poll still holds the position a new one needs, the ring doubles.
   */
  private pollId: number[] = [];
  private pollJob: (Job | undefined)[] = [];
  private pollMachines: MachineId[][] = [];
  private inFlight = 0;
  private nextPoll = 0;
  private readonly out: ShardDecision[] = [];
  /**
   * Decision objects reused after `advance()` (a driver that keeps one longer copies it), so that a
   * step allocates nothing: one poll per ring position and the places listed since the last advance.
   */
  private pollDecisions: Mutable<ShardDecision & { kind: 'poll' }>[] = [];
  private readonly places: Mutable<ShardDecision & { kind: 'place' }>[] = [];
  private nPlaces = 0;
  /** The machines of a poll answered within the step (see ShardInput `loads`). */
  private readonly polledNow: MachineId[] = [];

  constructor(readonly cfg: Readonly<ShardConfig>, private readonly rng: Rng) {
    if (cfg.k < 1) throw new RangeError(`shard ${cfg.id}: k must be ≥ 1, got ${cfg.k}`);
    if (cfg.machines < 1) throw new RangeError(`shard ${cfg.id}: needs at least one machine`);
    this.queue = new MultiQueue(cfg.prices.classes.map((c) => c.price), cfg.selection);
    this.idle = new IdleList(rng.fork('idle-list'));
    this.growRing(16);
  }

  /** Jobs waiting in the multi-queue (not counting those bound to a poll in flight). */
  get waiting(): number {
    return this.queue.length;
  }

  waitingIn(cls: number): number {
    return this.queue.lengthOf(cls);
  }

  get pollsInFlight(): number {
    return this.inFlight;
  }

  idleEntries(): IdleEntry[] {
    return this.idle.entries();
  }

  step(now: Millis, input: ShardInput): void {
    let loads: ArrayLike<number> | undefined;
    switch (input.kind) {
      case 'arrive': {
        const useIdle = this.cfg.useIdleList && this.idle.size > 0;
        if (this.queue.length === 0 && (useIdle || this.inFlight < this.cfg.maxOutstandingPolls) && this.queue.accepts(input.job)) {
          // Nothing waits: the multi-queue would hand this job straight back.
          this.place(now, input.job, useIdle, input.loads);
          return;
        }
        this.queue.push(input.job);
        loads = input.loads;
        break;
      }
      case 'polled': {
        const slot = input.poll % this.pollJob.length;
        const job = this.pollJob[slot];
        if (job === undefined || this.pollId[slot] !== input.poll) {
          throw new InvariantError(`shard ${this.cfg.id}: answer to unknown poll ${input.poll}`, { seed: this.rng.label });
        }
        this.pollJob[slot] = undefined;
        this.inFlight--;
        this.placeOn(now, job, this.leastLoaded(this.pollMachines[slot] as MachineId[], input.loads), 'power-of-k');
        break;
      }
      case 'idle-join':
        if (this.cfg.useIdleList) this.idle.set(input.machine, input.freeMB, input.jobs);
        break;
      case 'idle-update':
        // An update that arrives after the machine left (a reordered message) must not re-add it.
        if (this.idle.has(input.machine)) this.idle.set(input.machine, input.freeMB, input.jobs);
        break;
      case 'idle-leave':
        this.idle.remove(input.machine);
        break;
      default:
        unreachable(input, 'shard input');
    }
    this.drain(now, loads);
  }

  ready(): readonly ShardDecision[] {
    return this.out;
  }

  /** Forgets the decisions `ready()` listed: their objects may be reused by the next step. */
  advance(): void {
    const out = this.out;
    while (out.length > 0) out.pop();
    this.nPlaces = 0;
  }

  nextDeadline(): Millis {
    return Infinity;
  }

  /** Places queued jobs while it can; `loads` (see ShardInput) answers polls at once. */
  private drain(now: Millis, loads: ArrayLike<number> | undefined): void {
    while (this.queue.length > 0) {
      const useIdle = this.cfg.useIdleList && this.idle.size > 0;
      if (!useIdle && this.inFlight >= this.cfg.maxOutstandingPolls) return;
      this.place(now, this.queue.pop(now) as Job, useIdle, loads);
    }
  }

  /** Places `job` from the idle list, or by a poll (answered at once from `loads`, if given). */
  private place(now: Millis, job: Job, useIdle: boolean, loads: ArrayLike<number> | undefined): void {
    if (useIdle) {
      const m = this.idle.best();
      this.idle.addJob(m);
      this.placeOn(now, job, m, 'idle-list');
    } else if (loads !== undefined) {
      const machines = this.rng.sample(this.cfg.machines, this.cfg.k, this.polledNow);
      this.placeOn(now, job, this.leastLoaded(machines, loads, true), 'power-of-k');
    } else {
      const poll = this.nextPoll++;
      while (this.pollJob[poll % this.pollJob.length] !== undefined) this.growRing(this.pollJob.length * 2);
      const slot = poll % this.pollJob.length;
      const machines = this.rng.sample(this.cfg.machines, this.cfg.k, this.pollMachines[slot]);
      this.pollId[slot] = poll;
      this.pollJob[slot] = job;
      this.inFlight++;
      // The position's poll decision is free: the poll that used it last was answered.
      let d = this.pollDecisions[slot];
      if (d === undefined) {
        d = { kind: 'poll', poll, job: job.id, machines };
        this.pollDecisions[slot] = d;
      } else {
        d.poll = poll;
        d.job = job.id;
        d.machines = machines;
      }
      this.out.push(d);
    }
  }

  /** Resizes the ring of polls in flight to `size` positions, moving each poll to its new position. */
  private growRing(size: number): void {
    const id = this.pollId, job = this.pollJob, machines = this.pollMachines;
    this.pollId = new Array<number>(size).fill(-1);
    this.pollJob = new Array<Job | undefined>(size).fill(undefined);
    this.pollMachines = Array.from({ length: size }, (): MachineId[] => []);
    // Poll decisions are made afresh at their new positions (those in flight were read already).
    this.pollDecisions = [];
    for (let i = 0; i < job.length; i++) {
      const j = job[i];
      if (j === undefined) continue;
      const p = id[i] as number;
      const at = p % size;
      if (this.pollJob[at] !== undefined) {
        // Two polls in flight this far apart in id: grow further.
        this.pollId = id;
        this.pollJob = job;
        this.pollMachines = machines;
        this.growRing(size * 2);
        return;
      }
      this.pollId[at] = p;
      this.pollJob[at] = j;
      this.pollMachines[at] = machines[i] as MachineId[];
    }
  }

  private placeOn(now: Millis, job: Job, machine: MachineId, via: Placement): void {
    let d = this.places[this.nPlaces];
    if (d === undefined) {
      d = { kind: 'place', job, machine, via, waited: now - job.arrival };
      this.places.push(d);
    } else {
      d.job = job;
      d.machine = machine;
      d.via = via;
      d.waited = now - job.arrival;
    }
    this.nPlaces++;
    this.out.push(d);
  }

  /**
   * Fewest jobs among the polled machines; ties broken uniformly by the shard's stream. `loads` is in
   * the poll's order (an answer), or with `byMachine` indexed by machine id (a poll answered at once).
   */
  private leastLoaded(machines: readonly MachineId[], loads: ArrayLike<number>, byMachine = false): MachineId {
    if (!byMachine && loads.length !== machines.length) {
      throw new InvariantError(`shard ${this.cfg.id}: poll answered with ${loads.length} loads for ${machines.length} machines`, { seed: this.rng.label });
    }
    let best = machines[0] as MachineId;
    let bestLoad = loads[byMachine ? best : 0] as number;
    let ties = 1;
    for (let i = 1; i < machines.length; i++) {
      const m = machines[i] as MachineId;
      const l = loads[byMachine ? m : i] as number;
      if (l < bestLoad) {
        best = m;
        bestLoad = l;
        ties = 1;
      } else if (l === bestLoad) {
        ties++;
        if (this.rng.int(ties) === 0) best = m;
      }
    }
    return best;
  }
}
