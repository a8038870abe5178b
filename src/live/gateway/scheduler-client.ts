// The gateway's side of the protocol: where a job enters the system. It mints the job's id (once,
// for the job's whole life), sends `arrive` with the invocation to the job's shard, and waits for
// the worker's `answered` (the caller can be told) and `done` (the measured outcome). A caller that
// waits for a synchronous call it made gives up its core: `block` to the machine that runs it, and
// `unblock` when its last call ends. Nothing here reads another part's state: it knows what the
// messages told it.

import type { Bus } from '../../core/bus.ts';
import { formatAddress, formatDecisionLine, formatTime, gatewayAddress, machineAddress, shardAddress, STREAM_WINDOW_BYTES, type Address, type CallMsg, type ConcurrencyCap, type GatewayMessage, type Message } from '../../core/protocol.ts';
import type { Job } from '../../core/types.ts';
import { ShardPicker, type ShardChoice } from '../../core/intake.ts';
import type { InvokeOutcome, InvokeRequest, ScheduleReport } from '../types.ts';
import { answerOf, invocationCargo, outcomeOf, receiptOf } from '../cargo.ts';
import type { Clock } from '../transport/clock.ts';
import type { Metrics } from '../metrics.ts';
import { ChurnMap, ChurnSet } from '../../core/util/churn-map.ts';

export interface SchedulerClientOptions {
  /** This gateway's number (job ids are unique across gateways: the number is in their high bits). */
  readonly id: number;
  readonly shards: number;
  /** Which shard queues a job (default `by-function`: the same shard from every gateway). */
  readonly shardChoice?: ShardChoice;
  /** A job's `done` not heard this long after its function's timeout is given up as lost (ms). */
  readonly graceMs?: number;
  /** Each arrival as a line (the conformance suite's decision log). */
  readonly log?: (line: string) => void;
  /**
   * Mints the low part of each job id (below JOB_SEQUENCES; default 1, 2, 3, … from each start).
   * Where workers outlive a gateway and remember jobs by id (a cluster), ids must not repeat across
   * the gateway's restarts: the cluster reserves them in blocks (cluster/job-ids.ts).
   */
  readonly sequence?: () => number;
  /**
   * For a carrier that may lose messages (the cluster's NATS): a job not heard of for this long is
   * checked on — sent again to its shard if no worker has said it has it (the shard and the worker
   * each keep a job once), else its worker is asked (`ask`), which says again where the job is or
   * how it ended, or that it has no trace of it (the job then fails with a clear error). Default
   * Infinity: never (in one process nothing is lost).
   */
  readonly auditMs?: number;
  /** Each job's waiting time (arrival to start) and latency (arrival to answer) are observed, by class. */
  readonly metrics?: Metrics;
}

interface Pending {
  readonly req: InvokeRequest;
  readonly job: Job;
  /** Its function's concurrency limit, when it has one (its shard counts it until it leaves). */
  readonly cap: ConcurrencyCap | undefined;
  /** The shard its `arrive` went to (last). */
  shard: number;
  readonly resolve: (o: InvokeOutcome) => void;
  readonly reject: (e: unknown) => void;
  readonly sentAt: number;
  /** Given up as lost if not done by then. */
  readonly lostAt: number;
  /** Where it runs, once `started` said so. */
  machine: number;
  /** Where it waits or runs, once `accepted` or `started` said so (the cluster's workers tell `accepted`). */
  at: number;
  /** Synchronous calls it has in flight (it is blocked while any is). */
  calls: number;
  /** When a message about it last came (or it was last checked on). */
  heardAt: number;
  /** Its latency has been observed (at its answer). */
  timed: boolean;
  /** When it was heard to start and to answer (NaN: not yet), for its receipt. */
  startedAt: number;
  answeredAt: number;
  /**
   * The `seq` of the next chunk of its streamed response to hand on; -1 once one was missed (the
   * carrier lost it, or a second run began): the stream stops there, and its caller sees fewer
   * chunks than the answer says were sent.
   */
  streamSeq: number;
  /** Bytes of its streamed response its caller has taken, and as many as the last `stream-ack` said. */
  streamTaken: number;
  streamAcked: number;
}

