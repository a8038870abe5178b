// Streaming histogram for positive measurements (response times in ms, slowdowns ≥ 1) with bounded
// relative error, in the manner of HdrHistogram: log-linear buckets, 128 per power of two, read straight
// off the IEEE-754 exponent and top mantissa bits. Exact count, sum, min, max; quantiles within 0.4%
// of the true sample quantile for values in [2⁻¹², 2³²) ≈ [2.4e-4, 4.3e9]. 45 KB whatever the number
// of samples; histograms merge by adding counts.

/** log2 of the sub-buckets per power of two: 128 buckets, so half a bucket is ≤ 1/256 of its value. */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** Smallest and (exclusive) largest binary exponent with their own buckets. */
const MIN_EXP = -12;
const MAX_EXP = 32;
/** Bucket 0 holds values below 2^MIN_EXP (including 0); the last holds values ≥ 2^MAX_EXP. */
const BUCKETS = (MAX_EXP - MIN_EXP) * SUB + 2;
const OVERFLOW = BUCKETS - 1;

/** Largest relative distance between a recorded value in range and the value its bucket reports. */
export const LOG_HISTOGRAM_RELATIVE_ERROR = 1 / (2 * SUB);
/** Values in [LOG_HISTOGRAM_MIN, LOG_HISTOGRAM_MAX) are within the relative error; others clamp to min/max. */
export const LOG_HISTOGRAM_MIN = 2 ** MIN_EXP;
export const LOG_HISTOGRAM_MAX = 2 ** MAX_EXP;

// A scratch double viewed as two 32-bit words, to read the exponent and mantissa bits of a value.
const scratch = new Float64Array(1);
const words = new Uint32Array(scratch.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

function bucketOf(v: number): number {
  scratch[0] = v;
  const hi = words[HI] ?? 0;
  const e = (hi >>> 20) - 1023;
  if (e < MIN_EXP) return 0;
  if (e >= MAX_EXP) return OVERFLOW;
  return 1 + ((e - MIN_EXP) << SUB_BITS) + ((hi >>> (20 - SUB_BITS)) & (SUB - 1));
}

/** Midpoint of an in-range bucket. */
function midpointOf(b: number): number {
  const i = b - 1;
  const e = (i >> SUB_BITS) + MIN_EXP;
  const s = i & (SUB - 1);
  return 2 ** e * (1 + (s + 0.5) / SUB);
}

function refuse(value: number): never {
  throw new RangeError(`LogHistogram.record(${String(value)}): values must be finite and ≥ 0`);
}

export interface LogHistogramJSON {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Non-empty buckets as [index, count] pairs. */
  buckets: [number, number][];
}

export class LogHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private n = 0;
  private total = 0;
  private lo = Infinity;
  private hi = -Infinity;

  /** Records `value` (finite, ≥ 0) `times` times. */
  record(value: number, times = 1): void {
    // The error is built out of line: a short method is inlined into its callers, and a time passed
    // to one that is not is boxed (an allocation per call).
    if (!(value >= 0 && value < Infinity)) refuse(value);
    const b = bucketOf(value);
    this.counts[b] = (this.counts[b] ?? 0) + times;
    this.n += times;
    this.total += value * times;
    if (value < this.lo) this.lo = value;
    if (value > this.hi) this.hi = value;
  }

  get count(): number {
    return this.n;
  }
  get sum(): number {
    return this.total;
  }
  /** NaN when empty. */
  get min(): number {
    return this.n > 0 ? this.lo : NaN;
  }
  get max(): number {
    return this.n > 0 ? this.hi : NaN;
  }
  get mean(): number {
    return this.n > 0 ? this.total / this.n : NaN;
  }

  /**
   * The q-quantile (q in [0, 1]) by nearest rank: the value of the ⌈q·count⌉-th smallest sample, within
   * the relative error; 0 gives the exact min, 1 the exact max; NaN when empty.
   */
  quantile(q: number): number {
    const [v] = this.quantiles([q]);
    return v ?? NaN;
  }

  /** Several quantiles in one pass over the buckets; `qs` in any order. */
  quantiles(qs: readonly number[]): number[] {
    for (const q of qs) if (!(q >= 0 && q <= 1)) throw new RangeError(`LogHistogram quantile ${String(q)} is outside [0, 1]`);
    if (this.n === 0) return qs.map(() => NaN);
    const order = qs.map((_, i) => i).sort((a, b) => (qs[a] ?? 0) - (qs[b] ?? 0));
    const out = new Array<number>(qs.length).fill(NaN);
    let k = 0;
    let seen = 0;
    const counts = this.counts;
    for (let b = 0; b < BUCKETS && k < order.length; b++) {
      const c = counts[b] ?? 0;
      if (c === 0) continue;
      seen += c;
      while (k < order.length) {
        const qi = order[k] ?? 0;
        const q = qs[qi] ?? 0;
        // The tiny slack keeps 0.99 × 100 (= 99.00000000000001) at rank 99.
        const rank = Math.max(1, Math.ceil(q * this.n - 1e-9));
        if (rank > seen) break;
        out[qi] = q === 0 ? this.lo : q === 1 ? this.hi : this.valueOf(b);
        k++;
      }
    }
    return out;
  }

  private valueOf(b: number): number {
    if (b === 0) return this.lo;
    if (b === OVERFLOW) return this.hi;
    return Math.min(this.hi, Math.max(this.lo, midpointOf(b)));
  }

  /** Adds every sample of `other` to this one. */
  merge(other: LogHistogram): this {
    const a = this.counts;
    const b = other.counts;
    for (let i = 0; i < BUCKETS; i++) {
      const c = b[i] ?? 0;
      if (c !== 0) a[i] = (a[i] ?? 0) + c;
    }
    this.n += other.n;
    this.total += other.total;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    return this;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.total = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
  }

  /** A compact JSON form (non-empty buckets only), e.g. to send from a worker thread. */
  toJSON(): LogHistogramJSON {
    const buckets: [number, number][] = [];
    this.counts.forEach((c, i) => {
      if (c !== 0) buckets.push([i, c]);
    });
    return { count: this.n, sum: this.total, min: this.min, max: this.max, buckets };
  }

  static fromJSON(j: Readonly<LogHistogramJSON>): LogHistogram {
    const h = new LogHistogram();
    let n = 0;
    for (const [i, c] of j.buckets) {
      if (!Number.isInteger(i) || i < 0 || i >= BUCKETS || !(c >= 0)) throw new RangeError(`LogHistogram.fromJSON: bucket [${String(i)}, ${String(c)}] is not valid for this layout`);
      h.counts[i] = c;
      n += c;
    }
    if (n !== j.count) throw new RangeError(`LogHistogram.fromJSON: buckets hold ${String(n)} samples but count is ${String(j.count)}`);
    h.n = j.count;
    h.total = j.sum;
    h.lo = j.count > 0 ? j.min : Infinity;
    h.hi = j.count > 0 ? j.max : -Infinity;
    return h;
  }
}
