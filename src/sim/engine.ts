// The discrete-event engine: drives the policy core (shards, machines, or the EDF oracle) in virtual
// time over a simulated cluster. Messages between core objects go through a mailbox, in order, exactly
// as the live system's transport carries them (with zero latency: the paper's assumption 2); a message
// the mailbox would deliver next anyway is stepped at once, and zero-latency polls are answered within
// the shard's step from the machines' loads.

import type { Millis, Mutable } from '../core/types.ts';
import { unreachable } from '../core/types.ts';
import { Rng } from '../core/rng.ts';
import type { PriceTable } from '../core/classes.ts';
import { maxPrice } from '../core/classes.ts';
import { Shard, type ShardDecision, type ShardInput } from '../core/shard/shard.ts';
import type { SelectionRule } from '../core/shard/multi-queue.ts';
import { Machine, MachineWorkspace, type MachineDecision, type MachineInput } from '../core/machine/machine.ts';
import type { MachinePolicy } from '../core/machine/run-queue.ts';
import { Edf, edfDeadline, type EdfDecision } from '../core/baselines/edf.ts';
import { EventQueue } from './event-queue.ts';
import { ARRIVAL, Hardware, ID, JobTable, ROW_SHIFT, MEM_INIT, MEM_NOW, MEM_TOTAL, RUNTIME, type SimJob } from './hardware.ts';
import { newBatch, type JobSource } from './workload/index.ts';
import { Recorder, type RunResult } from './recorder.ts';

export type PolicyKind = 'fare' | 'hermod' | 'fifo' | 'edf';

export interface PolicySpec {
  /** Label in reports (e.g. "fare", "fare-strict"). */
  readonly name: string;
  readonly kind: PolicyKind;
  /** Shard selection rule (fare, fifo); hermod always uses `fifo`. */
  readonly selection?: SelectionRule;
  /** Overrides the cluster's idle-list setting for this policy. */
  readonly idleList?: boolean;
}

export interface ClusterConfig {
  readonly machines: number;
  readonly cores: number;
  /** Memory per machine (MB); Infinity: unlimited (no memory model). */
  readonly memoryMB: number;
  readonly shards: number;
  readonly k: number;
  readonly idleList: boolean;
  /** Dispatcher thresholds as fractions of machine memory. */
  readonly joinFree: number;
  readonly leaveFree: number;
  readonly updateDelta: number;
  /** Swap out down to this fraction of memory. */
  readonly swapTarget: number;
  readonly maxOutstandingPolls: number;
  /**
   * Round trip of a shard's poll to k machines (ms). 0 is the paper's assumption 2 (communication
   * not simulated); above 0 the answer reaches the shard that much later, with the machines' loads
   * as they are then, and jobs queue in the shard's multi-queue while polls are in flight.
   */
  readonly pollLatencyMs: number;
}

export interface RunConfig {
  readonly cluster: ClusterConfig;
  readonly policy: PolicySpec;
  readonly prices: PriceTable;
  readonly seed: number;
  /** Jobs arriving in [measureFrom, measureTo) are measured. */
  readonly measureFrom: Millis;
  readonly measureTo: Millis;
  /** Simulation stops here (jobs still in the system count as not completed). */
  readonly horizon: Millis;
  /** Utilization / memory samples over [measureFrom, measureTo). */
  readonly samples: number;
  readonly onProgress?: (arrived: number) => void;
}

/**
 * Up to this many machines, the jobs in the system fit in cache and the simulator reuses the objects
 * of jobs that left (job objects, machine slots) instead of allocating: +4% and +2% at 100 machines.
 * Beyond, a reused object was last touched long ago and costs a cache miss that a fresh allocation
 * does not: each was 5-8% slower at 10,000 machines.
 */
const REUSE_MAX_MACHINES = 1000;

/** A shard's `polled` input as the engine builds it (mutable, pooled). */
interface PollAnswer {
  readonly kind: 'polled';
  poll: number;
  loads: number[];
}

const enum Target {
  Shard,
  Machine,
}

/** Messages delivered later (a poll's answer after its round trip), ordered by (time, sequence). */
class DelayedMail {
  private readonly items: { t: number; seq: number; target: Target; index: number; build: () => ShardInput | MachineInput }[] = [];
  private seq = 0;

