// The discrete-event engine: drives the policy core (shards and machines, or the EDF oracle) in
// virtual time over a simulated cluster. Its events are arrivals (from the workload, standing in
// for the gateway), machines' wake-ups (a completion, a memory threshold), deadlines, samples and
// the Bus's delayed messages. Every hop between a shard and a machine is a protocol message on the
// simulated Bus (bus.ts); the engine never reads one part's state on another's behalf. What a
// machine is told that is not a message (a job's memory, its completion) comes from the simulated
// hardware (hardware.ts), as a live worker's would come from the kernel.
//
// Zero latency (the paper's assumption 2): a message waits in the Bus's FIFO mailbox and is
// delivered before time moves on. A core object's batch of messages sent when the mailbox is empty
// is delivered at once, in order, which is what the mailbox would do next (their answers queue).

import './v8-budget.ts';
import { DurationHistory } from '../core/duration-history.ts';
import type { Mutable } from '../core/types.ts';
import { unreachable } from '../core/types.ts';
import { Rng } from '../core/rng.ts';
import { maxPrice } from '../core/classes.ts';
import { policyPreset, shardSettings } from '../core/presets.ts';
import { ShardPicker } from '../core/intake.ts';
import { formatDecisionLine, formatTime, gatewayAddress, machineAddress, shardAddress, type ArriveMsg, type ConcurrencyCap, type PollAnswerMsg, type ShardMessage } from '../core/protocol.ts';
import { Shard, type ShardDecision, type ShardInput } from '../core/shard/shard.ts';
import { Machine, MachineWorkspace } from '../core/machine/machine.ts';
import { slicesOnTimer } from '../core/machine/run-queue.ts';
import { Edf, edfDeadline, type EdfDecision } from '../core/baselines/edf.ts';
import { EventQueue } from './event-queue.ts';
import { Hardware } from './hardware.ts';
import { JobTable, ROW_SHIFT, type SimJob } from './job-table.ts';
import { newBatch, type JobSource } from './workload/index.ts';
import { Recorder, type RunResult } from './recorder.ts';
import { SimBus } from './bus.ts';
import { Pace, SimMachines } from './machines.ts';
import { simFunctionKey, type RunConfig } from './config.ts';

export type { ClusterConfig, PolicyKind, PolicySpec, RunConfig } from './config.ts';

/**
 * Up to this many machines, the jobs in the system fit in cache and the simulator reuses the objects
 * of jobs that left (job objects, machine slots) instead of allocating: +4% and +2% at 100 machines.
 * Beyond, a reused object was last touched long ago and costs a cache miss that a fresh allocation
 * does not: each was 5-8% slower at 10,000 machines.
 */
