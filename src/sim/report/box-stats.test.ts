import { describe, expect, it } from 'vitest';
import { boxStats, quantileSorted } from './box-stats.ts';

describe('boxStats', () => {
  it('computes the five-number summary with interpolated quartiles', () => {
    expect(boxStats([5, 1, 4, 2, 3])).toEqual({ min: 1, q1: 2, median: 3, q3: 4, max: 5 });
    expect(boxStats([1, 2, 3, 4])).toEqual({ min: 1, q1: 1.75, median: 2.5, q3: 3.25, max: 4 });
  });

  it('ignores non-finite values and returns null when nothing is left', () => {
    expect(boxStats([NaN, Infinity])).toBeNull();
    expect(boxStats([NaN, 7])).toEqual({ min: 7, q1: 7, median: 7, q3: 7, max: 7 });
  });

  it('quantileSorted clamps q into [0, 1]', () => {
    expect(quantileSorted([1, 2, 3], 2)).toBe(3);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });
});