  get nextTime(): number {
    const h = this.items;
    return h.length === 0 ? Infinity : (h[0] as { t: number }).t;
  }

  push(t: number, target: Target, index: number, build: () => ShardInput | MachineInput): void {
    const h = this.items;
    h.push({ t, seq: this.seq++, target, index, build });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [h[i], h[p]] = [h[p] as (typeof h)[number], h[i] as (typeof h)[number]];
      i = p;
    }
  }

  pop(): { target: Target; index: number; build: () => ShardInput | MachineInput } {
    const h = this.items;
    const top = h[0] as (typeof h)[number];
    const last = h.pop() as (typeof h)[number];
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && this.less(r, l) ? r : l;
        if (!this.less(c, i)) break;
        [h[i], h[c]] = [h[c] as (typeof h)[number], h[i] as (typeof h)[number]];
        i = c;
      }
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    const a = this.items[i] as { t: number; seq: number }, b = this.items[j] as { t: number; seq: number };
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }
}

/** FIFO of messages between core objects, as parallel ring buffers (no object per message). */
class Mailbox {
  private target = new Uint8Array(1024);
  private index = new Int32Array(1024);
  private input: (ShardInput | MachineInput | undefined)[] = new Array<ShardInput | MachineInput | undefined>(1024);
  private head = 0;
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(t: Target, i: number, input: ShardInput | MachineInput): void {
    if (this.n === this.target.length) this.grow();
    const at = (this.head + this.n) & (this.target.length - 1);
    this.target[at] = t;
    this.index[at] = i;
    this.input[at] = input;
    this.n++;
  }

  /** Target and index of the front message (read before shift). */
  frontTarget(): Target {
    return this.target[this.head] as Target;
  }

  frontIndex(): number {
    return this.index[this.head] as number;
  }

  shift(): ShardInput | MachineInput {
    const x = this.input[this.head] as ShardInput | MachineInput;
    this.input[this.head] = undefined;
    this.head = (this.head + 1) & (this.target.length - 1);
    this.n--;
    return x;
  }

  private grow(): void {
    const cap = this.target.length * 2;
    const t = new Uint8Array(cap);
    const ix = new Int32Array(cap);
    const inp = new Array<ShardInput | MachineInput | undefined>(cap);
    for (let k = 0; k < this.n; k++) {
      const from = (this.head + k) & (this.target.length - 1);
      t[k] = this.target[from] as number;
      ix[k] = this.index[from] as number;
      inp[k] = this.input[from];
    }
    this.target = t;
    this.index = ix;
    this.input = inp;
    this.head = 0;
  }
}

export class Simulation {
  private readonly q: EventQueue;
  private readonly hw: Hardware;
  /** Every job's simulated truth and bookkeeping, by row (`SimJob.k`). */
  private readonly table = new JobTable();
  /** The job object of each table row (see `arrive`). */
  private readonly jobObjects: Mutable<SimJob>[] = [];
  /** Reuse job objects and machine slots (see REUSE_MAX_MACHINES). */
  private readonly reuseObjects: boolean;
  private readonly shards: Shard[] = [];
  private readonly machines: Machine[] = [];
  private readonly edf: Edf | undefined;
  /** Jobs arrived and not completed. */
  private inSystem = 0;
  private readonly mail = new Mailbox();
  /** Jobs on each machine after its last step: what a poll reads, kept dense for the cache. */
  private readonly jobsOn: Int32Array;
  private readonly later = new DelayedMail();
  /**
   * Inputs the core objects have read, for reuse (a core object never keeps its input object): the
   * hot kinds, one per job or per poll, are built from these pools instead of allocated.
   */
  private readonly answers: PollAnswer[] = [];
  private readonly machineArrivals: Mutable<MachineInput & { kind: 'arrive' }>[] = [];
  /** The inputs stepped at once, never queued (arrivals at shards, completions): one object each. */
  private readonly shardArrival: Mutable<ShardInput & { kind: 'arrive' }> = { kind: 'arrive', job: { id: -1, cls: 0, arrival: 0, fn: 0 }, loads: undefined };
  private readonly completion: Mutable<MachineInput & { kind: 'complete' }> = { kind: 'complete', job: 0, memMB: 0 };
  /** A placement's arrival stepped at once (see stepShard), and its machine (-1: none pending). */
  private readonly machineArrival: Mutable<MachineInput & { kind: 'arrive' }> = { kind: 'arrive', job: { id: -1, cls: 0, arrival: 0, fn: 0 }, memMB: 0 };
  private arrivingAt = -1;
  private readonly rec: Recorder;
  private readonly samplerOwner: number;
  private readonly trackMemory: boolean;
  private readonly maxPrice: number;
  private now = 0;
  private events = 0;
  private rr = 0;
  /** The machine just woken whose queue entry its next reschedule renews (-1: none). */
  private renewing = -1;
  private sampleIndex = 0;
  private readonly sampleEvery: number;

