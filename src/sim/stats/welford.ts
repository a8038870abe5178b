// Running count, mean, variance, min and max in O(1) memory (Welford's update), numerically stable
// over millions of samples; two accumulators merge exactly (Chan et al.'s parallel formula).

export class Welford {
  private n = 0;
  private mu = 0;
  /** Sum of squared deviations from the mean. */
  private m2 = 0;
  private lo = Infinity;
  private hi = -Infinity;

  add(x: number): void {
    this.n++;
    const d = x - this.mu;
    this.mu += d / this.n;
    this.m2 += d * (x - this.mu);
    if (x < this.lo) this.lo = x;
    if (x > this.hi) this.hi = x;
  }

  get count(): number {
    return this.n;
  }
  /** NaN when empty. */
  get mean(): number {
    return this.n > 0 ? this.mu : NaN;
  }
  /** Sample variance (n − 1 in the denominator); NaN below two samples. */
  get variance(): number {
    return this.n > 1 ? this.m2 / (this.n - 1) : NaN;
  }
  /** Population variance (n in the denominator); NaN when empty. */
  get populationVariance(): number {
    return this.n > 0 ? this.m2 / this.n : NaN;
  }
  get stddev(): number {
    return Math.sqrt(this.variance);
  }
  /** Coefficient of variation: sample sd / mean. */
  get cv(): number {
    return this.stddev / this.mean;
  }
  get min(): number {
    return this.n > 0 ? this.lo : NaN;
  }
  get max(): number {
    return this.n > 0 ? this.hi : NaN;
  }

  merge(other: Welford): this {
    if (other.n === 0) return this;
    const n = this.n + other.n;
    const d = other.mu - this.mu;
    this.mu += (d * other.n) / n;
    this.m2 += other.m2 + (d * d * this.n * other.n) / n;
    this.n = n;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    return this;
  }
}
