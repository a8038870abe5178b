// The worker's machine scheduler, live: the core Machine (preemptive priority by class, FCFS within a
// class) driven in real time behind one address on the Bus. Placements, polls and block / unblock
// arrive as messages; what the worker itself learns (an invocation answered, a preempted instance
// stopped) goes into the same step loop. Its decisions are carried out on real instances through an
// Executor — run starts or resumes an invocation, preempt freezes it — or sent as messages (poll
// answers, idle-list changes); the gateway that sent a job hears `started`, `answered` and `done`.

import type { Job, Millis, Mutable } from '../../core/types.ts';
import { unreachable } from '../../core/types.ts';
import type { Bus } from '../../core/bus.ts';
import { formatDecisionLine, formatTime, gatewayAddress, shardAddress, type Cargo, type MachineMessage } from '../../core/protocol.ts';
import type { Machine, MachineDecision, MachineInput } from '../../core/machine/machine.ts';
import type { InvokeOutcome, InvokeRequest } from '../types.ts';
import { answerCargo, outcomeCargo, requestOf } from '../cargo.ts';
import type { Clock } from '../transport/clock.ts';
import { StepLoop } from '../transport/step-loop.ts';
import { StreamFlow } from './stream-flow.ts';
import type { Metrics } from '../metrics.ts';

/** What a worker counts in the process's metrics (a worker on a thread of its own sends them to the main thread's). */
export type WorkerEvents = Pick<Metrics, 'preempted' | 'ioWaited' | 'swapped'>;
import { CoreLedger, type MachineReceipt, type SwapEvent, type WaitStretch } from '../../core/receipt.ts';
import type { Placement } from '../../core/protocol.ts';
import { ChurnMap } from '../../core/util/churn-map.ts';

/** What the machine scheduler needs from the instances: mechanism, no policy. */
export interface Executor {
  /** Runs the invocation to its end (cold-starting an instance if needed); calls `req.onAnswer` when the function answers. */
  run(req: InvokeRequest): Promise<InvokeOutcome>;
  /** Preemption: stop the invocation's instance from using the CPU (freezer or SIGSTOP). */
  pause(requestId: string): void;
  /** Let a paused invocation continue. */
  resume(requestId: string): void;
  /** Class-based swapping: move a frozen invocation's memory out to swap, and back before it runs. */
  swapOut?(requestId: string): void;
  swapIn?(requestId: string): void;
  /** CPU time (ms) the invocation's instance has used so far, or undefined (no instance yet, or not measurable): for I/O waits. */
  cpuMs?(requestId: string): number | undefined;
  /**
   * Whether the invocation's processes all sleep on I/O now (false: one computes, waits for a core,
   * or stalls on memory or the disk), or undefined (not known): asked before an I/O wait is decided.
   */
  sleepsOnIo?(requestId: string): boolean | undefined;
  /**
   * The invocation waits on I/O (it gave its core up): its kernel priority drops; or it has a core
   * again: its class's priority is back.
   */
  ioWait?(requestId: string, waiting: boolean): void;
}

/**
 * I/O waits. A job holds its core while it runs, as CPU work does; but most functions also wait (on
 * a database, another service, a timer) and then use no CPU. The worker reads the CPU time of its
 * started jobs every `IO_READ_MS` while it has any: a job on a core that used less than
 * `IO_IDLE_SHARE` of it since the last reading, having held it all that time, gives the core up
 * (a `block`, as a caller waiting for a synchronous call does) and the machine runs the next job;
 * its process is not stopped. Only if its processes sleep (`Executor.sleepsOnIo`): one that waits
 * for a core (other programs compute) or stalls on memory (paging under pressure) uses little CPU
 * too, and keeps its core — else a swapped-out lower class would be run, and swapped back in, in
 * the gap. While it waits its kernel priority drops (`Executor.ioWait`; SCHED_IDLE below the top
 * class, core/kernel-priority.ts), so that when it wakes it takes no CPU from the job on its core.
 * Once it uses more than that share again, or is runnable (not asleep) at all, it is `unblock`ed
 * and waits for a core like any job of its class (preempting a lower one, or stopped until its
 * turn); its priority comes back when it has the core, not before (it would compete meanwhile).
 */
export const IO_READ_MS = 25;
export const IO_IDLE_SHARE = 0.1;

/**
 * The worker's view of memory, where it manages memory (the machine's `memoryMB` is finite): how
 * big a job is when placed, when stopped and when done, and what the whole machine uses now.
 */
