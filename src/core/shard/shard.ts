// A global scheduler shard: queues arriving jobs in its multi-queue and places them, one at a time in
// the rule's order, on the idle list's emptiest machine, or else by power-of-k polling (the machine
// with the fewest jobs among k sampled). Pure, and it speaks only the protocol: arrivals, poll answers
// and idle-list changes come in as messages, placements and polls go out as messages. A poll not
// answered by every machine within `pollTimeoutMs` places by the answers it has, or polls again.
// Two baselines are settings of it (`placement`, `idleQueue`): JIQ's dispatcher (the idle list as an
// I-queue, else one machine at random) and Sparrow's scheduler (reservations, late-binding.ts).
// A function's concurrency limit (an arrival's `cap`) is kept here, where all its calls come: its
// jobs counted from arrival until `left` / `release`, one past the limit `refused`.
// Past 400 lines: the placements share the multi-queue, the members and the random draw; the poll
// ring is the bulk, and it is one concept with them (a placement in flight).

import type { Job, JobId, MachineId, Millis, Mutable, ShardId, CoreObject } from '../types.ts';
import { unreachable } from '../types.ts';
import type { Rng } from '../rng.ts';
import type { PriceTable } from '../classes.ts';
import {
  gatewayAddress, machineAddress, shardAddress,
  type Address, type Cargo, type ConcurrencyCap, type IdleAnswerMsg, type PlaceMsg, type Placement, type PollAnswerMsg, type PollMsg, type RefusedMsg, type ReserveMsg, type ShardMessage, type TakenMsg,
} from '../protocol.ts';
import { MultiQueue, type SelectionRule, type ShardWithin } from './multi-queue.ts';
import { IdleList, type IdleEntry } from './idle-list.ts';
import { LateBinding } from './late-binding.ts';
import { ChurnMap } from '../util/churn-map.ts';

export type { Placement } from '../protocol.ts';

/** Added to the load of a polled machine short of memory when placing by free cores: above any real job count. */
const MEMORY_LOW = 1 << 30;

/**
 * Where a shard places a job its idle list does not take: `poll` (power-of-k), `random` (one machine
 * drawn at random, asked nothing: JIQ's dispatcher with an empty I-queue), `reserve` (Sparrow: a
 * reservation on each of k machines drawn at random, the job to the first that claims it).
 */
export type ShardPlacement = 'poll' | 'random' | 'reserve';

export interface ShardConfig {
  readonly id: ShardId;
  readonly prices: PriceTable;
  readonly selection: SelectionRule;
  /** Order within a class in the multi-queue (default `fcfs`; `sef`: by the arrivals' `expectedMs`). */
  readonly within?: ShardWithin;
  /** Machines 0..machines-1 are the ones this shard may poll (until a `members` input says which are). */
  readonly machines: number;
  /**
   * `dynamic`: the shard starts knowing no machine and learns which there are from `members` inputs
   * (the cluster's membership, from heartbeats). Default `static`: machines 0..machines-1.
   */
  readonly membership?: 'static' | 'dynamic';
  /** Machines polled per placement when the idle list is empty (at most 30). */
  readonly k: number;
  /**
   * Hermod's packing (default 0: off): of the machines polled, the one running the most jobs while
   * under this many (its cores: it has a free one), the lowest numbered of equals, so work gathers on
   * the same few machines at low load; when none is under it, the least loaded, as without.
   */
  readonly packBelow?: number;
  readonly useIdleList: boolean;
  /**
   * Place from the idle list only while its emptiest entry has a free core (fewer jobs, as reported
   * plus placed since, than the cores its machine told on joining); otherwise place as if the list
   * were empty. Default false: the paper's rule, which fills a listed machine's cores and queue for
   * as long as it has free memory (see the README's shards experiment).
   */
  readonly idleNeedsCore?: boolean;
  /** Where a job goes that the idle list does not take (default `poll`; see ShardPlacement). */
  readonly placement?: ShardPlacement;
  /**
   * JIQ's I-queue (default false): the idle list is a queue — a placement from it takes the machine
   * that joined first, and takes it off the list (it joins again once idle) instead of counting the
   * job against its entry.
   */
  readonly idleQueue?: boolean;
  /** Polls in flight at once (`poll` only); each is bound to the job it places. */
  readonly maxOutstandingPolls: number;
  /**
   * How long a poll waits for all its answers (ms; default Infinity: forever). Past it, the job is
   * placed on the least loaded machine that answered, or polled for again if none did (waiting
   * twice as long each time, up to 64 × this).
   */
  readonly pollTimeoutMs?: number;
}

