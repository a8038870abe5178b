// The instances of a conformance run, faked in virtual time: each invocation runs its scripted work
// while not paused — on a core of its own, or under processor sharing (`shared`: n running jobs
// share the cores at rate min(1, cores / n), as the simulator's hardware does) — answers when the
// work is done, and holds its scripted memory from placement to its end (none while swapped out).
// The worker's Executor and MemoryProbe.

import type { Executor, MemoryProbe } from '../../src/live/worker/machine-driver.ts';
import type { VirtualClock } from '../../src/live/transport/clock.ts';
import type { InvokeOutcome, InvokeRequest } from '../../src/live/types.ts';

interface Run {
  readonly runtime: number;
  readonly memMB: number;
  done: number;
  segStart: number;
  running: boolean;
  placed: boolean;
  swapped: boolean;
  cancel: () => void;
  req?: InvokeRequest;
  resolve?: (o: InvokeOutcome) => void;
}

export class FakeInstances implements Executor, MemoryProbe {
  private readonly runs = new Map<string, Run>();
  /** Running now (under processor sharing, their rate depends on how many). */
  private readonly active = new Set<Run>();

  /** `work(requestId)`: the scripted runtime and memory of an invocation. */
  constructor(
    private readonly clock: VirtualClock,
    private readonly work: (requestId: string) => { runtime: number; memMB: number },
    private readonly sharing?: { readonly cores: number },
  ) {}

  placed(req: InvokeRequest): number {
    const w = this.work(req.requestId);
    this.runs.set(req.requestId, { runtime: w.runtime, memMB: w.memMB, done: 0, segStart: 0, running: false, placed: true, swapped: false, cancel: () => {} });
    return w.memMB;
  }

  resident(requestId: string): number {
    return this.runs.get(requestId)?.memMB ?? 0;
  }

  used(): number {
    let mb = 0;
    for (const r of this.runs.values()) if (r.placed && !r.swapped) mb += r.memMB;
    return mb;
  }

  run(req: InvokeRequest): Promise<InvokeOutcome> {
    // Without memory management the worker does not report placements: the run is the first news.
    if (!this.runs.has(req.requestId)) this.placed(req);
    const r = this.runs.get(req.requestId) as Run;
    r.req = req;
    return new Promise<InvokeOutcome>((resolve) => {
      r.resolve = resolve;
      this.start(r);
    });
  }

  pause(requestId: string): void {
    const r = this.runs.get(requestId);
    if (r === undefined || !r.running) return;
    this.progress();
    r.cancel();
    r.running = false;
    this.active.delete(r);
    this.rearm();
  }

  resume(requestId: string): void {
    const r = this.runs.get(requestId);
    if (r !== undefined && !r.running) this.start(r);
  }

  swapOut(requestId: string): void {
    const r = this.runs.get(requestId);
    if (r !== undefined) r.swapped = true;
  }

  swapIn(requestId: string): void {
    const r = this.runs.get(requestId);
    if (r !== undefined) r.swapped = false;
  }

  /** Work done by every running job up to now, at the rate they ran. */
  private progress(): void {
    const now = this.clock.now();
    const rate = this.rate();
    for (const x of this.active) {
      x.done += (now - x.segStart) * rate;
      x.segStart = now;
    }
  }

  private rate(): number {
    return this.sharing === undefined ? 1 : Math.min(1, this.sharing.cores / Math.max(1, this.active.size));
  }

  /** Under processor sharing, the rate changed: every running job's end moves. */
  private rearm(): void {
    if (this.sharing === undefined) return;
    for (const x of this.active) {
      x.cancel();
      this.arm(x);
    }
  }

  private start(r: Run): void {
    this.progress();
    r.running = true;
    r.segStart = this.clock.now();
    this.active.add(r);
    if (this.sharing === undefined) this.arm(r);
    else this.rearm();
  }

  private arm(r: Run): void {
    r.cancel = this.clock.at(r.segStart + (r.runtime - r.done) / this.rate(), () => {
      this.progress();
      r.running = false;
      this.active.delete(r);
      r.done = r.runtime;
      this.rearm();
      const req = r.req as InvokeRequest;
      // Answered: its memory is freed with the answer, as the simulator frees it at completion (its
      // size stays known: the worker reports what the job frees).
      r.placed = false;
      const payload = Buffer.from('null');
      req.onAnswer?.({ status: 'ok', payload });
      r.resolve?.({ status: 'ok', payload, durationMs: r.runtime, cpuMs: r.runtime, memGBs: 0, maxMemMB: r.memMB, coldStart: false, initMs: 0, logs: '' });
    });
  }
}
