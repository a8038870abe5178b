// What a simulation run measures: per-class response times, waiting times and slowdowns of measured jobs, per-machine
// compute utilization and memory over time, every swap-out and swap-in, and placement counters.

import type { Millis } from '../core/types.ts';
import type { Placement } from '../core/shard/shard.ts';
import { LogHistogram, LOG_HISTOGRAM_MIN } from './stats/index.ts';
import type { Hardware } from './hardware.ts';
import type { RunConfig } from './config.ts';

export interface ClassStats {
  readonly cls: number;
  readonly name: string;
  readonly price: number;
  jobs: number;
  completed: number;
  /** Jobs refused because their function was at its concurrency limit (`ClusterConfig.concurrencyLimits`): they never ran. */
  refused: number;
  readonly response: LogHistogram;
  readonly slowdown: LogHistogram;
  /**
   * Waiting time (ms): response − runtime, the time the job was not served — queued at a shard or a
   * machine, preempted, waiting for its memory; under processor sharing, also the slowing by sharing.
   * Zero waits are recorded at the histogram's floor (a microsecond's fraction).
   */
  readonly wait: LogHistogram;
}

export interface SwapLog {
  time: number[];
  machine: number[];
  job: number[];
  cls: number[];
  mb: number[];
  dir: ('out' | 'in')[];
  /** How long the swap device took, from the decision (queueing on the device included), ms. */
  deviceMs: number[];
}

export interface RunResult {
  readonly policy: string;
  readonly machines: number;
  readonly cores: number;
  readonly memoryMB: number;
  readonly classes: ClassStats[];
  /** Sample times (ms) of the utilization and memory series. */
  readonly sampleTimes: number[];
  /** utilization[s][m]: busy cores ÷ cores of machine m over the window ending at sample s. */
  readonly utilization: Float64Array[];
  /** memoryUsed[s][m]: resident MB of machine m at sample s, at most its capacity (empty without a memory model). */
  readonly memoryUsed: Float64Array[];
  /** memoryDemand[s][m]: what machine m's jobs held in memory at sample s (MB; above capacity, the excess is paged by the kernel). */
  readonly memoryDemand: Float64Array[];
  /** swappedByClass[s][c]: MB of class c swapped out (all machines) at sample s. */
  readonly swappedByClass: Float64Array[];
  /** swapRate[s][m]: MB/s machine m's swap device moved (out and in) over the window ending at sample s. */
  readonly swapRate: Float64Array[];
  /** Per class: how long swap-ins took (ms, from the decision until the job could run: the job's added latency). */
  readonly swapInDelay: LogHistogram[];
  readonly swapOutByClass: Float64Array;
  readonly swapInByClass: Float64Array;
  readonly swapOutByMachine: Float64Array;
  readonly swapInByMachine: Float64Array;
  /** ∫ max(0, used − capacity) dt per machine, in MB·s. */
  readonly overcommitMBs: Float64Array;
  readonly swaps: SwapLog;
  readonly placements: Record<Placement, number>;
  readonly shardWait: LogHistogram;
  readonly preemptions: number;
  readonly events: number;
  readonly wallMs: number;
  readonly simulatedMs: Millis;
  readonly jobsInSystem: number;
  /**
   * The backlog (jobs in the system, all classes) at the first and the last arrival of the measured
   * window, and its growth per second of simulated time: about 0 when the system keeps up; above, a
   * queue that grows for as long as the run lasts (its latencies then depend on the run's length).
   */
  readonly backlog: { readonly fromMs: number; readonly toMs: number; readonly from: number; readonly to: number; readonly growthPerS: number };
  readonly counters: Record<string, number>;
}

export class Recorder {
  private readonly classes: ClassStats[];
  private readonly sampleTimes: number[] = [];
  private readonly utilization: Float64Array[] = [];
  private readonly memoryUsed: Float64Array[] = [];
  private readonly memoryDemand: Float64Array[] = [];
  private readonly swappedByClass: Float64Array[] = [];
  private readonly swapRate: Float64Array[] = [];
  private readonly swappedNow: Float64Array;
  private readonly movedSince: Float64Array;
  private readonly swapInDelay: LogHistogram[];
  private readonly lastBusy: Float64Array;
  private lastSampleT = 0;
  private readonly swapOutByClass: Float64Array;
  private readonly swapInByClass: Float64Array;
  private readonly swapOutByMachine: Float64Array;
  private readonly swapInByMachine: Float64Array;
  private readonly swaps: SwapLog = { time: [], machine: [], job: [], cls: [], mb: [], dir: [], deviceMs: [] };
  /** Placements by way (`placements` in the result), counted in fields: a string-keyed count costs more per job. */
  private placedIdle = 0;
  private placedPoll = 0;
  private placedReserved = 0;
  private readonly shardWait = new LogHistogram();
  private preemptions = 0;

  constructor(private readonly cfg: RunConfig, private readonly nMachines: number, private readonly hw: Hardware) {
    this.classes = cfg.prices.classes.map((c, i) => ({
      cls: i, name: c.name, price: c.price, jobs: 0, completed: 0, refused: 0, response: new LogHistogram(), slowdown: new LogHistogram(), wait: new LogHistogram(),
    }));
    const n = cfg.prices.classes.length;
    this.swapOutByClass = new Float64Array(n);
    this.swapInByClass = new Float64Array(n);
    this.swapOutByMachine = new Float64Array(nMachines);
    this.swapInByMachine = new Float64Array(nMachines);
    this.lastBusy = new Float64Array(nMachines);
    this.swappedNow = new Float64Array(n);
    this.movedSince = new Float64Array(nMachines);
    this.swapInDelay = cfg.prices.classes.map(() => new LogHistogram());
  }