/**
 * A message for the shard, or `tick`: its deadline (`nextDeadline()`) has come, or `members`: the
 * machines there are now (its driver's view of the cluster's membership). Poll answers delivered
 * together go to `stepAnswers`.
 */
export type ShardInput =
  | ShardMessage
  | { readonly kind: 'tick' }
  | { readonly kind: 'members'; readonly machines: readonly MachineId[]; readonly lost?: readonly MachineId[] };

/** Everything a shard decides is a message to send. */
export type ShardDecision = PlaceMsg | PollMsg | IdleAnswerMsg | ReserveMsg | TakenMsg | RefusedMsg;

/** One poll in flight: the job it places, the machines asked and what they have answered so far. */
interface PollSlot {
  id: number;
  job: Job | undefined;
  readonly machines: MachineId[];
  /** Bit i: machines[i] has answered. */
  answered: number;
  count: number;
  best: MachineId;
  bestLoad: number;
  ties: number;
  sentAt: Millis;
  /** How long it waits for its answers: the timeout, doubled for each time its job was polled for in vain. */
  wait: Millis;
  /** The poll's messages, one per machine (reused once the poll is over). */
  readonly msgs: Mutable<PollMsg>[];
}

export class Shard implements CoreObject<ShardInput, ShardDecision> {
  private readonly queue: MultiQueue;
  readonly idle: IdleList;
  readonly address: Address & { readonly part: 'shard' };
  /**
   * Polls in flight, in a ring indexed by poll id modulo its size (a power of two). Answers usually
   * come in order; when an old poll still holds the position a new one needs, the ring doubles.
   */
  private ring: PollSlot[] = [];
  private inFlight = 0;
  private nextPoll = 0;
  private readonly timeout: number;
  /** Ids of polls in flight, oldest first (only with a finite timeout). */
  private readonly timeouts: number[] = [];
  /** What travels with queued jobs (live: the invocation), by job id; the shard never reads it. */
  private readonly cargo = new ChurnMap<JobId, Cargo>();
  private readonly out: ShardDecision[] = [];
  /** Place messages reused after `advance()` (a driver that keeps one longer copies it). */
  private readonly places: Mutable<PlaceMsg>[] = [];
  private nPlaces = 0;
  /** Machines' addresses, by id. */
  private readonly machineAddr: (Address & { readonly part: 'machine' })[] = [];
  /** The machines there are, when a `members` input said so (else 0..machines-1). */
  private members: MachineId[] | undefined;
  /** Positions drawn from `members` for a poll (reused). */
  private readonly drawn: number[] = [];
  private readonly placement: ShardPlacement;
  /** Sparrow's jobs held for their first claim (`reserve` only). */
  private readonly late: LateBinding;
  /** The machines of a reservation or a random placement (reused). */
  private readonly picked: MachineId[] = [];
  // Hot settings, copied out of `cfg` (read on every placement).
  private readonly useIdleList: boolean;
  private readonly idleNeedsCore: boolean;
  private readonly packBelow: number;
  private readonly k: number;
  private readonly maxPolls: number;
  /**
   * Jobs of functions with a concurrency limit (ArriveMsg.cap), from their arrival until they leave
   * (`left`, `release`, or their machine is lost): their function's key and their machine (-1 while
   * queued). Soft state, like the rest: a restarted shard counts from zero.
   */
  private readonly capped = new ChurnMap<JobId, { readonly key: string; machine: MachineId }>();
  /** Those jobs, counted by function key. */
  private readonly capCounts = new ChurnMap<string, number>();