export interface MemoryProbe {
  /** A job was placed here: its resident memory now (MB). */
  placed(req: InvokeRequest): number;
  /** A placed job's resident memory now (MB). */
  resident(requestId: string): number;
  /** Resident memory of the machine's jobs now (MB). */
  used(): number;
  /**
   * Memory is over the machine's level (`used` MB): the worker first swaps out what no job needs
   * (idle instances) and returns how much (MB) started leaving; the machine is then told the rest.
   */
  relieve?(usedMB: number): number;
}

interface Entry {
  readonly job: Job;
  readonly req: InvokeRequest;
  readonly gateway: number;
  started: boolean;
  paused: boolean;
  /** Blocked by its gateway: it waits for a synchronous call it made. */
  blocked: boolean;
  /** Blocked by the worker: it used next to no CPU on its core (an I/O wait, see IO_IDLE_SHARE). */
  ioWait: boolean;
  /** Its kernel priority was lowered for an I/O wait, and comes back when it next gets a core. */
  lowered: boolean;
  /** Its CPU time (ms) at the last reading, and when (NaN: not read yet); when it last got a core. */
  cpuSeen: number;
  cpuSeenAt: number;
  onCoreFrom: number;
  /** The job has left the machine scheduler (answered, or ended without an answer). */
  gone: boolean;
  /** The function's answer, once given (kept to say again). */
  answered?: Cargo;
  // ---- its receipt (core/receipt.ts), kept as the machine's decisions are carried out ----
  readonly shard: number;
  /** Its function's concurrency is limited: the shard hears when it has left (`left`), once (then false). */
  capped: boolean;
  readonly via: Placement;
  readonly shardWaitMs: number;
  /** When the machine stepped its arrival (the loop's clock), and the wall clock then. */
  placedNow: number;
  placedAt: number;
  startedNow: number;
  answeredNow: number;
  /** It holds a core (the machine ran it and has not preempted it; not blocked, not gone). */
  onCore: boolean;
  /** Since when it waits for a core (NaN: it does not), why, and the ledger then (taken at the end of the step it began in). */
  waitFrom: number;
  waitAfter: WaitStretch['after'];
  waitSnap: Float64Array | undefined;
  /** Since when the machine has it blocked (NaN: it does not), and whether for I/O (else for its own calls). */
  blockedFrom: number;
  blockedForIo: boolean;
  blockedMs: number;
  ioWaitMs: number;
  waits: WaitStretch[] | undefined;
  preemptions: OpenPreemption[] | undefined;
  swaps: SwapEvent[] | undefined;
  swapsLeftOut: number;
  /** Its streamed response's flow control (stream-flow.ts), once it streams. */
  flow: StreamFlow | undefined;
}

/**
 * A receipt keeps at most this many waits, preemptions and swaps: past it, each new wait is merged
 * into the last kept (from its start to the new one's end, core-ms summed: the tenant's check stays
 * sound), each new preemption too (lengths summed, the lowest class that caused one kept), and later
 * swaps are counted only.
 */
const RECEIPT_ENTRIES = 64;

/** A preemption as the receipt is built: `ends` is where its length was last counted to (a merged one's length is a sum). */
interface OpenPreemption {
  readonly atMs: number;
  forMs: number;
  byClass: number | null;
  ends: number;
}

function mergeWaits(a: WaitStretch, b: WaitStretch): WaitStretch {
  const ran = new Map<number, number>();
  for (const t of a.ran) ran.set(t.cls, t.coreMs);
  for (const t of b.ran) ran.set(t.cls, (ran.get(t.cls) ?? 0) + t.coreMs);
  return { fromMs: a.fromMs, toMs: b.toMs, after: a.after, ran: [...ran].sort((x, y) => x[0] - y[0]).map(([cls, coreMs]) => ({ cls, coreMs })) };
}

/**
 * Outcomes of jobs that left, kept to say again to a gateway that asks (its `done` may have been
 * lost): the last 1024, and no more than 32 MB of payloads and logs.
 */
const RECENT_OUTCOMES = 1024;
const RECENT_BYTES = 32 * 1024 * 1024;

/** About how many bytes a cargo holds (its strings). */
function sizeOf(c: Cargo | undefined): number {
  if (c === undefined) return 0;
  let n = 0;
  for (const v of Object.values(c)) n += typeof v === 'string' ? v.length : typeof v === 'object' && v !== null ? sizeOf(v as Cargo) : 8;
  return n;
}

