import { describe, expect, it } from 'vitest';
import { DurationHistory } from './duration-history.ts';

describe('DurationHistory', () => {
  it("expects a function's weighted mean (α = 1/4), the mean of all for a function not seen, 0 before any", () => {
    const h = new DurationHistory();
    expect(h.expect(1)).toBe(0);
    h.learn(1, 100);
    expect(h.expect(1)).toBe(100);
    h.learn(1, 500);
    expect(h.expect(1)).toBe(200);
    h.learn(2, 30);
    expect(h.expect(2)).toBe(30);
    expect(h.expect(3)).toBe((100 + 500 + 30) / 3);
  });
});