  constructor(readonly cfg: RunConfig, private readonly source: JobSource) {
    const { cluster, policy, prices } = cfg;
    this.reuseObjects = cluster.machines <= REUSE_MAX_MACHINES;
    const root = new Rng(cfg.seed, `policy/${policy.name}`);
    const m = policy.kind === 'edf' ? 1 : cluster.machines;
    this.samplerOwner = m;
    this.q = new EventQueue(m + 1);
    this.maxPrice = maxPrice(prices);
    const hermod = policy.kind === 'hermod';
    this.trackMemory = Number.isFinite(cluster.memoryMB) && policy.kind !== 'edf';
    const idle = (policy.idleList ?? cluster.idleList) && !hermod && policy.kind !== 'edf';
    if (policy.kind === 'edf') {
      this.edf = new Edf({ cores: cluster.machines * cluster.cores });
      this.hw = new Hardware(this.table, 1, cluster.machines * cluster.cores, Infinity, false);
    } else {
      this.edf = undefined;
      const machinePolicy: MachinePolicy = hermod ? 'ps' : policy.kind === 'fifo' ? 'fcfs' : 'priority';
      const selection: SelectionRule = hermod ? 'fifo' : (policy.selection ?? 'price-wait');
      for (let i = 0; i < cluster.shards; i++) {
        this.shards.push(new Shard({
          id: i, prices, selection, machines: cluster.machines, k: cluster.k, useIdleList: idle,
          maxOutstandingPolls: cluster.maxOutstandingPolls,
        }, root.fork(`shard/${i}`)));
      }
      const mem = cluster.memoryMB;
      // Machines are stepped one at a time and their decisions carried out before the next step:
      // they can share one workspace (see MachineConfig.workspace).
      const workspace = new MachineWorkspace(this.reuseObjects);
      for (let i = 0; i < cluster.machines; i++) {
        this.machines.push(new Machine({
          id: i, cores: cluster.cores, policy: machinePolicy, classes: prices.classes.length, memoryMB: mem,
          swap: { enabled: this.trackMemory && !hermod, targetFraction: cluster.swapTarget },
          dispatcher: idle
            ? { shards: cluster.shards, k: Math.min(cluster.k, cluster.shards), joinFreeMB: cluster.joinFree * mem, leaveFreeMB: cluster.leaveFree * mem, updateDeltaMB: cluster.updateDelta * mem }
            : undefined,
          workspace,
        }, root.fork(`machine/${i}`)));
      }
      // Under hermod every job on the machine runs (processor sharing); otherwise at most `cores`.
      this.hw = new Hardware(this.table, cluster.machines, cluster.cores, mem, this.trackMemory, !hermod && cluster.cores <= 32);
    }
    this.jobsOn = new Int32Array(m);
    // Polls that take no time are answered within the shard's step, from the machines' loads now.
    if (cluster.pollLatencyMs === 0) this.shardArrival.loads = this.jobsOn;
    this.rec = new Recorder(cfg, m, this.hw);
    this.sampleEvery = (cfg.measureTo - cfg.measureFrom) / Math.max(1, cfg.samples);
  }