export class MachineDriver {
  private readonly entries = new ChurnMap<number, Entry>();
  /** The last `done` (and `answered`) of recently finished jobs, oldest first. */
  private readonly recent = new ChurnMap<number, { gateway: number; answered: Cargo | undefined; done: Cargo; bytes: number }>();
  private recentBytes = 0;
  private readonly loop: StepLoop<MachineInput>;
  private readonly unlisten: () => void;
  /** Core time per class, for receipts: what ran while a job waited. */
  private readonly ledger: CoreLedger;
  /** Jobs that began to wait in the step being taken (their ledger snapshot is taken at its end). */
  private readonly beganWaiting: Entry[] = [];
  /** Cancels the next reading of CPU time, when one is due. */
  private cancelRead: (() => void) | undefined;

  constructor(
    private readonly machine: Machine,
    private readonly exec: Executor,
    private readonly bus: Bus,
    private readonly clock: Clock,
    /** Each decision as a line (the conformance suite's decision log). */
    private readonly log?: (line: string) => void,
    private readonly memory?: MemoryProbe,
    /**
     * For a carrier that may lose messages (the cluster's NATS): tell the gateway `accepted` when a
     * job is placed here (it must know where a job waits, to fail it at once if this machine is
     * lost), keep recent outcomes to say again when asked, run a job placed twice once. Not needed
     * within one process.
     */
    private readonly acknowledge = false,
    /** Preemptions (suffered and caused), I/O waits and class-based swapping are counted. */
    private readonly metrics?: WorkerEvents,
  ) {
    this.ledger = new CoreLedger(machine.cfg.classes);
    // Once what carrying out decisions taught it is stepped (a stopped job's size), the worker reads
    // its memory: a stale view outside the machine's band is refreshed.
    const reading = memory === undefined ? undefined : (): MachineInput | undefined => {
      const used = this.measure(memory);
      return machine.needsReading(used) ? { kind: 'memory', usedMB: used } : undefined;
    };
    this.loop = new StepLoop<MachineInput>(clock, (now, input) => this.stepOne(now, input), () => machine.nextDeadline(), { kind: 'tick' }, reading);
    this.unlisten = bus.listen(machine.address, (m) => this.receive(m as MachineMessage));
  }

  /** Reads the memory now (the worker's periodic reading): stepped if the machine's view of it is stale. */
  readMemory(): void {
    if (this.memory === undefined) return;
    const used = this.measure(this.memory);
    if (this.machine.needsReading(used)) this.loop.push({ kind: 'memory', usedMB: used });
  }

  /** The memory used now, less what the worker started swapping out of idle instances over the machine's level. */
  private measure(memory: MemoryProbe): number {
    const used = memory.used();
    return used > this.machine.cfg.memoryMB && memory.relieve !== undefined ? used - memory.relieve(used) : used;
  }

  /** A shard was lost or restarted (the cluster's membership): the dispatcher rejoins an idle list if it was on its. */
  shardLost(shard: number): void {
    this.loop.push({ kind: 'shard-lost', shard });
  }

  /** Jobs placed here and not yet done. */
  get jobs(): number {
    return this.entries.size;
  }

  /** The worker reads its memory once when it starts (a dispatcher with room asks the shards for an idle list to join). */
  start(): void {
    this.loop.push({ kind: 'memory', usedMB: this.memory?.used() ?? 0 });
  }

  close(): void {
    this.unlisten();
    this.loop.stop();
    this.cancelRead?.();
    this.cancelRead = undefined;
  }

  /** The next reading of the started jobs' CPU time (see IO_READ_MS), unless one is due already. */
  private readCpuSoon(): void {
    if (this.cancelRead !== undefined || this.exec.cpuMs === undefined) return;
    this.cancelRead = this.clock.at(this.clock.now() + IO_READ_MS, () => {
      this.cancelRead = undefined;
      this.readCpu();
    });
  }

