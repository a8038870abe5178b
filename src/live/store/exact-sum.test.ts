import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePartials, encodePartials, ExactSum } from './exact-sum.ts';

const sum = (xs: readonly number[]): number => xs.reduce((s, x) => s.add(x), new ExactSum()).value();

describe('exact sums', () => {
  it('are the exact sum, correctly rounded', () => {
    expect(sum(Array.from({ length: 10 }, () => 0.1))).toBe(1);
    expect(sum([1e100, 1, -1e100])).toBe(1);
    // Half-even across partials: the 1e-16 tips the tie up (Python's math.fsum gives the same).
    expect(sum([1e-16, 1, 1e16])).toBe(10000000000000002);
    expect(sum([])).toBe(0);
    expect(sum([Infinity, 1])).toBe(Infinity);
    expect(sum([Infinity, -Infinity])).toBeNaN();
  });

  it('do not depend on the order of the additions nor on how they were grouped and stored', () => {
    const value = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 });
    fc.assert(
      fc.property(fc.array(value, { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 20 }), (xs, cuts) => {
        const whole = sum(xs);
        expect(sum([...xs].reverse())).toBe(whole);
        // Groups summed apart, kept as stored partials, then added back with what is left.
        const at = [...new Set(cuts.map((c) => c % (xs.length + 1)))].sort((a, b) => a - b);
        const total = new ExactSum();
        let from = 0;
        for (const to of [...at, xs.length]) {
          const part = xs.slice(from, to).reduce((s, x) => s.add(x), new ExactSum());
          total.addPartials(decodePartials(encodePartials(part.partials())));
          from = to;
        }
        expect(total.value()).toBe(whole);
      }),
    );
  });
});
