// Measurement of one invocation: CPU time (a counter read at start and end) and memory integrated
// over time (sampled every ~10 ms while the invocation runs, trapezoid rule, peak kept), plus a
// bounded tail of what the instance printed.

import { performance } from 'node:perf_hooks';
import { omittedLine } from '../types.ts';

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
  private answeredAt: number | null = null;
  private result: Measured | null = null;

  constructor(
    private readonly probe: Probe,
    intervalMs: number,
    /** Also sample CPU on every tick (for /proc accounting, whose sum loses exited processes). */
    private readonly sampleCpu: boolean,
    /** The CPU counter read just now by the caller (the instance's last measurement ended with it), if it was. */
    cpuNow?: number,
    /** Memory read by the caller within the last sampling interval, if it was: as good as a reading now. */
    memRecent?: number,
  ) {
    this.t0 = performance.now();
    this.cpu0 = cpuNow !== undefined && Number.isFinite(cpuNow) ? cpuNow : safe(() => probe.cpuNs());
    this.cpuMax = this.cpu0;
    this.lastT = this.t0;
    this.lastMem = memRecent !== undefined && Number.isFinite(memRecent) ? memRecent : safe(() => probe.memBytes());
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

  /**
   * The function answered: memory integration and the duration end here (memory is billed for the
   * time the function worked, as Lambda bills duration); CPU is counted on until `stop()`.
   */
  answered(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.sample();
    this.answeredAt = this.lastT;
  }

  /** Reads the CPU counter now (before the instance is killed: once its cgroup is gone, nothing can be read). */
  readCpu(): void {
    if (this.result) return;
    this.cpuMax = Math.max(this.cpuMax, safe(() => this.probe.cpuNs(), this.cpuMax));
  }

  /**
   * Ends the measurement (idempotent: the first call's numbers stand): CPU until now, memory until
   * `answered()`. `cpuNow`: the CPU counter read just now by the caller, if it was.
   */
  stop(cpuNow?: number): Measured {
    if (this.result) return this.result;
    this.answered();
    const cpu = cpuNow !== undefined && Number.isFinite(cpuNow) ? cpuNow : safe(() => this.probe.cpuNs(), this.cpuMax);
    this.cpuMax = Math.max(this.cpuMax, cpu);
    this.result = {
      cpuMs: Math.max(0, this.cpuMax - this.cpu0) / 1e6,
      memGBs: this.byteMs / 1000 / GB,
      maxMemMB: this.peak / MB,
      durationMs: (this.answeredAt ?? this.lastT) - this.t0,
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

/**
 * At most `max` bytes of what an instance printed: everything while it fits; past that, its first
 * `headBytes` and its last `max - headBytes` bytes (where a crash or an error usually is), decoded
 * as UTF-8 when read, with a line in between saying how many bytes were left out.
 */
export class LogTail {
  private head: Buffer[] = [];
  private headLen = 0;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private dropped = 0;
  private readonly headMax: number;
  private readonly tailMax: number;

  /** `headBytes`: how much of the beginning to keep (default 0: only the end). */
  constructor(max: number, headBytes = 0) {
    this.headMax = Math.min(Math.max(0, headBytes), max);
    this.tailMax = max - this.headMax;
  }

  /** Bytes left out so far. */
  get omitted(): number {
    return this.dropped;
  }

  push(b: Buffer): void {
    if (this.headLen < this.headMax) {
      const take = Math.min(b.length, this.headMax - this.headLen);
      this.head.push(b.subarray(0, take));
      this.headLen += take;
      b = b.subarray(take);
      if (b.length === 0) return;
    }
    if (b.length >= this.tailMax) {
      this.dropped += this.bytes + b.length - this.tailMax;
      this.chunks = this.tailMax > 0 ? [b.subarray(b.length - this.tailMax)] : [];
      this.bytes = this.tailMax;
      return;
    }
    this.chunks.push(b);
    this.bytes += b.length;
    while (this.bytes > this.tailMax) {
      const first = this.chunks[0];
      if (!first) break;
      const over = this.bytes - this.tailMax;
      if (first.length <= over) {
        this.chunks.shift();
        this.bytes -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.bytes -= over;
        this.dropped += over;
      }
    }
  }

  /** What was kept so far, then starts empty. */
  take(): string {
    const s = this.text();
    this.head = [];
    this.headLen = 0;
    this.chunks = [];
    this.bytes = 0;
    this.dropped = 0;
    return s;
  }

  text(): string {
    const tail = Buffer.concat(this.chunks, this.bytes);
    if (this.dropped === 0) return Buffer.concat([...this.head, tail]).toString('utf8');
    let head = Buffer.concat(this.head, this.headLen);
    // Cut on whole characters: no half UTF-8 sequence at the end of the head or the start of the tail.
    let end = head.length;
    while (end > 0 && ((head[end - 1] as number) & 0xc0) === 0x80) end--;
    if (end > 0 && ((head[end - 1] as number) & 0x80) !== 0) {
      const lead = head[end - 1] as number;
      const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
      if (head.length - (end - 1) < need) head = head.subarray(0, end - 1);
    }
    let start = 0;
    while (start < tail.length && ((tail[start] as number) & 0xc0) === 0x80) start++;
    const headText = head.toString('utf8');
    return `${headText}${headText === '' || headText.endsWith('\n') ? '' : '\n'}${omittedLine(this.dropped + start)}${tail.subarray(start).toString('utf8')}`;
  }
}
