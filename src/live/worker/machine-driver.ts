// The worker's machine scheduler, live: the core Machine (preemptive priority by class, FCFS within a
// class) driven in real time. Placed invocations are its inputs; its decisions are carried out on real
// instances through an Executor — run starts or resumes an invocation, preempt freezes it.

import type { Job, Millis } from '../../core/types.ts';
import { unreachable } from '../../core/types.ts';
import type { Machine, MachineDecision, MachineInput } from '../../core/machine/machine.ts';
import type { InvokeOutcome, InvokeRequest } from '../types.ts';

/** What the machine scheduler needs from the instances: mechanism, no policy. */
export interface Executor {
  /** Runs the invocation to its end (cold-starting an instance if needed). */
  run(req: InvokeRequest): Promise<InvokeOutcome>;
  /** Preemption: stop the invocation's instance from using the CPU (freezer or SIGSTOP). */
  pause(requestId: string): void;
  /** Let a paused invocation continue. */
  resume(requestId: string): void;
}

interface Entry {
  readonly job: Job;
  readonly req: InvokeRequest;
  started: boolean;
  paused: boolean;
  readonly done: (o: InvokeOutcome) => void;
  readonly fail: (e: unknown) => void;
}

export class MachineDriver {
  private readonly entries = new Map<number, Entry>();
  private readonly byRequest = new Map<string, Entry>();
  /** Synchronous calls in flight per caller (request id): the caller is blocked while any is. */
  private readonly calls = new Map<string, number>();
  private nextJob = 1;

  constructor(private readonly machine: Machine, private readonly exec: Executor, private readonly clock: () => Millis) {}

  /** Jobs on this machine (running or waiting): the answer to a shard's poll. */
  get jobs(): number {
    return this.machine.jobs;
  }

  /** An invocation placed on this machine; resolves with its outcome. */
  submit(req: InvokeRequest, arrival: Millis, fn: number): Promise<InvokeOutcome> {
    return new Promise<InvokeOutcome>((done, fail) => {
      const job: Job = { id: this.nextJob++, cls: req.cls, arrival, fn };
      const e: Entry = { job, req, started: false, paused: false, done, fail };
      this.entries.set(job.id, e);
      this.byRequest.set(req.requestId, e);
      this.step({ kind: 'arrive', job, memMB: 0 });
    });
  }

  /**
   * Invocation `requestId`, if it is on this machine, has called another function synchronously and
   * waits for it: it gives up its core while any such call is in flight (see the core's `block`).
   * Returns the function that ends the call.
   */
  callStarted(requestId: string): () => void {
    const e = this.byRequest.get(requestId);
    if (!e) return () => {};
    const n = this.calls.get(requestId) ?? 0;
    this.calls.set(requestId, n + 1);
    if (n === 0) this.step({ kind: 'block', job: e.job.id });
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.calls.get(requestId) ?? 1) - 1;
      if (left > 0) {
        this.calls.set(requestId, left);
        return;
      }
      this.calls.delete(requestId);
      // The caller may have ended meanwhile (its timeout); then there is nothing to unblock.
      if (this.byRequest.get(requestId) === e) this.step({ kind: 'unblock', job: e.job.id });
    };
  }

  private step(input: MachineInput): void {
    this.machine.step(this.clock(), input);
    // Copies: the decision objects are the machine's and are reused after its advance(), and
    // carrying one out may step the machine again.
    const ds = this.machine.ready().map((d) => ({ ...d }));
    this.machine.advance();
    for (const d of ds) this.apply(d);
  }

  private apply(d: MachineDecision): void {
    switch (d.kind) {
      case 'run': {
        const e = this.entries.get(d.job.id);
        if (!e) return;
        if (!e.started) {
          e.started = true;
          // The job is done for the machine scheduler when the function answers: its core is free
          // then, though the invocation is measured a moment longer (until its instance is parked).
          const onAnswer = e.req.onAnswer;
          const req: InvokeRequest = { ...e.req, onAnswer: (a) => {
            this.complete(e);
            onAnswer?.(a);
          } };
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
        this.step({ kind: 'stopped', job: d.job.id, memMB: 0 });
        break;
      }
      case 'swap-out':
      case 'swap-in':
      case 'poll-shards':
      case 'idle-join':
      case 'idle-update':
      case 'idle-leave':
        // One machine with its memory unmanaged: no swapping and no idle list yet.
        break;
      default:
        unreachable(d, 'machine decision');
    }
  }

  /** The job has ended for the machine scheduler (once: at the answer, or at the outcome when there was none). */
  private complete(e: Entry): void {
    if (this.entries.get(e.job.id) !== e) return;
    this.entries.delete(e.job.id);
    this.byRequest.delete(e.req.requestId);
    this.calls.delete(e.req.requestId);
    this.step({ kind: 'complete', job: e.job.id, memMB: 0 });
  }

  private finish(e: Entry, o: InvokeOutcome | undefined, err?: unknown): void {
    this.complete(e);
    if (o) e.done(o);
    else e.fail(err);
  }
}
