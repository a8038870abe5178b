// The worker's machine scheduler, live: the core Machine (preemptive priority by class, FCFS within a
// class) driven in real time behind one address on the Bus. Placements, polls and block / unblock
// arrive as messages; what the worker itself learns (an invocation answered, a preempted instance
// stopped) goes into the same step loop. Its decisions are carried out on real instances through an
// Executor — run starts or resumes an invocation, preempt freezes it — or sent as messages (poll
// answers, idle-list changes); the gateway that sent a job hears `started`, `answered` and `done`.

import type { Job, Millis, Mutable } from '../../core/types.ts';
import { unreachable } from '../../core/types.ts';
import type { Bus } from '../../core/bus.ts';
import { formatDecisionLine, formatTime, gatewayAddress, type Cargo, type MachineMessage } from '../../core/protocol.ts';
import type { Machine, MachineDecision, MachineInput } from '../../core/machine/machine.ts';
import type { InvokeOutcome, InvokeRequest } from '../types.ts';
import { answerCargo, outcomeCargo, requestOf } from '../cargo.ts';
import type { Clock } from '../transport/clock.ts';
import { StepLoop } from '../transport/step-loop.ts';
import type { Metrics } from '../metrics.ts';

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
}

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
  blocked: boolean;
  /** The job has left the machine scheduler (answered, or ended without an answer). */
  gone: boolean;
  /** The function's answer, once given (kept to say again). */
  answered?: Cargo;
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
  private readonly entries = new Map<number, Entry>();
  /** The last `done` (and `answered`) of recently finished jobs, oldest first. */
  private readonly recent = new Map<number, { gateway: number; answered: Cargo | undefined; done: Cargo; bytes: number }>();
  private recentBytes = 0;
  private readonly loop: StepLoop<MachineInput>;
  private readonly unlisten: () => void;

  constructor(
    private readonly machine: Machine,
    private readonly exec: Executor,
    private readonly bus: Bus,
    clock: Clock,
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
    /** Preemptions (suffered and caused) and class-based swapping are counted. */
    private readonly metrics?: Metrics,
  ) {
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
  }

  private receive(m: MachineMessage): void {
    switch (m.kind) {
      case 'place': {
        if (m.cargo === undefined) throw new Error(`worker ${this.machine.cfg.id}: job ${m.job.id} was placed without its invocation`);
        // Placed again (its gateway sent it again after a lost message): it runs once; say where it is.
        if (this.entries.has(m.job.id) || this.recent.has(m.job.id)) {
          this.ask(m.job.id, undefined);
          return;
        }
        const { gateway, req } = requestOf(m.cargo, m.job.cls);
        const job: Job = { id: m.job.id, cls: m.job.cls, arrival: m.job.arrival, fn: m.job.fn };
        const e: Entry = { job, req, gateway, started: false, paused: false, blocked: false, gone: false };
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
        this.loop.push(m);
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
    mc.step(now, input);
    // Carrying a decision out never steps the machine (what it learns goes into the loop's inbox),
    // so the machine's own decision objects are read in place, then forgotten.
    const ds = mc.ready();
    for (const d of ds) {
      this.log?.(`t=${formatTime(now)} ${formatDecisionLine(mc.address, d)}`);
      this.apply(d);
    }
    if (this.metrics !== undefined) this.countPreemptions(ds);
    mc.advance();
  }

  /** A step's preemptions, each caused by the highest class among the jobs the same step ran. */
  private countPreemptions(ds: readonly MachineDecision[]): void {
    let by = Infinity;
    let any = false;
    for (const d of ds) {
      if (d.kind === 'run') by = Math.min(by, d.job.cls);
      else if (d.kind === 'preempt') any = true;
    }
    if (!any) return;
    for (const d of ds) if (d.kind === 'preempt') this.metrics?.preempted(this.machine.cfg.id, d.job.cls, by === Infinity ? undefined : by);
  }

  private apply(d: MachineDecision): void {
    switch (d.kind) {
      case 'run': {
        const e = this.entries.get(d.job.id);
        if (!e) return;
        if (!e.started) {
          e.started = true;
          this.tell(e, { kind: 'started', job: e.job.id });
          // The job is done for the machine scheduler when the function answers: its core is free
          // then, though the invocation is measured a moment longer (until its instance is parked).
          // A copy with the worker's onAnswer (not a spread with an extra property: V8's slow path).
          const req: Mutable<InvokeRequest> = Object.assign({}, e.req);
          req.onAnswer = (a) => {
            e.answered = answerCargo(a);
            this.tell(e, { kind: 'answered', job: e.job.id, result: e.answered });
            this.leave(e);
          };
          this.exec.run(req).then(
            (o) => this.finish(e, o),
            (err: unknown) => this.finish(e, undefined, err),
          );
        } else if (e.paused) {
          e.paused = false;
          this.exec.resume(e.req.requestId);
        }
        break;
      }
      case 'preempt': {
        const e = this.entries.get(d.job.id);
        if (!e) return;
        e.paused = true;
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
    this.loop.push({ kind: 'complete', job: e.job.id, memMB: this.memory?.resident(e.req.requestId) ?? 0 });
  }

  private finish(e: Entry, o: InvokeOutcome | undefined, err?: unknown): void {
    this.leave(e);
    this.entries.delete(e.job.id);
    const done = outcomeCargo(o, err);
    if (this.acknowledge) this.remember(e, done);
    this.tell(e, { kind: 'done', job: e.job.id, result: done });
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
