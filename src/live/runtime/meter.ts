// Measurement of one invocation: CPU time (a counter read at start and end) and memory integrated
// over time (sampled every ~10 ms while the invocation runs, trapezoid rule, peak kept), plus a
// bounded tail of what the instance printed.

import { performance } from 'node:perf_hooks';

/** Where an instance's counters come from: its cgroups, else /proc (see instance.ts). */
export interface Probe {
  /** Cumulative CPU time of the instance (ns). */
  cpuNs(): number;
  /** Memory in use now (bytes). */
  memBytes(): number;
}

export interface Measured {
  readonly cpuMs: number;
  readonly memGBs: number;
  readonly maxMemMB: number;
  readonly durationMs: number;
}

const GB = 1024 ** 3;
const MB = 1024 ** 2;

export class InvocationMeter {
  private readonly t0: number;
  private readonly cpu0: number;
  /** Highest CPU counter seen: a /proc sum can drop when a process exits. */
  private cpuMax: number;
  private lastT: number;
  private lastMem: number;
  private byteMs = 0;
  private peak: number;
  private timer: NodeJS.Timeout | null;
  private result: Measured | null = null;

  constructor(
    private readonly probe: Probe,
    intervalMs: number,
    /** Also sample CPU on every tick (for /proc accounting, whose sum loses exited processes). */
    private readonly sampleCpu: boolean,
  ) {
    this.t0 = performance.now();
    this.cpu0 = safe(() => probe.cpuNs());
    this.cpuMax = this.cpu0;
    this.lastT = this.t0;
    this.lastMem = safe(() => probe.memBytes());
    this.peak = this.lastMem;
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const t = performance.now();
    const m = safe(() => this.probe.memBytes(), this.lastMem);
    this.byteMs += ((this.lastMem + m) / 2) * (t - this.lastT);
    this.lastT = t;
    this.lastMem = m;
    if (m > this.peak) this.peak = m;
    if (this.sampleCpu) this.cpuMax = Math.max(this.cpuMax, safe(() => this.probe.cpuNs(), this.cpuMax));
  }

  /** Ends the measurement (idempotent: the first call's numbers stand). */
  stop(): Measured {
    if (this.result) return this.result;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    this.cpuMax = Math.max(this.cpuMax, safe(() => this.probe.cpuNs(), this.cpuMax));
    this.result = {
      cpuMs: Math.max(0, this.cpuMax - this.cpu0) / 1e6,
      memGBs: this.byteMs / 1000 / GB,
      maxMemMB: this.peak / MB,
      durationMs: this.lastT - this.t0,
    };
    return this.result;
  }
}

function safe(f: () => number, dflt = 0): number {
  try {
    const v = f();
    return Number.isFinite(v) ? v : dflt;
  } catch {
    return dflt;
  }
}

/** The last `max` bytes written, decoded as UTF-8 when read. */
export class LogTail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private dropped = false;

  constructor(private readonly max: number) {}

  push(b: Buffer): void {
    if (b.length >= this.max) {
      this.chunks = [b.subarray(b.length - this.max)];
      this.dropped ||= b.length > this.max || this.bytes > 0;
      this.bytes = this.max;
      return;
    }
    this.chunks.push(b);
    this.bytes += b.length;
    while (this.bytes > this.max) {
      const first = this.chunks[0];
      if (!first) break;
      const over = this.bytes - this.max;
      if (first.length <= over) {
        this.chunks.shift();
        this.bytes -= first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.bytes -= over;
      }
      this.dropped = true;
    }
  }

  /** The tail so far, then starts empty. */
  take(): string {
    const s = this.text();
    this.chunks = [];
    this.bytes = 0;
    this.dropped = false;
    return s;
  }

  text(): string {
    const s = Buffer.concat(this.chunks, this.bytes).toString('utf8');
    return this.dropped ? `[…]${s.replace(/^\uFFFD+/, '')}` : s;
  }
}