  arrived(cls: number): void {
    (this.classes[cls] as ClassStats).jobs++;
  }

  /** A measured job was refused (its function at its concurrency limit). */
  refused(cls: number): void {
    (this.classes[cls] as ClassStats).refused++;
  }

  /** A measured job completed. */
  completed(cls: number, arrival: Millis, runtime: number, now: Millis): void {
    const c = this.classes[cls] as ClassStats;
    c.completed++;
    const response = now - arrival;
    c.response.record(response);
    c.slowdown.record(Math.max(1, response / runtime));
    c.wait.record(Math.max(LOG_HISTOGRAM_MIN, response - runtime));
  }

  placed(via: Placement, waited: Millis): void {
    if (via === 'power-of-k') this.placedPoll++;
    else if (via === 'idle-list') this.placedIdle++;
    else this.placedReserved++;
    this.shardWait.record(Math.max(waited, 1e-3));
  }

  preempted(): void {
    this.preemptions++;
  }

  swap(dir: 'out' | 'in', machine: number, cls: number, mb: number, now: Millis, job = -1, deviceMs = 0): void {
    if (dir === 'out') {
      this.swapOutByClass[cls] = (this.swapOutByClass[cls] as number) + mb;
      this.swapOutByMachine[machine] = (this.swapOutByMachine[machine] as number) + mb;
      this.swappedNow[cls] = (this.swappedNow[cls] as number) + mb;
    } else {
      this.swapInByClass[cls] = (this.swapInByClass[cls] as number) + mb;
      this.swapInByMachine[machine] = (this.swapInByMachine[machine] as number) + mb;
      this.swappedNow[cls] = Math.max(0, (this.swappedNow[cls] as number) - mb);
      (this.swapInDelay[cls] as LogHistogram).record(Math.max(deviceMs, 1e-3));
    }
    this.movedSince[machine] = (this.movedSince[machine] as number) + mb;
    const s = this.swaps;
    s.time.push(now);
    s.machine.push(machine);
    s.job.push(job);
    s.cls.push(cls);
    s.mb.push(mb);
    s.dir.push(dir);
    s.deviceMs.push(deviceMs);
  }

  /** Called at measureFrom (index 0, a baseline) and at the end of each window. */
  sample(now: Millis, index: number): void {
    const util = new Float64Array(this.nMachines);
    const mem = new Float64Array(this.nMachines);
    const demand = new Float64Array(this.nMachines);
    const rate = new Float64Array(this.nMachines);
    const dt = now - this.lastSampleT;
    const cap = this.cfg.cluster.memoryMB;
    for (let m = 0; m < this.nMachines; m++) {
      const h = this.hw, busy = h.busy(m);
      util[m] = dt > 0 ? (busy - (this.lastBusy[m] as number)) / (h.cores * dt) : 0;
      this.lastBusy[m] = busy;
      const d = h.demand(m);
      demand[m] = d;
      mem[m] = d < cap ? d : cap;
      rate[m] = dt > 0 ? (this.movedSince[m] as number) / (dt / 1000) : 0;
      this.movedSince[m] = 0;
    }
    this.lastSampleT = now;
    if (index === 0) return;
    this.sampleTimes.push(now);
    this.utilization.push(util);
    if (Number.isFinite(cap)) {
      this.memoryUsed.push(mem);
      this.memoryDemand.push(demand);
      this.swappedByClass.push(Float64Array.from(this.swappedNow));
      this.swapRate.push(rate);
    }
  }

  finish(end: Millis, events: number, wallMs: number, left: number, counters: Record<string, number>, backlog: RunResult['backlog']): RunResult {
    const overcommit = new Float64Array(this.nMachines);
    for (let m = 0; m < this.nMachines; m++) overcommit[m] = this.hw.overcommit(m) / 1000;
    return {
      policy: this.cfg.policy.name,
      machines: this.cfg.cluster.machines,
      cores: this.cfg.cluster.cores,
      memoryMB: this.cfg.cluster.memoryMB,
      classes: this.classes,
      sampleTimes: this.sampleTimes,
      utilization: this.utilization,
      memoryUsed: this.memoryUsed,
      memoryDemand: this.memoryDemand,
      swappedByClass: this.swappedByClass,
      swapRate: this.swapRate,
      swapInDelay: this.swapInDelay,
      swapOutByClass: this.swapOutByClass,
      swapInByClass: this.swapInByClass,
      swapOutByMachine: this.swapOutByMachine,
      swapInByMachine: this.swapInByMachine,
      overcommitMBs: overcommit,
      swaps: this.swaps,
      placements: { 'idle-list': this.placedIdle, 'power-of-k': this.placedPoll, 'reservation': this.placedReserved },
      shardWait: this.shardWait,
      preemptions: this.preemptions,
      events,
      wallMs,
      simulatedMs: end,
      jobsInSystem: left,
      backlog,
      counters,
    };
  }
}