  constructor(readonly cfg: Readonly<ShardConfig>, private readonly rng: Rng) {
    if (cfg.k < 1 || cfg.k > 30) throw new RangeError(`shard ${cfg.id}: k must be 1 to 30, got ${cfg.k}`);
    if (cfg.machines < 1) throw new RangeError(`shard ${cfg.id}: needs at least one machine`);
    this.address = shardAddress(cfg.id);
    this.timeout = cfg.pollTimeoutMs ?? Infinity;
    this.placement = cfg.placement ?? 'poll';
    this.useIdleList = cfg.useIdleList;
    this.idleNeedsCore = cfg.idleNeedsCore === true;
    this.packBelow = cfg.packBelow ?? 0;
    this.k = cfg.k;
    this.maxPolls = cfg.maxOutstandingPolls;
    this.late = new LateBinding(this.address);
    if (!(this.timeout > 0)) throw new RangeError(`shard ${cfg.id}: pollTimeoutMs must be above 0 (or Infinity), got ${this.timeout}`);
    for (let m = 0; m < cfg.machines; m++) this.machineAddr.push(machineAddress(m));
    this.queue = new MultiQueue(cfg.prices.classes.map((c) => c.price), cfg.selection, cfg.within ?? 'fcfs');
    this.idle = new IdleList(rng.fork('idle-list'), cfg.idleQueue === true ? 'fifo' : 'fewest-jobs');
    // One position to start with: polls answered at once (the simulator's zero latency) reuse it, and stay
    // in cache; the ring grows as polls wait for their answers.
    this.growRing(1);
    if (cfg.membership === 'dynamic') this.members = [];
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

  /** Jobs reserved on machines and not yet claimed (`reserve` only). */
  get reserved(): number {
    return this.late.size;
  }

  idleEntries(): IdleEntry[] {
    return this.idle.entries();
  }

  step(now: Millis, input: ShardInput): void {
    switch (input.kind) {
      case 'arrive': {
        const job = input.job;
        if (!this.queue.accepts(job)) throw new RangeError(`job ${job.id} has class ${job.cls}, but the shard has ${this.cfg.prices.classes.length} classes`);
        if (input.cap !== undefined && !this.admitCapped(job, input.cap, input.from)) return;
        if (input.cargo !== undefined) {
          // A gateway that heard nothing of the job sends it again: a job still here is not queued twice.
          if (this.cargo.has(job.id)) return;
          this.cargo.set(job.id, input.cargo);
        }
        const useIdle = this.idleTakes();
        if (this.queue.length === 0 && (useIdle || this.canPlace())) {
          // Nothing waits: the multi-queue would hand this job straight back.
          this.place(now, job, useIdle);
          return;
        }
        this.queue.push(job, input.expectedMs);
        break;
      }
      case 'poll-answer':
        this.answered(now, input.poll, input.from.id, input.jobs, input.memoryLow === true);
        break;
      case 'idle-poll':
        this.out.push({ kind: 'idle-answer', from: this.address, to: machineAddress(input.from.id), poll: input.poll, size: this.idle.size });
        return;
      case 'idle-join':
        if (this.useIdleList) this.idle.set(input.from.id, input.freeMB, input.jobs, input.cores);
        break;
      case 'idle-update':
        // An update that arrives after the machine left (a reordered message) must not re-add it.
        if (this.idle.has(input.from.id)) this.idle.set(input.from.id, input.freeMB, input.jobs);
        break;
      case 'idle-leave':
        this.idle.remove(input.from.id);
        break;
      case 'claim': {
        // Sparrow: the first claim gets the job; a later one hears it is taken. Nothing else changes.
        const job = this.late.claim(input.job, input.from, this.out);
        if (job !== undefined) this.placeOn(now, job, input.from.id, 'reservation');
        return;
      }
      case 'left':
      case 'release':
        this.releaseCapped(input.job);
        return;
      case 'tick':
        this.expire(now);
        break;
      case 'members': {
        const before = this.members ?? [];
        this.members = [...input.machines].sort((a, b) => a - b);
        // A machine that left is off the idle list too (one not yet heard of as a member may have
        // joined it already: it stays); its polls in flight end by their timeout.
        const live = new Set(this.members);
        for (const m of before) if (!live.has(m)) this.idle.remove(m);
        // Jobs of limited functions on a machine that left, or restarted, have ended there.
        if (this.capped.size > 0) {
          const lost = new Set(input.lost);
          for (const [id, c] of [...this.capped]) if (c.machine >= 0 && (!live.has(c.machine) || lost.has(c.machine))) this.releaseCapped(id);
        }
        break;
      }
      default:
        unreachable(input, 'shard input');
    }
    this.drain(now);
  }

  /**
   * Poll answers `list[from]` … `list[from + count - 1]` delivered together: the same as a step with
   * each in turn (the simulator, whose zero-latency polls are answered at once; an entry of its own,
   * as one more kind of input in `step` cost the simulator 5 %).
   */
  stepAnswers(now: Millis, list: readonly PollAnswerMsg[], from: number, count: number): void {
    for (let i = from, end = from + count; i < end; i++) {
      const a = list[i] as PollAnswerMsg;
      this.answered(now, a.poll, a.from.id, a.jobs, a.memoryLow === true);
    }
    if (this.queue.length > 0) this.drain(now);
  }

  ready(): readonly ShardDecision[] {
    return this.out;
  }

  /** Forgets the decisions `ready()` listed: their objects may be reused by the next step. */
  advance(): void {
    const out = this.out;
    while (out.length > 0) out.pop();
    this.nPlaces = 0;
    this.late.reset();
  }

  /** When the first poll in flight times out (Infinity without a timeout or a poll). */
  nextDeadline(): Millis {
    if (this.timeout === Infinity) return Infinity;
    // Drops polls that are over from `timeouts` while it looks.
    const t = this.timeouts;
    let first = Infinity;
    let w = 0;
    for (const id of t) {
      const s = this.ring[id & (this.ring.length - 1)] as PollSlot;
      if (s.id !== id || s.job === undefined) continue;
      t[w++] = id;
      if (s.sentAt + s.wait < first) first = s.sentAt + s.wait;
    }
    t.length = w;
    return first;
  }

  /** Jobs of functions with a concurrency limit counted here now (from arrival to leaving): by function key. */
  cappedJobs(key: string): number {
    return this.capCounts.get(key) ?? 0;
  }

  /**
   * A job of a function with a concurrency limit arrives: counted if its function is under the
   * limit, else refused (its gateway hears `refused`). A job sent again is counted once.
   */
  private admitCapped(job: Job, cap: ConcurrencyCap, gateway: Address): boolean {
    if (this.capped.has(job.id)) return true;
    const n = this.capCounts.get(cap.key) ?? 0;
    if (n >= cap.limit) {
      this.out.push({ kind: 'refused', from: this.address, to: gatewayAddress(gateway.id), job: job.id, limit: cap.limit });
      return false;
    }
    this.capCounts.set(cap.key, n + 1);
    this.capped.set(job.id, { key: cap.key, machine: -1 });
    return true;
  }

  /** A counted job has ended (or is given up): its function has room for one more. Once per job. */
  private releaseCapped(job: JobId): void {
    const c = this.capped.get(job);
    if (c === undefined) return;
    this.capped.delete(job);
    const n = (this.capCounts.get(c.key) ?? 1) - 1;
    if (n > 0) this.capCounts.set(c.key, n);
    else this.capCounts.delete(c.key);
  }

  /** Places queued jobs while it can. */
  private drain(now: Millis): void {
    while (this.queue.length > 0) {
      const useIdle = this.idleTakes();
      if (!useIdle && !this.canPlace()) return;
      this.place(now, this.queue.pop(now) as Job, useIdle);
    }
  }

  /** The idle list takes the next job: it has an entry, with a free core where `idleNeedsCore` asks for one. */
  private idleTakes(): boolean {
    return this.useIdleList && this.idle.size > 0 && (!this.idleNeedsCore || this.idle.bestHasCore());
  }

  /** A job the idle list does not take can be placed now: there are machines, and (polling) a poll may start. */
  private canPlace(): boolean {
    return this.members?.length !== 0 && (this.placement !== 'poll' || this.inFlight < this.maxPolls);
  }

  /**
   * Places `job` from the idle list, or reserves it on machines, or places it on one drawn at
   * random, or sends a poll for it that waits `wait` for its answers (by `placement`).
   */
  private place(now: Millis, job: Job, useIdle: boolean, wait = this.timeout): void {
    if (useIdle) {
      const m = this.idle.best();
      if (this.cfg.idleQueue === true) this.idle.remove(m);
      else this.idle.addJob(m);
      this.placeOn(now, job, m, 'idle-list');
      return;
    }
    if (this.placement === 'reserve') {
      // Late binding even with one machine: the job waits here until a core claims it.
      this.late.reserve(job, this.draw(this.k, this.picked), this.out);
      return;
    }
    const members = this.members;
    if (members === undefined ? this.cfg.machines === 1 : members.length === 1) {
      // One machine to choose from: nothing to ask.
      this.placeOn(now, job, members === undefined ? 0 : (members[0] as MachineId), 'power-of-k');
      return;
    }
    if (this.placement === 'random') {
      // JIQ: no I-queue entry, so a machine drawn at random, asked nothing (the draw of a poll of one).
      this.placeOn(now, job, this.draw(1, this.picked)[0] as MachineId, 'power-of-k');
      return;
    }
    this.poll(now, job, wait);
  }

  /**
   * Sends a poll of k machines for `job` (power-of-k). A method of its own: `place` alone is then
   * small enough for V8 to inline into `step`, and this into `place`.
   */
  private poll(now: Millis, job: Job, wait: Millis): void {
    const poll = this.nextPoll++;
    let s = this.ring[poll & (this.ring.length - 1)] as PollSlot;
    while (s.job !== undefined) {
      this.growRing(this.ring.length * 2);
      s = this.ring[poll & (this.ring.length - 1)] as PollSlot;
    }
    const machines = this.draw(this.k, s.machines);
    s.id = poll;
    s.job = job;
    s.answered = 0;
    s.count = 0;
    s.ties = 0;
    this.inFlight++;
    // When it was sent and how long it waits are read only with a timeout (`nextDeadline`, `expire`).
    if (this.timeout !== Infinity) {
      s.sentAt = now;
      s.wait = wait;
      this.timeouts.push(poll);
    }
    // The slot's messages are free: the poll that used them last is over.
    const msgs = s.msgs, out = this.out, id = job.id;
    for (let i = 0; i < machines.length; i++) {
      const to = this.addressOf(machines[i] as MachineId);
      let m = msgs[i];
      if (m === undefined) {
        m = { kind: 'poll', from: this.address, to, poll, job: id };
        msgs.push(m);
      } else {
        m.to = to;
        m.poll = poll;
        m.job = id;
      }
      out.push(m);
    }
  }

  /**
   * A machine's answer: the least loaded so far is kept, ties broken uniformly by the shard's stream
   * (in the order answers come). An answer to a poll that is over (timed out, or a duplicate) is dropped.
   */
  private answered(now: Millis, poll: number, machine: MachineId, jobs: number, memoryLow: boolean): void {
    const ring = this.ring;
    const s = ring[poll & (ring.length - 1)] as PollSlot;
    if (s.id !== poll || s.job === undefined) return;
    // Which of the polled machines answered (k is small: a loop beats indexOf's call).
    const ms = s.machines;
    const k = ms.length;
    let i = 0;
    while (i < k && ms[i] !== machine) i++;
    const bit = 1 << i;
    const answered = s.answered;
    if (i === k || (answered & bit) !== 0) return;
    s.answered = answered | bit;
    const count = s.count + 1;
    s.count = count;
    // Packing: a machine with a free core scores below every full one, and the fuller the lower.
    const pack = this.packBelow;
    // Placing by free cores: a machine short of memory scores above every other (see `finish`).
    const score = pack > 0 && jobs < pack ? -1 - jobs : memoryLow && this.idleNeedsCore ? jobs + MEMORY_LOW : jobs;
    if (count === 1 || score < s.bestLoad) {
      s.best = machine;
      s.bestLoad = score;
      s.ties = 1;
    } else if (score === s.bestLoad) {
      const ties = s.ties + 1;
      s.ties = ties;
      // Packing keeps to the same machines (the lowest numbered of equals: the ones used before stay warm).
      if (pack > 0 && score < 0 ? machine < s.best : this.rng.int(ties) === 0) s.best = machine;
    }
    if (count === k) this.finish(now, s);
  }

  /**
   * The poll is over: its job goes to the best machine that answered — unless every one that
   * answered is short of memory and the idle list has a machine (placing by free cores), which
   * then takes it though its cores are busy: waiting for a core costs less than swapping.
   */
  private finish(now: Millis, s: PollSlot): void {
    const job = s.job as Job;
    s.job = undefined;
    this.inFlight--;
    if (s.bestLoad >= MEMORY_LOW && this.useIdleList && this.idle.size > 0) {
      const m = this.idle.best();
      this.idle.addJob(m);
      this.placeOn(now, job, m, 'idle-list');
      return;
    }
    this.placeOn(now, job, s.best, 'power-of-k');
  }

  /**
   * Polls past their timeout: placed by the answers they have, or polled for again, waiting twice as
   * long (up to 64 times the timeout), so that a round trip longer than the timeout still ends.
   */
  private expire(now: Millis): void {
    this.nextDeadline(); // drops the polls that are over from `timeouts`
    // A copy: polling again adds to `timeouts`.
    for (const id of this.timeouts.slice()) {
      const s = this.ring[id & (this.ring.length - 1)] as PollSlot;
      if (s.id !== id || s.job === undefined || s.sentAt + s.wait > now) continue;
      if (s.count > 0) {
        this.finish(now, s);
      } else {
        const job = s.job;
        s.job = undefined;
        this.inFlight--;
        this.place(now, job, this.idleTakes(), Math.min(s.wait * 2, this.timeout * 64));
      }
    }
  }

  /** `k` distinct machines drawn at random (among the members, when they are known), written into `into`. */
  private draw(k: number, into: MachineId[]): MachineId[] {
    const members = this.members;
    if (members === undefined) return this.rng.sample(this.cfg.machines, k, into);
    // The same draw over the members' positions.
    const at = this.rng.sample(members.length, k, this.drawn);
    into.length = at.length;
    for (let i = 0; i < at.length; i++) into[i] = members[at[i] as number] as MachineId;
    return into;
  }

  /** Resizes the ring of polls in flight to `size` positions, moving each poll to its new position. */
  private growRing(size: number): void {
    const old = this.ring;
    const ring = new Array<PollSlot>(size);
    for (const s of old) {
      if (s.job === undefined) continue;
      const at = s.id & (size - 1);
      if (ring[at] !== undefined) {
        // Two polls in flight this far apart in id: grow further.
        this.growRing(size * 2);
        return;
      }
      ring[at] = s;
    }
    for (let i = 0; i < size; i++) {
      ring[i] ??= { id: -1, job: undefined, machines: [], answered: 0, count: 0, best: -1, bestLoad: 0, ties: 0, sentAt: 0, wait: Infinity, msgs: [] };
    }
    this.ring = ring;
  }

  private addressOf(m: MachineId): Address & { readonly part: 'machine' } {
    return this.machineAddr[m] ?? machineAddress(m);
  }

  private placeOn(now: Millis, job: Job, machine: MachineId, via: Placement): void {
    const cargo = this.cargo.size === 0 ? undefined : this.cargo.get(job.id);
    if (cargo !== undefined) this.cargo.delete(job.id);
    const limited = this.capped.size === 0 ? undefined : this.capped.get(job.id);
    if (limited !== undefined) limited.machine = machine;
    const capped = limited === undefined ? undefined : true;
    let d = this.places[this.nPlaces];
    if (d === undefined) {
      d = { kind: 'place', from: this.address, to: this.machineAddr[machine] ?? machineAddress(machine), job, via, waited: now - job.arrival, capped, cargo };
      this.places.push(d);
    } else {
      d.to = this.machineAddr[machine] ?? machineAddress(machine);
      d.job = job;
      d.via = via;
      d.waited = now - job.arrival;
      d.capped = capped;
      d.cargo = cargo;
    }
    this.nPlaces++;
    this.out.push(d);
  }
}