  /** Reads the started jobs' CPU time: a job on a core that waits on I/O gives it up, one that computes again asks for one. */
  private readCpu(): void {
    const exec = this.exec;
    if (exec.cpuMs === undefined) return;
    const now = this.clock.now();
    let started = false;
    for (const e of this.entries.values()) {
      if (e.gone || !e.started) continue;
      started = true;
      const used = exec.cpuMs(e.req.requestId);
      if (used === undefined) continue;
      const before = e.cpuSeen, since = e.cpuSeenAt;
      e.cpuSeen = used;
      e.cpuSeenAt = now;
      if (Number.isNaN(before) || !(now > since)) continue;
      const share = (used - before) / (now - since);
      if (!e.ioWait && e.onCore && e.onCoreFrom <= since && share < IO_IDLE_SHARE && exec.sleepsOnIo?.(e.req.requestId) !== false) {
        e.ioWait = true;
        this.metrics?.ioWaited(this.machine.cfg.id, e.job.cls);
        e.lowered = exec.ioWait !== undefined;
        exec.ioWait?.(e.req.requestId, true);
        if (!e.blocked) this.loop.push({ kind: 'block', job: e.job.id });
      } else if (e.ioWait && (share >= IO_IDLE_SHARE || e.paused || exec.sleepsOnIo?.(e.req.requestId) === false)) {
        // Computing again, or wanting to (runnable, but at the priority of a wait it gets next to no
        // CPU while another job runs); or stopped meanwhile (preempted as the block travelled), where
        // it would never show it.
        e.ioWait = false;
        if (!e.blocked) this.loop.push({ kind: 'unblock', job: e.job.id });
      }
    }
    if (started) this.readCpuSoon();
  }

  private receive(m: MachineMessage): void {
    switch (m.kind) {
      case 'place': {
        if (m.cargo === undefined) throw new Error(`worker ${this.machine.cfg.id}: job ${m.job.id} was placed without its invocation`);
        // Placed again (its gateway sent it again after a lost message): it runs once; say where it is.
        if (this.entries.has(m.job.id) || this.recent.has(m.job.id)) {
          // A limited function's job that has already left here: the shard counted it again.
          if (m.capped === true && !this.entries.has(m.job.id)) this.bus.sendOwned({ kind: 'left', from: this.machine.address, to: m.from, job: m.job.id });
          this.ask(m.job.id, undefined);
          return;
        }
        const { gateway, req } = requestOf(m.cargo, m.job.cls);
        const job: Job = { id: m.job.id, cls: m.job.cls, arrival: m.job.arrival, fn: m.job.fn };
        const e: Entry = {
          job, req, gateway, started: false, paused: false, blocked: false, ioWait: false, lowered: false, cpuSeen: NaN, cpuSeenAt: NaN, onCoreFrom: NaN, gone: false,
          shard: m.from.id, capped: m.capped === true, via: m.via, shardWaitMs: m.waited, placedNow: NaN, placedAt: 0, startedNow: NaN, answeredNow: NaN,
          onCore: false, waitFrom: NaN, waitAfter: 'placed', waitSnap: undefined, blockedFrom: NaN, blockedForIo: false, blockedMs: 0, ioWaitMs: 0, waits: undefined, preemptions: undefined, swaps: undefined, swapsLeftOut: 0, flow: undefined,
        };
        this.entries.set(job.id, e);
        this.loop.push({ kind: 'arrive', job, memMB: this.memory?.placed(req) ?? 0, shard: m.from.id, via: m.via });
        // Where it waits, unless its `started` (sent as it started, in the step just taken) says it already.
        if (this.acknowledge && !e.started) this.tell(e, { kind: 'accepted', job: job.id });
        break;
      }
      case 'block':
      case 'unblock': {
        // Only for a job still here, and only a change: the job may have answered while the message travelled.
        const e = this.entries.get(m.job);
        if (e === undefined || e.gone || !e.started || e.blocked === (m.kind === 'block')) return;
        e.blocked = m.kind === 'block';
        // The machine has it blocked already while it waits on I/O (and unblocks it when it computes again).
        if (!e.ioWait) this.loop.push(m);
        break;
      }
      case 'poll':
      case 'idle-answer':
      case 'reserve':
      case 'taken':
        this.loop.push(m);
        break;
      case 'ask':
        this.ask(m.job, m.from.id);
        break;
      case 'stream-ack':
        this.entries.get(m.job)?.flow?.acked(m.bytes);
        break;
      default:
        unreachable(m, 'message for a worker');
    }
  }

