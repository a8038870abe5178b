// Five-number summaries for box plots: min, quartiles (linear interpolation between ranks), max.

/** Five-number summary drawn as one box with whiskers. */
export interface BoxStats {
  readonly min: number;
  readonly q1: number;
  readonly median: number;
  readonly q3: number;
  readonly max: number;
}

/** Five-number summary of `values` (linear-interpolated quartiles); `null` when there are none. */
export function boxStats(values: readonly number[]): BoxStats | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return {
    min: sorted[0] ?? NaN,
    q1: quantileSorted(sorted, 0.25),
    median: quantileSorted(sorted, 0.5),
    q3: quantileSorted(sorted, 0.75),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/** Quantile `q` in [0, 1] of ascending `sorted` values, interpolating linearly between ranks (type 7). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = Math.min(1, Math.max(0, q)) * (sorted.length - 1);
  const i = Math.floor(pos);
  const a = sorted[i] ?? NaN;
  const b = sorted[Math.min(i + 1, sorted.length - 1)] ?? NaN;
  return a + (b - a) * (pos - i);
}