/** Gateways of one system (their numbers 0 … MAX_GATEWAYS − 1 are the high part of job ids). */
export const MAX_GATEWAYS = 2 ** 10;
/** Job ids each gateway may mint: ids stay safe integers (2^10 × 2^43 = 2^53). */
export const JOB_SEQUENCES = 2 ** 43;

export class SchedulerClient {
  readonly address: Address & { readonly part: 'gateway' };
  private readonly pending = new ChurnMap<number, Pending>();
  private readonly byRequest = new ChurnMap<string, number>();
  private seq = 1;
  private readonly next: () => number;
  private readonly base: number;
  private readonly unlisten: () => void;
  private readonly picker: ShardPicker;
  /** When the lost-job sweep runs next (Infinity: not armed). */
  private sweepAt = Infinity;
  private closed = false;
  private auditAt = Infinity;
  private cancelAudit: () => void = () => {};
  /** The shards alive (the cluster's membership); undefined: all of them, picked by `shardChoice`. */
  private live: readonly number[] | undefined;
  private cancelSweep: () => void = () => {};
  /** Calls this gateway took for other gateways' jobs, numbered (`CallMsg.call`). */
  private calls = 0;
  /** Calls other gateways took for this gateway's jobs, by `<gateway>:<call>`, with their ends. */
  private readonly remoteEnds = new ChurnMap<string, { caller: string; end: () => void }>();
  /** `call-end`s that came before their `call` (bounded). */
  private readonly endedEarly = new ChurnSet<string>();

  constructor(private readonly bus: Bus, private readonly clock: Clock, private readonly opts: SchedulerClientOptions) {
    this.picker = new ShardPicker(opts.shards, opts.shardChoice ?? 'by-function');
    if (!Number.isInteger(opts.id) || opts.id < 0 || opts.id >= MAX_GATEWAYS) throw new RangeError(`gateway id must be 0 to ${MAX_GATEWAYS - 1}, got ${opts.id}`);
    this.address = gatewayAddress(opts.id);
    this.base = opts.id * JOB_SEQUENCES;
    this.next = opts.sequence ?? (() => this.seq++);
    this.unlisten = bus.listen(this.address, (m) => this.receive(m as GatewayMessage));
  }

  /** Jobs sent and not yet done. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends the invocation into the system as job `fn`'s; resolves with its outcome. With `cap`, its
   * function's concurrency limit: a job its shard refuses (the limit is reached) rejects with code
   * FARE_E_CONCURRENCY_LIMIT.
   */
  invoke(req: InvokeRequest, fn: number, cap?: ConcurrencyCap): Promise<InvokeOutcome> {
    if (this.closed) return Promise.reject(Object.assign(new Error('Fare is shutting down'), { code: 'FARE_E_CLOSED' }));
    return new Promise<InvokeOutcome>((resolve, reject) => {
      const now = this.clock.now();
      const id = this.base + this.next();
      const job: Job = { id, cls: req.cls, arrival: now, fn };
      const lostAt = now + req.fn.timeoutMs + (this.opts.graceMs ?? 60_000);
      if (this.live?.length === 0) {
        reject(Object.assign(new Error('no scheduler shard is alive: none has been heard of within the membership timeout; start fare shard processes (or wait for them to come back)'), { code: 'FARE_E_NO_SHARD' }));
        return;
      }
      const shard = this.live === undefined ? this.picker.pick(fn) : ShardPicker.pickLive(fn, this.live);
      this.pending.set(id, { req, job, cap, shard, resolve, reject, sentAt: now, lostAt, machine: -1, at: -1, calls: 0, heardAt: now, timed: false, startedAt: NaN, answeredAt: NaN, streamSeq: 0, streamTaken: 0, streamAcked: 0 });
      if (this.auditAt === Infinity && this.opts.auditMs !== undefined && this.opts.auditMs !== Infinity) this.armAudit(now + this.opts.auditMs);
      if (lostAt < this.sweepAt) this.armSweep(lostAt);
      this.byRequest.set(req.requestId, id);
      this.sendArrive(job, shard, req, cap);
    });
  }

