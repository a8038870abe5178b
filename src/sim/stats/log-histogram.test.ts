import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { LOG_HISTOGRAM_RELATIVE_ERROR, LogHistogram } from './log-histogram.ts';

const QS = [0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1];

/** Nearest-rank quantile of sorted values: the ⌈q·n⌉-th smallest. */
function exact(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length - 1e-9));
  return sorted[rank - 1] ?? NaN;
}

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / b;
}

describe('LogHistogram', () => {
  it('keeps quantiles within 0.5% of the exact ones over 1e-3..1e9', () => {
    expect(LOG_HISTOGRAM_RELATIVE_ERROR).toBeLessThanOrEqual(0.005);
    const rng = new Rng(1);
    const h = new LogHistogram();
    const xs: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      const x = Math.exp(Math.log(1e-3) + rng.next() * Math.log(1e12));
      xs.push(x);
      h.record(x);
    }
    xs.sort((a, b) => a - b);
    for (const q of QS) expect(relErr(h.quantile(q), exact(xs, q))).toBeLessThanOrEqual(LOG_HISTOGRAM_RELATIVE_ERROR);
    expect(h.quantile(0)).toBe(xs[0]);
    expect(h.quantile(1)).toBe(xs[xs.length - 1]);
  });

  it('keeps quantiles within the error on long-tailed response times (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-3, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (xs, q) => {
          const h = new LogHistogram();
          for (const x of xs) h.record(x);
          const sorted = [...xs].sort((a, b) => a - b);
          return relErr(h.quantile(q), exact(sorted, q)) <= LOG_HISTOGRAM_RELATIVE_ERROR;
        },
      ),
      { numRuns: 500 },
    );
  });

  it('tracks count, sum, min, max and mean exactly', () => {
    const h = new LogHistogram();
    for (const x of [3, 1, 4, 1, 5, 9, 2, 6]) h.record(x);
    h.record(0.5, 2);
    expect(h.count).toBe(10);
    expect(h.sum).toBe(32);
    expect(h.min).toBe(0.5);
    expect(h.max).toBe(9);
    expect(h.mean).toBe(3.2);
  });

  it('answers several quantiles in one pass, in any order', () => {
    const rng = new Rng(2);
    const h = new LogHistogram();
    for (let i = 0; i < 10_000; i++) h.record(rng.exp(50));
    const qs = [0.999, 0.5, 0.9, 0.99];
    expect(h.quantiles(qs)).toEqual(qs.map((q) => h.quantile(q)));
  });

  it('is NaN when empty and refuses negative, NaN and infinite values and bad q', () => {
    const h = new LogHistogram();
    expect(h.quantile(0.5)).toBeNaN();
    expect(h.mean).toBeNaN();
    expect(h.min).toBeNaN();
    expect(() => h.record(-1)).toThrow(RangeError);
    expect(() => h.record(NaN)).toThrow(RangeError);
    expect(() => h.record(Infinity)).toThrow(RangeError);
    h.record(1);
    expect(() => h.quantile(1.5)).toThrow(RangeError);
  });

  it('clamps values outside its range to the exact min and max', () => {
    const h = new LogHistogram();
    h.record(0);
    h.record(1e-9);
    h.record(1e12);
    expect(h.quantile(0.3)).toBe(0);
    expect(h.quantile(0.5)).toBe(0);
    expect(h.quantile(0.9)).toBe(1e12);
  });

  it('merges to the same histogram as recording everything in one', () => {
    const rng = new Rng(3);
    const a = new LogHistogram();
    const b = new LogHistogram();
    const all = new LogHistogram();
    for (let i = 0; i < 50_000; i++) {
      const x = rng.exp(100) + 0.01;
      (i % 3 === 0 ? a : b).record(x);
      all.record(x);
    }
    a.merge(b);
    expect(a.count).toBe(all.count);
    expect(a.sum).toBeCloseTo(all.sum, 6);
    expect(a.min).toBe(all.min);
    expect(a.max).toBe(all.max);
    expect(a.quantiles(QS)).toEqual(all.quantiles(QS));
    expect(new LogHistogram().merge(new LogHistogram()).count).toBe(0);
  });

  it('round-trips through JSON', () => {
    const h = new LogHistogram();
    for (const x of [0.2, 7, 7, 3000, 1e8]) h.record(x);
    const j = JSON.parse(JSON.stringify(h)) as ReturnType<LogHistogram['toJSON']>;
    const back = LogHistogram.fromJSON(j);
    expect(back.quantiles(QS)).toEqual(h.quantiles(QS));
    expect(back.toJSON()).toEqual(h.toJSON());
    expect(j.buckets.length).toBe(4);
    expect(() => LogHistogram.fromJSON({ ...j, count: 99 })).toThrow(/count is 99/);
    const empty = LogHistogram.fromJSON(new LogHistogram().toJSON());
    expect(empty.count).toBe(0);
    expect(empty.min).toBeNaN();
  });

  it('uses a few tens of KB whatever the number of samples', () => {
    const h = new LogHistogram();
    const counts = (h as unknown as { counts: Float64Array }).counts;
    expect(counts.byteLength).toBeLessThan(64 * 1024);
  });
});