  run(): RunResult {
    const wall0 = performance.now();
    const batch = newBatch(4096);
    let bi = 0;
    let arrived = 0;
    let exhausted = false;
    const refill = (): boolean => {
      batch.count = 0;
      bi = 0;
      const n = this.source.fill(batch, 4096);
      if (n === 0) exhausted = true;
      return n > 0;
    };
    refill();
    // Machines announce themselves (dispatcher joins idle lists) at time 0.
    for (let i = 0; i < this.machines.length; i++) this.deliver(Target.Machine, i, { kind: 'memory', usedMB: 0 });
    this.pump();
    if (this.cfg.samples > 0) this.q.schedule(this.samplerOwner, this.cfg.measureFrom);

    const horizon = this.cfg.horizon;
    const progress = this.cfg.onProgress;
    // Arrivals stream from the batch and are merged with the event queue here (they never enter it);
    // at equal times, queued events (completions, samples) go first.
    for (;;) {
      const te = this.q.peekTime();
      const td = this.later.nextTime;
      const ta = exhausted ? Infinity : (batch.arrival[bi] as number);
      const t = Math.min(te, td, ta);
      if (t > horizon || t === Infinity) break;
      this.now = t;
      this.events++;
      if (td === t && te > t) {
        const m = this.later.pop();
        this.deliver(m.target, m.index, m.build());
      } else if (ta < te && ta < td) {
        this.arrive(batch, bi++);
        arrived++;
        if (bi >= batch.count) refill();
        if (progress && (arrived & 0x3fff) === 0) progress(arrived);
      } else {
        const owner = this.q.peekOwner();
        if (owner === this.samplerOwner) {
          this.q.pop();
          this.sample();
        } else {
          // The machine's entry stays queued: wake() renews it (as if popped and scheduled again).
          this.wake(owner);
        }
      }
      this.pump();
    }
    const end = Math.min(horizon, this.now);
    this.hw.advanceAll(end);
    progress?.(arrived);
    return this.rec.finish(end, this.events, performance.now() - wall0, this.inSystem, this.counters());
  }

  private counters(): Record<string, number> {
    let idle = 0;
    for (const s of this.shards) idle += s.idle.size;
    return { idleListEntriesAtEnd: idle };
  }

  private arrive(b: ReturnType<typeof newBatch>, i: number): void {
    const arrival = b.arrival[i] as number;
    const runtime = b.runtime[i] as number;
    const memTotal = b.memMB[i] as number;
    const memInit = Math.min(memTotal, 100);
    const measured = arrival >= this.cfg.measureFrom && arrival < this.cfg.measureTo;
    const id = b.id[i] as number, cls = b.cls[i] as number;
    const k = this.table.add(id, cls, arrival, runtime, memInit, memTotal, measured);
    // Small clusters: one job object per table row, reused with the row (nothing in the core keeps
    // a job after its completion, and a row is reused only after that). See REUSE_MAX_MACHINES.
    const row = k >> ROW_SHIFT;
    let job = this.reuseObjects ? this.jobObjects[row] : undefined;
    if (job === undefined) {
      job = { id, cls, arrival, fn: b.fn[i] as number, k };
      if (this.reuseObjects) this.jobObjects[row] = job;
    } else {
      job.id = id;
      job.cls = cls;
      job.arrival = arrival;
      job.fn = b.fn[i] as number;
    }
    this.inSystem++;
    if (measured) this.rec.arrived(job.cls);
    if (this.edf) {
      const price = this.cfg.prices.classes[job.cls]?.price ?? 1;
      this.edf.step(this.now, { kind: 'arrive', job, deadline: edfDeadline(job.arrival, runtime, price, this.maxPrice) });
      this.edfDecisions(this.edf.ready());
      this.edf.advance();
      this.reschedule(0);
      return;
    }
    const shard = this.rr;
    this.rr = this.rr + 1 === this.shards.length ? 0 : this.rr + 1;
    // Arrivals come between pumps, with no mail pending: the shard is stepped now, as the mailbox would.
    const input = this.shardArrival;
    input.job = job;
    this.stepShard(shard, input);
  }

  /** A machine's wake-up: a completion or a memory threshold crossing. */
  private wake(m: number): void {
    const h = this.hw;
    h.advanceTo(m, this.now);
    if (h.nextCompletion(m) <= this.now) {
      // The job is known by its table row: its object (the core's) is not touched.
      const k = h.completeNext(m);
      const t = this.table, d = t.d;
      const id = d[k + ID] as number;
      this.inSystem--;
      if (t.isMeasured(k)) this.rec.completed(t.cls(k), d[k + ARRIVAL] as number, d[k + RUNTIME] as number, this.now);
      const memTotal = d[k + MEM_TOTAL] as number;
      // Nothing reads the job's row after its completion: the row goes to the next arrival.
      t.release(k);
      if (this.edf) {
        this.edf.step(this.now, { kind: 'complete', job: id });
        this.edfDecisions(this.edf.ready());
        this.edf.advance();
        this.reschedule(m, true);
        return;
      }
      // A memory reading the completion makes stale goes out first, as if it had been read before
      // the completion was delivered.
      this.checkMemory(m);
      // The mailbox holds at most that reading (for this same machine, after the completion): the
      // completion is stepped now, ahead of it, exactly as the mailbox would, and renews the entry.
      const input = this.completion;
      input.job = id;
      input.memMB = memTotal;
      this.stepMachine(m, input, true);
      return;
    }
    if (!this.edf) this.checkMemory(m);
    // A memory reading for this machine is pending: its step renews the entry. Without one, renew it now.
    if (this.mail.length > 0 && !this.edf) this.renewing = m;
    else this.reschedule(m, true);
  }

