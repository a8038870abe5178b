// Per-class latency and throughput over the last minutes, for the dashboard: a ring of one-second
// slots per price class, fed at each answered job (`Metrics.onAnswered`). A slot counts its jobs and
// keeps a bounded sample of their latencies (reservoir sampling past `samples`), from which each
// second's p50 and p99 are exact while the second had at most `samples` jobs. O(1) per job on the
// invocation path; a closed second's percentiles are computed once, when first read.

import { nearestRank } from '../../../core/util/nearest-rank.ts';

export interface SeriesOptions {
  readonly classes: number;
  /** Seconds kept (default 300: five minutes). */
  readonly seconds?: number;
  /** Latencies kept per class per second (default 512). */
  readonly samples?: number;
  /** Seed of the reservoir's draws (xorshift32; any non-zero number). */
  readonly seed?: number;
}

/** One class's seconds, oldest first: jobs answered, and p50 / p99 latency in ms (null: none that second). */
export interface ClassSeconds {
  readonly count: number[];
  readonly p50Ms: (number | null)[];
  readonly p99Ms: (number | null)[];
}

export interface SeriesWindow {
  /** The first second shown (ms since the epoch, a whole second); one entry per second from it to now. */
  readonly fromMs: number;
  readonly seconds: number;
  /** By class index. */
  readonly classes: readonly ClassSeconds[];
}

/** A class's jobs over the last `seconds` seconds: how many, per second, and p50 / p99 of a merged sample. */
export interface ClassRecent {
  readonly count: number;
  readonly perSecond: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** Nearest-rank percentile of sorted values (null when there are none). */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  return nearestRank(sorted, p) ?? null;
}

export class ClassSeries {
  readonly seconds: number;
  readonly samples: number;
  private readonly classes: number;
  /** Per class × slot: the epoch second the slot holds (-1: none). */
  private readonly second: Float64Array;
  private readonly count: Uint32Array;
  /** Per class × slot × sample: latency in ms. */
  private readonly sample: Float32Array;
  /** Per class × slot: p50 and p99 once computed for a closed second (NaN: not yet, or no jobs). */
  private readonly p50: Float64Array;
  private readonly p99: Float64Array;
  private readonly closed: Uint8Array;
  private readonly totals: Float64Array;
  private rng: number;

  constructor(opts: SeriesOptions) {
    this.classes = opts.classes;
    this.seconds = opts.seconds ?? 300;
    this.samples = opts.samples ?? 512;
    const slots = this.classes * this.seconds;
    this.second = new Float64Array(slots).fill(-1);
    this.count = new Uint32Array(slots);
    this.sample = new Float32Array(slots * this.samples);
    this.p50 = new Float64Array(slots).fill(NaN);
    this.p99 = new Float64Array(slots).fill(NaN);
    this.closed = new Uint8Array(slots);
    this.totals = new Float64Array(this.classes);
    this.rng = (opts.seed ?? 0x9e3779b9) | 0 || 1;
  }

  /** A job of class `cls` answered at `nowMs` (ms since the epoch), `seconds` after it arrived. */
  record(nowMs: number, cls: number, seconds: number): void {
    if (cls < 0 || cls >= this.classes || !Number.isFinite(seconds)) return;
    this.totals[cls] = (this.totals[cls] as number) + 1;
    const sec = Math.floor(nowMs / 1000);
    const slot = cls * this.seconds + (sec % this.seconds);
    if (this.second[slot] !== sec) {
      this.second[slot] = sec;
      this.count[slot] = 0;
      this.closed[slot] = 0;
      this.p50[slot] = NaN;
      this.p99[slot] = NaN;
    }
    const n = this.count[slot] as number;
    this.count[slot] = n + 1;
    let at = n;
    if (n >= this.samples) {
      at = this.draw(n + 1);
      if (at >= this.samples) return;
    }
    this.sample[slot * this.samples + at] = seconds * 1000;
  }

  /** Jobs of each class answered since the start. */
  answered(): number[] {
    return Array.from(this.totals);
  }

  /** The last `seconds` seconds to `nowMs`, per class and per second. */
  window(nowMs: number): SeriesWindow {
    const now = Math.floor(nowMs / 1000);
    const from = now - this.seconds + 1;
    const classes: ClassSeconds[] = [];
    for (let c = 0; c < this.classes; c++) {
      const count: number[] = [], p50Ms: (number | null)[] = [], p99Ms: (number | null)[] = [];
      for (let s = from; s <= now; s++) {
        const slot = c * this.seconds + (((s % this.seconds) + this.seconds) % this.seconds);
        if (this.second[slot] !== s || this.count[slot] === 0) {
          count.push(0);
          p50Ms.push(null);
          p99Ms.push(null);
          continue;
        }
        count.push(this.count[slot] as number);
        const [a, b] = this.slotPercentiles(slot, s < now);
        p50Ms.push(a);
        p99Ms.push(b);
      }
      classes.push({ count, p50Ms, p99Ms });
    }
    return { fromMs: from * 1000, seconds: this.seconds, classes };
  }

  /** Each class over the last `seconds` seconds to `nowMs` (at most the series' length). */
  recent(nowMs: number, seconds: number): ClassRecent[] {
    const now = Math.floor(nowMs / 1000);
    const span = Math.max(1, Math.min(seconds, this.seconds));
    const out: ClassRecent[] = [];
    for (let c = 0; c < this.classes; c++) {
      let count = 0;
      const merged: number[] = [];
      for (let s = now - span + 1; s <= now; s++) {
        const slot = c * this.seconds + (((s % this.seconds) + this.seconds) % this.seconds);
        if (this.second[slot] !== s) continue;
        const n = this.count[slot] as number;
        count += n;
        const base = slot * this.samples;
        for (let i = 0; i < Math.min(n, this.samples); i++) merged.push(this.sample[base + i] as number);
      }
      merged.sort((x, y) => x - y);
      out.push({ count, perSecond: count / span, p50Ms: percentile(merged, 0.5), p99Ms: percentile(merged, 0.99) });
    }
    return out;
  }

  private slotPercentiles(slot: number, closed: boolean): [number | null, number | null] {
    if (this.closed[slot] === 1) return [this.p50[slot] as number, this.p99[slot] as number];
    const k = Math.min(this.count[slot] as number, this.samples);
    const base = slot * this.samples;
    const sorted = this.sample.slice(base, base + k).sort();
    const a = percentile(sorted, 0.5), b = percentile(sorted, 0.99);
    if (closed && a !== null && b !== null) {
      this.p50[slot] = a;
      this.p99[slot] = b;
      this.closed[slot] = 1;
    }
    return [a, b];
  }

  /** A uniform integer in [0, n) (xorshift32). */
  private draw(n: number): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return (x >>> 0) % n;
  }
}