  /** Says again what this worker knows of job `job` (to `gateway`, or the job's own gateway). */
  private ask(job: number, gateway: number | undefined): void {
    const e = this.entries.get(job);
    if (e !== undefined) {
      this.tell(e, { kind: e.started ? 'started' : 'accepted', job });
      return;
    }
    const r = this.recent.get(job);
    const from = this.machine.address;
    if (r !== undefined) {
      const to = gatewayAddress(r.gateway);
      if (r.answered !== undefined) this.bus.sendOwned({ kind: 'answered', from, to, job, result: r.answered });
      this.bus.sendOwned({ kind: 'done', from, to, job, result: r.done });
      return;
    }
    if (gateway !== undefined) this.bus.sendOwned({ kind: 'unknown', from, to: gatewayAddress(gateway), job });
  }

  private stepOne(now: Millis, input: MachineInput): void {
    const mc = this.machine;
    this.ledger.advance(now);
    this.noteInput(now, input);
    mc.step(now, input);
    // Carrying a decision out never steps the machine (what it learns goes into the loop's inbox),
    // so the machine's own decision objects are read in place, then forgotten.
    const ds = mc.ready();
    // Each preemption is caused by the highest class among the jobs the same step ran.
    let by = Infinity;
    for (const d of ds) if (d.kind === 'run' && d.job.cls < by) by = d.job.cls;
    for (const d of ds) {
      this.log?.(`t=${formatTime(now)} ${formatDecisionLine(mc.address, d)}`);
      this.apply(now, d, by === Infinity ? null : by);
    }
    mc.advance();
    // What each job that began to wait in this step finds the ledger at (unless it ran in the same step).
    const began = this.beganWaiting;
    for (let i = 0; i < began.length; i++) {
      const e = began[i] as Entry;
      if (!Number.isNaN(e.waitFrom) && e.waitSnap === undefined) e.waitSnap = this.ledger.snapshot();
    }
    began.length = 0;
  }

  /** What an input tells the receipts: a job placed (it waits), blocked (it gives up its core) or unblocked (it waits again). */
  private noteInput(now: Millis, input: MachineInput): void {
    switch (input.kind) {
      case 'arrive': {
        const e = this.entries.get(input.job.id);
        if (e === undefined) return;
        e.placedNow = now;
        e.placedAt = Date.now();
        this.beginWait(e, now, 'placed');
        return;
      }
      case 'block': {
        const e = this.entries.get(input.job);
        if (e === undefined) return;
        this.offCore(e);
        this.endWait(e, now);
        e.blockedFrom = now;
        // The machine hears one block for both (receive, readCpu): counted as what began it.
        e.blockedForIo = e.ioWait && !e.blocked;
        return;
      }
      case 'unblock': {
        const e = this.entries.get(input.job);
        if (e === undefined) return;
        this.endBlock(e, now);
        this.beginWait(e, now, 'unblocked');
        return;
      }
      case 'complete':
      case 'stopped':
      case 'memory':
      case 'paged-out':
      case 'tick':
      case 'shard-lost':
      case 'poll':
      case 'idle-answer':
      case 'reserve':
      case 'taken':
        return;
      default:
        unreachable(input, 'machine input');
    }
  }

  private beginWait(e: Entry, now: Millis, after: WaitStretch['after']): void {
    e.waitFrom = now;
    e.waitAfter = after;
    e.waitSnap = undefined;
    this.beganWaiting.push(e);
  }

  /** The job stops waiting at `now` (it runs, blocks or ends): the stretch goes into its receipt, with what ran meanwhile. */
  private endWait(e: Entry, now: Millis): void {
    if (Number.isNaN(e.waitFrom)) return;
    if (e.waitSnap !== undefined && now > e.waitFrom) {
      const w: WaitStretch = { fromMs: e.waitFrom - e.placedNow, toMs: now - e.placedNow, after: e.waitAfter, ran: this.ledger.since(e.waitSnap) };
      const waits = (e.waits ??= []);
      if (waits.length < RECEIPT_ENTRIES) waits.push(w);
      else waits[waits.length - 1] = mergeWaits(waits[waits.length - 1] as WaitStretch, w);
    }
    if (e.waitAfter === 'preempted' && e.preemptions !== undefined) {
      const p = e.preemptions[e.preemptions.length - 1] as OpenPreemption;
      p.forMs += now - e.placedNow - p.ends;
      p.ends = now - e.placedNow;
    }
    e.waitFrom = NaN;
    e.waitSnap = undefined;
  }

  private onCore(e: Entry): void {
    if (e.onCore) return;
    e.onCore = true;
    e.onCoreFrom = this.clock.now();
    this.ledger.change(e.job.cls, 1);
  }

