// Time average of a piecewise-constant quantity (busy cores, queue length, memory in use): the value
// holds from one change to the next, and the accumulator keeps its integral over time, so the average
// over any window is exact and costs O(1) per change.

export class TimeWeighted {
  private t0: number;
  private last: number;
  private v: number;
  private area = 0;
  private peak: number;

  /** Starts measuring at `start` with the quantity at `value`. */
  constructor(start = 0, value = 0) {
    this.t0 = start;
    this.last = start;
    this.v = value;
    this.peak = value;
  }

  private advanceTo(now: number): void {
    if (now < this.last) throw new RangeError(`TimeWeighted: time went back from ${String(this.last)} to ${String(now)}`);
    this.area += this.v * (now - this.last);
    this.last = now;
  }

  /** The quantity becomes `value` at `now`. */
  set(now: number, value: number): void {
    this.advanceTo(now);
    this.v = value;
    if (value > this.peak) this.peak = value;
  }

  /** The quantity changes by `delta` at `now`. */
  add(now: number, delta: number): void {
    this.set(now, this.v + delta);
  }

  get value(): number {
    return this.v;
  }
  /** Largest value held since the start (or the last restart). */
  get max(): number {
    return this.peak;
  }
  get start(): number {
    return this.t0;
  }

  /** ∫ value dt from the start to `now` (≥ the last change). */
  integral(now: number): number {
    if (now < this.last) throw new RangeError(`TimeWeighted: time went back from ${String(this.last)} to ${String(now)}`);
    return this.area + this.v * (now - this.last);
  }

  /** Time average over [start, now]; the current value when the window is empty. */
  mean(now: number): number {
    const span = now - this.t0;
    return span > 0 ? this.integral(now) / span : this.v;
  }

  /** Forgets the past (e.g. after a warm-up): measuring starts again at `now` with the current value. */
  restart(now: number): void {
    this.advanceTo(now);
    this.t0 = now;
    this.area = 0;
    this.peak = this.v;
  }
}