  private sendArrive(job: Job, shard: number, req: InvokeRequest, cap: ConcurrencyCap | undefined): void {
    const msg: Message = cap === undefined
      ? { kind: 'arrive', from: this.address, to: shardAddress(shard), job, cargo: invocationCargo(this.opts.id, req) }
      : { kind: 'arrive', from: this.address, to: shardAddress(shard), job, cap, cargo: invocationCargo(this.opts.id, req) };
    this.opts.log?.(`t=${formatTime(this.clock.now())} ${formatDecisionLine(this.address, msg)} cls=${job.cls}`);
    this.bus.sendOwned(msg);
  }

  /**
   * The shards alive now (the cluster's membership). A job sent to a shard that is gone, and not yet
   * started on a worker, is sent again to its function's shard among the live ones (it keeps its id
   * and its place in time). The gone shard may have placed it just before it died (a window of one
   * message's travel): the job then runs twice, and the first outcome heard is the one kept.
   */
  shardsAre(live: readonly number[]): void {
    this.live = [...live];
    if (live.length === 0) return;
    const alive = new Set(live);
    for (const p of this.pending.values()) {
      if (p.at >= 0 || alive.has(p.shard)) continue;
      p.shard = ShardPicker.pickLive(p.job.fn, this.live);
      this.sendArrive(p.job, p.shard, p.req, p.cap);
    }
  }

  /**
   * Worker `m` is gone (not heard within the membership timeout, or restarted): the jobs it had
   * accepted or started fail now with a clear error, instead of when their timeout runs out. An Event invocation
   * is then tried again (the async runner treats it as the platform's failure, not the function's).
   */
  machineLost(m: number, why: string): void {
    for (const [id, p] of [...this.pending]) {
      if (p.at !== m) continue;
      this.forget(id);
      this.release(id, p);
      p.reject(Object.assign(new Error(`invocation ${p.req.requestId} was ${p.machine >= 0 ? 'running' : 'waiting for a core'} on worker ${m}, which ${why}; ${p.machine >= 0 ? 'it may or may not have finished there, and its answer is lost' : 'it had not started'} — call it again if that is safe`), { code: 'FARE_E_WORKER_LOST' }));
    }
  }