  private offCore(e: Entry): void {
    if (!e.onCore) return;
    e.onCore = false;
    this.ledger.change(e.job.cls, -1);
  }

  private apply(now: Millis, d: MachineDecision, by: number | null): void {
    switch (d.kind) {
      case 'run': {
        const e = this.entries.get(d.job.id);
        if (!e) return;
        this.endWait(e, now);
        this.onCore(e);
        if (!e.started) {
          e.started = true;
          e.startedNow = now;
          this.readCpuSoon();
          this.tell(e, { kind: 'started', job: e.job.id });
          // The job is done for the machine scheduler when the function answers: its core is free
          // then, though the invocation is measured a moment longer (until its instance is parked).
          // A copy with the worker's onAnswer (not a spread with an extra property: V8's slow path).
          const req: Mutable<InvokeRequest> = Object.assign({}, e.req);
          // A streamed response goes to the gateway chunk by chunk, in order, as it comes, and is
          // held while its caller has not taken enough of it (stream-flow.ts).
          if (req.stream === true) {
            let seq = 0;
            const from = this.machine.address, to = gatewayAddress(e.gateway), job = e.job.id;
            const flow = (e.flow = new StreamFlow(this.clock));
            req.onChunk = (chunk, contentType) => {
              const n = seq++;
              this.bus.sendOwned(n === 0 ? { kind: 'stream', from, to, job, seq: n, data: chunk.toString('base64'), contentType } : { kind: 'stream', from, to, job, seq: n, data: chunk.toString('base64') });
              return flow.wrote(chunk.length);
            };
          }
          req.onAnswer = (a) => {
            e.answeredNow = this.clock.now();
            e.answered = answerCargo(a);
            // Its shard first: a caller that calls again once answered finds the room its call left.
            this.left(e);
            this.tell(e, { kind: 'answered', job: e.job.id, result: e.answered });
            this.leave(e);
          };
          this.exec.run(req).then(
            (o) => this.finish(e, o),
            (err: unknown) => this.finish(e, undefined, err),
          );
        } else {
          if (e.lowered) {
            e.lowered = false;
            this.exec.ioWait?.(e.req.requestId, false);
          }
          if (e.paused) {
            e.paused = false;
            this.exec.resume(e.req.requestId);
          }
        }
        break;
      }
      case 'preempt': {
        const e = this.entries.get(d.job.id);
        if (!e) return;
        e.paused = true;
        this.offCore(e);
        this.metrics?.preempted(this.machine.cfg.id, e.job.cls, by ?? undefined);
        const ps = (e.preemptions ??= []);
        if (ps.length < RECEIPT_ENTRIES) ps.push({ atMs: now - e.placedNow, forMs: 0, byClass: by, ends: now - e.placedNow });
        else {
          const last = ps[ps.length - 1] as OpenPreemption;
          last.byClass = by === null ? last.byClass : last.byClass === null ? by : Math.max(last.byClass, by);
          last.ends = now - e.placedNow;
        }
        this.beginWait(e, now, 'preempted');
        this.exec.pause(e.req.requestId);
        this.tell(e, { kind: 'preempted', job: e.job.id });
        this.loop.push({ kind: 'stopped', job: d.job.id, memMB: this.memory?.resident(e.req.requestId) ?? 0 });
        break;
      }
      case 'swap-out':
      case 'swap-in': {
        const e = this.entries.get(d.job.id);
        if (!e) return;
        if (d.kind === 'swap-out') this.exec.swapOut?.(e.req.requestId);
        else this.exec.swapIn?.(e.req.requestId);
        this.metrics?.swapped(this.machine.cfg.id, e.job.cls, d.kind === 'swap-out' ? 'out' : 'in');
        if ((e.swaps ??= []).length < RECEIPT_ENTRIES) e.swaps.push({ atMs: now - e.placedNow, dir: d.kind === 'swap-out' ? 'out' : 'in', mb: d.mb });
        else e.swapsLeftOut++;
        this.bus.sendOwned({ kind: 'swapped', from: this.machine.address, to: gatewayAddress(e.gateway), job: e.job.id, dir: d.kind === 'swap-out' ? 'out' : 'in', mb: d.mb });
        break;
      }
      case 'poll-answer':
      case 'idle-poll':
      case 'idle-join':
      case 'idle-update':
      case 'idle-leave':
      case 'claim':
        this.bus.send(d);
        break;
      default:
        unreachable(d, 'machine decision');
    }
  }