  private deliver(target: Target, index: number, input: ShardInput | MachineInput): void {
    this.mail.push(target, index, input);
  }

  /** Delivers mail until none is left; every object's decisions are carried out before the next input. */
  private pump(): void {
    const mail = this.mail;
    while (mail.length > 0) {
      const target = mail.frontTarget();
      const index = mail.frontIndex();
      const input = mail.shift();
      if (target === Target.Shard) {
        this.stepShard(index, input as ShardInput);
        // The shard has read its input: pooled kinds go back to their pools.
        if ((input as ShardInput).kind === 'polled') this.answers.push(input as PollAnswer);
      } else {
        const renew = this.renewing === index;
        if (renew) this.renewing = -1;
        this.stepMachine(index, input as MachineInput, renew);
        if ((input as MachineInput).kind === 'arrive') this.machineArrivals.push(input as Mutable<MachineInput & { kind: 'arrive' }>);
      }
    }
  }

  /** Steps a shard and carries out its decisions. */
  private stepShard(index: number, input: ShardInput): void {
    const s = this.shards[index] as Shard;
    s.step(this.now, input);
    const ds = s.ready();
    for (let i = 0; i < ds.length; i++) this.shardDecision(s, ds[i] as ShardDecision, i === ds.length - 1);
    s.advance();
    // A placement that was the step's last decision, with no mail before it: its machine is stepped
    // now, exactly as the mailbox would deliver it next (see shardDecision).
    const m = this.arrivingAt;
    if (m >= 0) {
      this.arrivingAt = -1;
      const renew = this.renewing === m;
      if (renew) this.renewing = -1;
      this.stepMachine(m, this.machineArrival, renew);
    }
  }

  /** Steps a machine, carries out its decisions and reschedules its wake-up (`renew`: see `reschedule`). */
  private stepMachine(index: number, input: MachineInput, renew: boolean): void {
    const mc = this.machines[index] as Machine;
    const h = this.hw;
    h.advanceTo(index, this.now);
    // A memory reading is taken when the machine processes it, not when it was asked for:
    // decisions delivered in between (a swap-out) have changed it.
    mc.step(this.now, input.kind === 'memory' ? { kind: 'memory', usedMB: h.used(index) } : input);
    this.jobsOn[index] = mc.jobs;
    const ds = mc.ready();
    for (let i = 0; i < ds.length; i++) this.machineDecision(index, ds[i] as MachineDecision);
    mc.advance();
    this.checkMemory(index);
    this.reschedule(index, renew);
  }

  /** `last`: `d` is the step's last decision. */
  private shardDecision(s: Shard, d: ShardDecision, last: boolean): void {
    switch (d.kind) {
      case 'poll': {
        // Only with pollLatencyMs > 0: otherwise the shard answers its polls itself (see `arrive`).
        // The decision object is the shard's until its advance(): the answer keeps what it needs.
        const poll = d.poll, machines = d.machines;
        this.later.push(this.now + this.cfg.cluster.pollLatencyMs, Target.Shard, s.cfg.id, () => this.pollAnswer(poll, machines));
        break;
      }
      case 'place': {
        const sj = d.job as SimJob;
        this.hw.advanceTo(d.machine, this.now);
        this.hw.place(d.machine, sj.k);
        this.rec.placed(d.via, d.waited);
        // The step's last decision, with no mail before it: stepped at once (see stepShard).
        const direct = last && this.mail.length === 0;
        const input = direct ? this.machineArrival : (this.machineArrivals.pop() ?? { kind: 'arrive', job: sj, memMB: 0 });
        input.job = sj;
        input.memMB = this.table.d[sj.k + MEM_INIT] as number;
        if (direct) this.arrivingAt = d.machine;
        else this.deliver(Target.Machine, d.machine, input);
        break;
      }
      default:
        unreachable(d, 'shard decision');
    }
  }

