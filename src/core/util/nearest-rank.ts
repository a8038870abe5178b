// The nearest-rank percentile: the smallest value with at least a fraction q of the values at or
// below it. One definition for the live dashboard's series and the load generator's reports.

/** The nearest-rank `q` quantile (0 … 1) of values sorted ascending; undefined when there are none. */
export function nearestRank(sorted: ArrayLike<number>, q: number): number | undefined {
  const n = sorted.length;
  if (n === 0) return undefined;
  return sorted[Math.min(n, Math.max(1, Math.ceil(q * n))) - 1];
}