const REUSE_MAX_MACHINES = 1000;

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
  private readonly machines: SimMachines | undefined;
  private readonly edf: Edf | undefined;
  private readonly bus: SimBus;
  /** Jobs arrived and not completed. */
  private inSystem = 0;
  /** Jobs in the system at the first and the last arrival of the measured window, and when: the backlog's growth. */
  private backlogFrom = { t: NaN, jobs: 0 };
  private backlogTo = { t: NaN, jobs: 0 };
  /** The gateway's expected CPU time per function, when the shards order a class by it (`shardWithin: sef`). */
  private readonly expects: DurationHistory | undefined;
  /** The arrival message, reused (a shard never keeps its input). */
  private readonly arrival: Mutable<ArriveMsg> = { kind: 'arrive', from: gatewayAddress(0), to: shardAddress(0), job: { id: -1, cls: 0, arrival: 0, fn: 0 }, cap: undefined };
  /** Poll answers held back until their shard's step is over (see stepShard). */
  private readonly answers: Mutable<PollAnswerMsg>[] = [];
  private nAnswers = 0;
  /** Virtual time and the depth of decision batches being carried out (shared with the machines). */
  private readonly pace: Pace;
  private readonly rec: Recorder;
  private readonly samplerOwner: number;
  private readonly trackMemory: boolean;
  private readonly maxPrice: number;
  private readonly log: ((line: string) => void) | undefined;
  private now = 0;
  private events = 0;
  private readonly picker: ShardPicker | undefined;
  private sampleIndex = 0;
  private readonly sampleEvery: number;
  /** Functions' concurrency limits, as their arrivals carry them (`ClusterConfig.concurrencyLimits`); undefined: none. */
  private readonly caps: Map<number, ConcurrencyCap> | undefined;
  /** Jobs of limited functions in the system, by job id: their table row (to drop a refused one). */
  private readonly cappedRows = new Map<number, number>();

  constructor(readonly cfg: RunConfig, private readonly source: JobSource) {
    const { cluster, policy, prices } = cfg;
    this.reuseObjects = cluster.machines <= REUSE_MAX_MACHINES;
    this.log = cfg.onDecision;
    const root = new Rng(cfg.seed, `policy/${policy.name}`);
    const m = policy.kind === 'edf' ? 1 : cluster.machines;
    this.samplerOwner = m;
    // Owners: the machines, the sampler, then the shards (their deadlines).
    this.q = new EventQueue(m + 1 + (policy.kind === 'edf' ? 0 : cluster.shards));
    this.maxPrice = maxPrice(prices);
    this.trackMemory = Number.isFinite(cluster.memoryMB) && policy.kind !== 'edf';
    this.bus = new SimBus({ latency: cluster.latency ?? { kind: 'zero' }, pollRoundTripMs: cluster.pollLatencyMs, rng: root.fork('bus') });
    this.pace = new Pace(this.bus);
    if (policy.kind === 'edf') {
      this.edf = new Edf({ cores: cluster.machines * cluster.cores });
      this.hw = new Hardware(this.table, 1, cluster.machines * cluster.cores, Infinity, false);
      this.rec = new Recorder(cfg, m, this.hw);
      this.machines = undefined;
      this.picker = undefined;
      this.expects = undefined;
    } else {
      this.edf = undefined;
      // Machines are stepped one at a time and their decisions carried out before the next step:
      // they can share one workspace (see MachineConfig.workspace), which also holds their poll answers.
      const workspace = new MachineWorkspace(this.reuseObjects);
      // Memory admission ranks a class's jobs by arrival: it runs FCFS within a class unless told otherwise (and refuses another order).
      const within = policy.within ?? (cluster.memoryAdmission === true ? 'fcfs' : undefined);
      const preset = policyPreset(policy.kind, { selection: policy.selection, idleList: policy.idleList ?? cluster.idleList, within, shardWithin: policy.shardWithin, idleFreeCore: policy.idleFreeCore });
      // Shards that order a class by expected CPU time learn it from the gateway, which sees every completion.
      this.expects = preset.shardWithin === 'sef' ? new DurationHistory() : undefined;
      this.picker = new ShardPicker(cluster.shards, cluster.intake ?? 'round-robin');
      for (let i = 0; i < cluster.shards; i++) {
        const s = new Shard({
          id: i, prices, machines: cluster.machines, ...shardSettings(preset, cluster),
          maxOutstandingPolls: cluster.maxOutstandingPolls, pollTimeoutMs: cluster.pollTimeoutMs ?? Infinity,
        }, root.fork(`shard/${i}`));
        this.shards.push(s);
        this.bus.listen(s.address, (msg) => {
          this.stepShard(i, msg as ShardMessage);
          // The shard has read the answer: its object goes back to the machines' workspace.
          if (msg.kind === 'poll-answer') workspace.releaseAnswer(msg);
        });
      }
      const mem = cluster.memoryMB;
      // Memory admission: on every machine, its hardware and their driver alike (never under processor sharing).
      const admission = this.trackMemory && cluster.memoryAdmission === true && preset.machine !== 'ps';
      const list: Machine[] = [];
      for (let i = 0; i < cluster.machines; i++) {
        list.push(new Machine({
          id: i, cores: cluster.cores, policy: preset.machine, within: preset.within, classes: prices.classes.length, memoryMB: mem,
          swap: { enabled: this.trackMemory && preset.swapping, targetFraction: cluster.swapTarget, spaceMB: cluster.swapMB ?? mem, ...(cluster.swapOrder !== undefined ? { order: cluster.swapOrder } : {}) },
          admission,
          dispatcher: preset.joinIdle === true
            // JIQ: joins one shard's list at random when idle; the memory thresholds are not read.
            ? { shards: cluster.shards, k: 1, joinWhen: 'idle', joinFreeMB: 0, leaveFreeMB: 0, updateDeltaMB: 0 }
            : preset.idleList
              ? { shards: cluster.shards, k: Math.min(cluster.k, cluster.shards), joinFreeMB: cluster.joinFree * mem, leaveFreeMB: cluster.leaveFree * mem, updateDeltaMB: cluster.updateDelta * mem, pollTimeoutMs: cluster.pollTimeoutMs ?? Infinity }
              : undefined,
          workspace,
        }, root.fork(`machine/${i}`)));
      }
      // Under processor sharing every job on the machine runs; otherwise at most `cores`.
      const perMs = (sPerGiB: number): number => (sPerGiB > 0 ? 1024 / (sPerGiB * 1000) : Infinity);
      this.hw = new Hardware(this.table, cluster.machines, cluster.cores, mem, this.trackMemory, preset.machine !== 'ps' && cluster.cores <= 32,
        { outMBperMs: perMs(cluster.swapOutSPerGiB), inMBperMs: perMs(cluster.swapInSPerGiB) }, admission);
      this.rec = new Recorder(cfg, m, this.hw);
      this.machines = new SimMachines(list, this.hw, this.table, this.q, this.bus, this.pace, this.rec, {
        trackMemory: this.trackMemory, deadlines: (preset.idleList && (cluster.pollTimeoutMs ?? Infinity) !== Infinity) || slicesOnTimer(preset.machine, preset.within), log: this.log,
        admission, partialSwaps: cluster.swapOrder === 'pages',
      });
    }
    this.sampleEvery = (cfg.measureTo - cfg.measureFrom) / Math.max(1, cfg.samples);
    const limits = cluster.concurrencyLimits;
    if (limits !== undefined && policy.kind !== 'edf' && Object.keys(limits).length > 0) {
      this.caps = new Map(Object.entries(limits).map(([fn, limit]) => [Number(fn), { key: simFunctionKey(Number(fn)), limit }]));
      // A refusal goes back to the gateway the arrival came from (the workload stands in for it).
      this.bus.listen(gatewayAddress(0), (msg) => {
        if (msg.kind === 'refused') this.refused(msg.job);
      });
    } else {
      this.caps = undefined;
    }
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
    // Machines announce themselves (dispatchers join idle lists) at time 0.
    this.machines?.start();
    this.bus.pump();
    if (this.cfg.samples > 0) this.q.schedule(this.samplerOwner, this.cfg.measureFrom);

    const horizon = this.cfg.horizon;
    const progress = this.cfg.onProgress;
    const bus = this.bus;
    // Arrivals stream from the batch and are merged with the event queue here (they never enter it);
    // at equal times, queued events (completions, samples) go first, then delayed messages.
    for (;;) {
      const te = this.q.peekTime();
      const td = bus.nextTime;
      const ta = exhausted ? Infinity : (batch.arrival[bi] as number);
      const t = Math.min(te, td, ta);
      if (t > horizon || t === Infinity) break;
      this.now = t;
      this.pace.now = t;
      this.events++;
      if (td === t && te > t) {
        bus.deliverDue(t);
        continue;
      }
      bus.setNow(t);
      if (ta < te && ta < td) {
        this.arrive(batch, bi++);
        arrived++;
        if (bi >= batch.count) refill();
        if (progress && (arrived & 0x3fff) === 0) progress(arrived);
      } else {
        const owner = this.q.peekOwner();
        if (owner === this.samplerOwner) {
          this.q.pop();
          this.sample();
        } else if (owner > this.samplerOwner) {
          this.q.pop();
          this.stepShard(owner - this.samplerOwner - 1, TICK);
        } else if (this.edf) {
          this.wakeEdf();
        } else {
          // The machine's entry stays queued: its reschedule renews it (as if popped and scheduled again).
          const done = (this.machines as SimMachines).wake(owner);
          if (done >= 0) this.completed(done);
        }
      }
      bus.pump();
    }
    const end = Math.min(horizon, this.now);
    this.hw.advanceAll(end);
    progress?.(arrived);
    const span = this.backlogTo.t - this.backlogFrom.t;
    const backlog = { fromMs: this.backlogFrom.t, toMs: this.backlogTo.t, from: this.backlogFrom.jobs, to: this.backlogTo.jobs,
      growthPerS: span > 0 ? ((this.backlogTo.jobs - this.backlogFrom.jobs) / span) * 1000 : 0 };
    return this.rec.finish(end, this.events, performance.now() - wall0, this.inSystem, this.counters(), backlog);
  }

  private counters(): Record<string, number> {
    return { messages: this.bus.sent, messagesLost: this.bus.lost };
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
    if (measured) {
      this.rec.arrived(job.cls);
      if (Number.isNaN(this.backlogFrom.t)) this.backlogFrom = { t: arrival, jobs: this.inSystem };
      this.backlogTo.t = arrival;
      this.backlogTo.jobs = this.inSystem;
    }
    if (this.edf) {
      const price = this.cfg.prices.classes[job.cls]?.price ?? 1;
      this.edf.step(this.now, { kind: 'arrive', job, deadline: edfDeadline(job.arrival, runtime, price, this.maxPrice) });
      this.edfDecisions(this.edf.ready());
      this.edf.advance();
      this.reschedule(0);
      return;
    }
    const shard = (this.picker as ShardPicker).pick(job.fn);
    // The gateway's message to the shard, delivered as the mailbox would (it is empty between events).
    const msg = this.arrival;
    msg.to = (this.shards[shard] as Shard).address;
    msg.job = job;
    if (this.expects !== undefined) {
      msg.expectedMs = this.expects.expect(job.fn);
      this.table.setFn(k, job.fn);
    }
    if (this.caps !== undefined) {
      msg.cap = this.caps.get(job.fn);
      if (msg.cap !== undefined) this.cappedRows.set(id, k);
    }
    if (this.log) this.log(`t=${formatTime(this.now)} ${formatDecisionLine(msg.from, msg)} cls=${job.cls}`);
    if (this.bus.instant) this.stepShard(shard, msg);
    else this.bus.send(msg);
  }

  /**
   * Steps a shard with a message and sends its decisions (all messages). Polls delivered at once are
   * answered into the engine's own answer objects, which the shard then reads in one more step.
   */
  private stepShard(index: number, input: ShardInput): void {
    const s = this.shards[index] as Shard;
    const machines = this.machines as SimMachines;
    const list = this.answers;
    // The answers of a step are held in `list` from `base` (a stack: a step they lead to holds its own above).
    const base = this.nAnswers;
    let count = -1;
    for (;;) {
      // The first step reads the input; any further one, the answers to the polls it sent.
      if (count < 0) s.step(this.now, input);
      else s.stepAnswers(this.now, list, base, count);
      // The shard has read the answers it was given: their objects are free again.
      this.nAnswers = base;
      const ds = s.ready();
      const n = ds.length;
      let answers = 0;
      if (n > 0) {
        // The whole step's decisions are logged before any is delivered, as a live driver logs them.
        if (this.log) for (const d of ds) this.log(`t=${formatTime(this.now)} ${formatDecisionLine(s.address, d)}`);
        const direct = this.pace.batch();
        for (let i = 0; i < n; i++) {
          const d = ds[i] as ShardDecision;
          if (!direct) {
            this.bus.send(d);
          } else if (d.kind === 'poll') {
            // Delivered at once; its answer waits here, in order, until the shard's step is over.
            const at = base + answers++;
            machines.answerPoll(d, list[at] ?? (list[at] = newAnswer()));
            this.nAnswers = at + 1;
          } else if (d.kind === 'refused') {
            // To the gateway: the job leaves the system unrun.
            this.refused(d.job);
          } else {
            // Anything this delivery sends goes to the Bus, behind the answers that came before it.
            if (answers > 0) this.handOver(base, answers);
            answers = 0;
            machines.deliver(d);
          }
        }
        this.pace.depth--;
      }
      s.advance();
      // A poll that may go unanswered (a timeout is set) wakes the shard at its deadline.
      const deadline = s.nextDeadline();
      if (deadline !== Infinity) this.q.schedule(this.samplerOwner + 1 + index, Math.max(deadline, this.now));
      if (answers === 0) return;
      if (!this.bus.idle) {
        this.handOver(base, answers);
        return;
      }
      // The answers are all that is pending: the shard reads them now, together, as the Bus would
      // deliver them one after the other (and what they lead to is delivered at once).
      count = answers;
    }
  }

  /** Sends held answers through the Bus, which keeps their objects (the engine makes new ones). */
  private handOver(base: number, count: number): void {
    const list = this.answers;
    for (let a = base; a < base + count; a++) {
      this.bus.sendOwned(list[a] as PollAnswerMsg);
      list[a] = newAnswer();
    }
    this.nAnswers = base;
  }

  /** A job completed on a machine (`k`: its table row, released here). */
  private completed(k: number): void {
    const t = this.table;
    this.inSystem--;
    if (this.caps !== undefined) this.cappedRows.delete(t.id(k));
    if (t.isMeasured(k)) this.rec.completed(t.cls(k), t.arrival(k), t.runtime(k), this.now);
    this.expects?.learn(t.fn(k), t.runtime(k));
    t.release(k);
  }

  /** The shard refused job `id` (its function at its concurrency limit): it leaves the system unrun. */
  private refused(id: number): void {
    const k = this.cappedRows.get(id);
    if (k === undefined) return;
    this.cappedRows.delete(id);
    const t = this.table;
    this.inSystem--;
    if (t.isMeasured(k)) this.rec.refused(t.cls(k));
    t.release(k);
  }

  private wakeEdf(): void {
    const h = this.hw;
    h.advanceTo(0, this.now);
    if (h.nextCompletion(0) > this.now) {
      // Woken by its deadline, not a completion: EDF has no deadline input (it never sets one).
      this.reschedule(0, true);
      return;
    }
    const k = h.completeNext(0);
    const id = this.table.id(k);
    this.completed(k);
    const edf = this.edf as Edf;
    edf.step(this.now, { kind: 'complete', job: id });
    this.edfDecisions(edf.ready());
    edf.advance();
    this.reschedule(0, true);
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

  /** `renew`: the owner was just woken (its entry is due now) and goes behind others due at the same time. */
  private reschedule(m: number, renew = false): void {
    // EDF never asks to be woken (its deadline is Infinity) but is asked, like every core object.
    const t = Math.min(this.hw.nextCompletion(m), (this.edf as Edf).nextDeadline());
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

const TICK: ShardInput = { kind: 'tick' };

/** An answer object for the engine's list (its fields are written by `Machine.answerInto`). */
const newAnswer = (): Mutable<PollAnswerMsg> => ({ kind: 'poll-answer', from: machineAddress(0), to: shardAddress(0), poll: -1, jobs: 0, memoryLow: undefined });