  /** The machines' answer to a poll: jobs on each, in the poll's order (in a pooled object). */
  private pollAnswer(poll: number, machines: readonly number[]): ShardInput {
    const a = this.answers.pop() ?? { kind: 'polled', poll: 0, loads: [] };
    a.poll = poll;
    const loads = a.loads;
    if (loads.length !== machines.length) loads.length = 0;
    for (let i = 0; i < machines.length; i++) {
      const l = this.jobsOn[machines[i] as number] as number;
      if (i < loads.length) loads[i] = l;
      else loads.push(l);
    }
    return a;
  }

  private machineDecision(m: number, d: MachineDecision): void {
    const h = this.hw;
    switch (d.kind) {
      case 'run':
        h.dispatch(m, (d.job as SimJob).k);
        break;
      case 'preempt': {
        const sj = (d.job as SimJob);
        h.stop(m, sj.k);
        this.rec.preempted();
        if (this.trackMemory) this.deliver(Target.Machine, m, { kind: 'stopped', job: d.job.id, memMB: this.table.d[sj.k + MEM_NOW] as number });
        break;
      }
      case 'swap-out': {
        const sj = (d.job as SimJob);
        h.swapOut(m, sj.k);
        this.rec.swap('out', m, d.job.cls, d.mb, this.now, d.job.id);
        break;
      }
      case 'swap-in': {
        const sj = (d.job as SimJob);
        h.swapIn(m, sj.k);
        this.rec.swap('in', m, d.job.cls, d.mb, this.now, d.job.id);
        break;
      }
      case 'poll-shards':
        this.deliver(Target.Machine, m, { kind: 'shard-sizes', poll: d.poll, sizes: d.shards.map((s) => (this.shards[s] as Shard).idle.size) });
        break;
      case 'idle-join':
        this.deliver(Target.Shard, d.shard, { kind: 'idle-join', machine: m, freeMB: d.freeMB, jobs: d.jobs });
        break;
      case 'idle-update':
        this.deliver(Target.Shard, d.shard, { kind: 'idle-update', machine: m, freeMB: d.freeMB, jobs: d.jobs });
        break;
      case 'idle-leave':
        this.deliver(Target.Shard, d.shard, { kind: 'idle-leave', machine: m });
        break;
      default:
        unreachable(d, 'machine decision');
    }
  }

  private edfDecisions(ds: readonly EdfDecision[]): void {
    const h = this.hw;
    h.advanceTo(0, this.now);
    for (const d of ds) {
      switch (d.kind) {
        case 'run':
          h.dispatch(0, (d.job as SimJob).k);
          break;
        case 'preempt':
          h.stop(0, (d.job as SimJob).k);
          this.rec.preempted();
          break;
        default:
          unreachable(d, 'edf decision');
      }
    }
  }

  /** Sends the machine a memory reading when its view is stale and outside its band. */
  private checkMemory(m: number): void {
    if (!this.trackMemory) return;
    const used = this.hw.used(m);
    const mc = this.machines[m] as Machine;
    const band = mc.memoryBand();
    if ((used > band.high - 1e-6 || used < band.low) && Math.abs(mc.usedMB - used) > 1e-6) {
      this.deliver(Target.Machine, m, { kind: 'memory', usedMB: used });
    }
  }

  /** `renew`: the machine was just woken (its entry is due now) and goes behind others due at the same time. */
  private reschedule(m: number, renew = false): void {
    const h = this.hw;
    let t = h.nextCompletion(m);
    if (this.trackMemory) {
      const c = h.crossing(m, (this.machines[m] as Machine).memoryBand().high);
      if (c < t) t = c;
    }
    if (renew) this.q.renew(m, t);
    else this.q.schedule(m, t);
  }

  private sample(): void {
    this.hw.advanceAll(this.now);
    this.rec.sample(this.now, this.sampleIndex++);
    const next = this.cfg.measureFrom + this.sampleIndex * this.sampleEvery;
    if (this.sampleIndex <= this.cfg.samples) this.q.schedule(this.samplerOwner, next);
  }
}