  /**
   * Invocation `requestId` has called another function synchronously and waits for it: it gives up
   * its core while any such call is in flight. Returns the call's end. A job another gateway sent
   * (`gateway`, its context shown here) is blocked by that gateway, told of the call and its end.
   */
  callStarted(requestId: string, gateway?: number): () => void {
    if (gateway !== undefined && gateway !== this.opts.id) return this.remoteCall(requestId, gateway);
    const id = this.byRequest.get(requestId);
    const p = id === undefined ? undefined : this.pending.get(id);
    if (id === undefined || p === undefined) return () => {};
    if (p.calls++ === 0 && p.machine >= 0) this.bus.sendOwned({ kind: 'block', from: this.address, to: machineAddress(p.machine), job: id });
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      // The caller may have ended meanwhile (its timeout); then there is nothing to unblock.
      if (this.pending.get(id) !== p) return;
      if (--p.calls === 0 && p.machine >= 0) this.bus.sendOwned({ kind: 'unblock', from: this.address, to: machineAddress(p.machine), job: id });
    };
  }

  /** A call by gateway `gateway`'s job `caller`: that gateway is told it began, and when it ends. */
  private remoteCall(caller: string, gateway: number): () => void {
    const call = this.calls++;
    const to = gatewayAddress(gateway);
    this.bus.sendOwned({ kind: 'call', from: this.address, to, caller, call });
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.bus.sendOwned({ kind: 'call-end', from: this.address, to, caller, call });
    };
  }

  /** Another gateway says a call by one of this gateway's jobs began or ended (see `callStarted`). */
  private remote(m: CallMsg): void {
    const key = `${m.from.id}:${m.call}`;
    if (m.kind === 'call') {
      // A call that ended before its start arrived (messages may overtake) is not begun.
      if (this.endedEarly.delete(key)) return;
      this.remoteEnds.set(key, { caller: m.caller, end: this.callStarted(m.caller) });
      return;
    }
    const r = this.remoteEnds.get(key);
    if (r === undefined) {
      this.endedEarly.add(key);
      if (this.endedEarly.size > 1024) this.endedEarly.delete(this.endedEarly.values().next().value as string);
      return;
    }
    this.remoteEnds.delete(key);
    r.end();
  }

  close(): void {
    this.closed = true;
    this.unlisten();
    this.cancelSweep();
    this.cancelAudit();
    this.auditAt = Infinity;
    this.sweepAt = Infinity;
    for (const [id, p] of [...this.pending]) {
      this.forget(id);
      p.reject(Object.assign(new Error('Fare is shutting down'), { code: 'FARE_E_CLOSED' }));
    }
  }

  private receive(msg: GatewayMessage): void {
    if (msg.kind === 'call' || msg.kind === 'call-end') {
      this.remote(msg);
      return;
    }
    // (A member whose kind is a union is not narrowed away by comparing its kind.)
    const m = msg as Exclude<GatewayMessage, CallMsg>;
    const p = this.pending.get(m.job);
    if (p === undefined) return; // late news of a job given up, or a duplicate
    p.heardAt = this.clock.now();
    switch (m.kind) {
      case 'unknown':
        // Asked about a job it had accepted, the worker has no trace of it (lost with a message, or
        // the worker restarted before its membership timeout passed).
        if (m.from.id !== p.at) return;
        this.forget(m.job);
        this.release(m.job, p);
        p.reject(Object.assign(new Error(`invocation ${p.req.requestId} was placed on worker ${m.from.id}, which has no trace of it any more (a message was lost, or the worker restarted); it may or may not have run — call it again if that is safe`), { code: 'FARE_E_LOST' }));
        break;
      case 'refused':
        // Its function is at its concurrency limit: the shard did not take it.
        this.forget(m.job);
        p.reject(Object.assign(new Error(`function ${p.req.fn.tenant}/${p.req.fn.name} is at its concurrency limit (${m.limit} at once): the call was not run`), { code: 'FARE_E_CONCURRENCY_LIMIT', limit: m.limit }));
        break;
      case 'accepted':
        if (p.at < 0) p.at = m.from.id;
        break;
      case 'started':
        // A duplicate, or a second run after a shard was lost (see shardsAre): the first is followed.
        if (p.machine >= 0) return;
        p.machine = m.from.id;
        p.at = m.from.id;
        p.startedAt = p.heardAt;
        this.opts.metrics?.started(p.job.cls, (p.heardAt - p.sentAt) / 1000);
        // A call made before the caller was known to run: block it now.
        if (p.calls > 0) this.bus.sendOwned({ kind: 'block', from: this.address, to: machineAddress(p.machine), job: m.job });
        break;
      case 'preempted':
      case 'swapped':
        break;
      case 'stream':
        // In order, from the machine that runs it, or not at all.
        if (p.streamSeq < 0 || m.from.id !== p.machine || m.seq < p.streamSeq) return; // a duplicate: handed on already
        if (m.seq > p.streamSeq) {
          p.streamSeq = -1;
          return;
        }
        p.streamSeq++;
        this.handOn(p, m.from.id, Buffer.from(m.data, 'base64'), m.contentType ?? 'application/octet-stream');
        break;
      case 'answered':
        if (Number.isNaN(p.answeredAt)) p.answeredAt = p.heardAt;
        this.timed(p);
        if (m.result !== undefined) p.req.onAnswer?.(answerOf(m.result));
        break;
      case 'done': {
        this.forget(m.job);
        // Its worker told the shard it left (at the answer); said again, should that message be lost.
        this.release(m.job, p);
        this.timed(p);
        let o: InvokeOutcome;
        try {
          o = outcomeOf(m.result);
        } catch (e) {
          p.reject(e);
          return;
        }
        const since = (t: number): number | null => (Number.isNaN(t) ? null : t - p.sentAt);
        (o as { schedule?: ScheduleReport }).schedule = { gateway: this.opts.id, shard: p.shard, startedMs: since(p.startedAt), answeredMs: since(p.answeredAt), doneMs: p.heardAt - p.sentAt, machine: receiptOf(m.result) ?? null };
        p.resolve(o);
        break;
      }
      default: {
        const never: never = m;
        throw new Error(`gateway ${formatAddress(this.address)}: unexpected ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Hands a chunk of a streamed response to its caller, and tells the machine how much its caller
   * has taken (`stream-ack`, protocol.ts): every quarter window, and whenever a slow reader caught up.
   */
  private handOn(p: Pending, machine: number, chunk: Buffer, contentType: string): void {
    const held = p.req.onChunk?.(chunk, contentType);
    if (held === undefined) {
      p.streamTaken += chunk.length;
      this.ackStream(p, machine, false);
      return;
    }
    const taken = (): void => {
      p.streamTaken += chunk.length;
      this.ackStream(p, machine, true);
    };
    held.then(taken, taken);
  }

  private ackStream(p: Pending, machine: number, caughtUp: boolean): void {
    const news = p.streamTaken - p.streamAcked;
    if (news <= 0 || (!caughtUp && news < STREAM_WINDOW_BYTES / 4) || p.streamSeq < 0) return;
    p.streamAcked = p.streamTaken;
    this.bus.sendOwned({ kind: 'stream-ack', from: this.address, to: machineAddress(machine), job: p.job.id, bytes: p.streamTaken });
  }

  /** The job's latency, observed once: at its answer, or at its end when it had none. */
  private timed(p: Pending): void {
    if (p.timed) return;
    p.timed = true;
    this.opts.metrics?.answered(p.job.cls, (p.heardAt - p.sentAt) / 1000);
  }

  /** Checks on the jobs not heard of for `auditMs` (see SchedulerClientOptions.auditMs), every `auditMs`. */
  private armAudit(at: number): void {
    const every = this.opts.auditMs as number;
    this.auditAt = at;
    this.cancelAudit = this.clock.at(at, () => {
      this.auditAt = Infinity;
      this.cancelAudit = () => {};
      const now = this.clock.now();
      for (const [id, p] of this.pending) {
        if (now - p.heardAt < every) continue;
        p.heardAt = now;
        if (p.at < 0) {
          if (this.live?.length === 0) continue;
          p.shard = this.live === undefined ? p.shard : ShardPicker.pickLive(p.job.fn, this.live);
          this.sendArrive(p.job, p.shard, p.req, p.cap);
        } else {
          this.bus.sendOwned({ kind: 'ask', from: this.address, to: machineAddress(p.at), job: id });
        }
      }
      if (this.pending.size > 0) this.armAudit(now + every);
    });
  }

  /** One timer for all jobs in flight, at the first moment one of them is to be given up as lost. */
  private armSweep(at: number): void {
    this.cancelSweep();
    this.sweepAt = at;
    this.cancelSweep = this.clock.at(at, () => {
      this.sweepAt = Infinity;
      this.cancelSweep = () => {};
      const now = this.clock.now();
      let next = Infinity;
      for (const [id, p] of [...this.pending]) {
        if (p.lostAt > now) {
          next = Math.min(next, p.lostAt);
          continue;
        }
        this.forget(id);
        this.release(id, p);
        p.reject(Object.assign(new Error(`invocation ${p.req.requestId} (job ${id}) was not heard of within ${Math.round(p.lostAt - p.sentAt)} ms: its worker may have died`), { code: 'FARE_E_LOST' }));
      }
      if (next !== Infinity) this.armSweep(next);
    });
  }

  /**
   * A job of a limited function ended, or was given up without hearing its end: its shard counts it
   * no more (whichever of this and its machine's `left` comes second changes nothing).
   */
  private release(id: number, p: Pending): void {
    if (p.cap !== undefined) this.bus.sendOwned({ kind: 'release', from: this.address, to: shardAddress(p.shard), job: id });
  }

  private forget(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    this.pending.delete(id);
    this.byRequest.delete(p.req.requestId);
    // Calls other gateways told of and never said ended (a gateway lost) end with their caller.
    if (p.calls > 0 && this.remoteEnds.size > 0) for (const [k, r] of this.remoteEnds) if (r.caller === p.req.requestId) this.remoteEnds.delete(k);
    return p;
  }
}