  /** A message about job `e` to the gateway that sent it. */
  private tell(e: Entry, m: { kind: 'accepted' | 'started' | 'preempted' | 'unknown'; job: number } | { kind: 'answered' | 'done'; job: number; result: Cargo }): void {
    const from = this.machine.address, to = gatewayAddress(e.gateway);
    this.bus.sendOwned(m.kind === 'answered' || m.kind === 'done'
      ? { kind: m.kind, from, to, job: m.job, result: m.result }
      : { kind: m.kind, from, to, job: m.job });
  }

  /** The job has left the machine scheduler (once: at the answer, or at the outcome when there was none). */
  private leave(e: Entry): void {
    if (e.gone) return;
    e.gone = true;
    // Its core is free from now (the machine hears it at its next step, which the ledger reaches
    // first), and it waits no more: a job preempted as it answered (its answer already on its way)
    // has left the machine scheduler, which gives its core to others while it is measured.
    const now = this.clock.now();
    this.ledger.advance(now);
    this.offCore(e);
    if (e.waitSnap === undefined && !Number.isNaN(e.waitFrom)) e.waitSnap = this.ledger.snapshot();
    this.endWait(e, now);
    // A block (its own call, or I/O) ends here too: what follows is its measurement, not its run.
    this.endBlock(e, now);
    this.loop.push({ kind: 'complete', job: e.job.id, memMB: this.memory?.resident(e.req.requestId) ?? 0 });
  }

  private finish(e: Entry, o: InvokeOutcome | undefined, err?: unknown): void {
    e.flow?.end();
    this.leave(e);
    this.entries.delete(e.job.id);
    const done = outcomeCargo(o, err, this.receipt(e));
    if (this.acknowledge) this.remember(e, done);
    this.left(e);
    this.tell(e, { kind: 'done', job: e.job.id, result: done });
  }

  /**
   * A job of a function with a concurrency limit tells its shard it has left (once): at its answer,
   * as its core is freed (the instance is measured a moment longer, as for any call), or at its
   * end when it had none.
   */
  private left(e: Entry): void {
    if (!e.capped) return;
    e.capped = false;
    this.bus.sendOwned({ kind: 'left', from: this.machine.address, to: shardAddress(e.shard), job: e.job.id });
  }

  /** The machine's part of the job's receipt, at its end. */
  private receipt(e: Entry): MachineReceipt {
    const now = this.clock.now();
    this.ledger.advance(now);
    if (e.waitSnap === undefined && !Number.isNaN(e.waitFrom)) e.waitSnap = this.ledger.snapshot();
    this.endWait(e, now);
    this.endBlock(e, now);
    const at = (t: number): number | null => (Number.isNaN(t) ? null : t - e.placedNow);
    const cfg = this.machine.cfg;
    return {
      machine: cfg.id,
      cores: cfg.cores,
      shard: e.shard,
      placement: e.via,
      shardWaitMs: e.shardWaitMs,
      placedAt: e.placedAt,
      startedMs: at(e.startedNow),
      answeredMs: at(e.answeredNow),
      doneMs: now - e.placedNow,
      waits: e.waits ?? [],
      preemptions: e.preemptions === undefined ? [] : e.preemptions.map((p) => ({ atMs: p.atMs, forMs: p.forMs, byClass: p.byClass })),
      swaps: e.swaps ?? [],
      swapsLeftOut: e.swapsLeftOut,
      blockedMs: e.blockedMs,
      ioWaitMs: e.ioWaitMs,
    };
  }

  /** A block ends (unblocked, or the job ended): its time counts as I/O or as its own calls. */
  private endBlock(e: Entry, now: number): void {
    if (Number.isNaN(e.blockedFrom)) return;
    if (e.blockedForIo) e.ioWaitMs += now - e.blockedFrom;
    else e.blockedMs += now - e.blockedFrom;
    e.blockedFrom = NaN;
  }

  private remember(e: Entry, done: Cargo): void {
    const bytes = sizeOf(done) + sizeOf(e.answered);
    this.recent.set(e.job.id, { gateway: e.gateway, answered: e.answered, done, bytes });
    this.recentBytes += bytes;
    while (this.recent.size > RECENT_OUTCOMES || this.recentBytes > RECENT_BYTES) {
      const [id, r] = this.recent.entries().next().value as [number, { bytes: number }];
      this.recent.delete(id);
      this.recentBytes -= r.bytes;
    }
  }
}
