import { describe, expect, it } from 'vitest';
import { TimeWeighted } from './time-weighted.ts';

describe('TimeWeighted', () => {
  it('averages a piecewise-constant value over time', () => {
    const busy = new TimeWeighted(0, 0);
    busy.set(10, 4); // 0 on [0, 10)
    busy.add(20, 2); // 4 on [10, 20)
    busy.add(30, -6); // 6 on [20, 30)
    expect(busy.integral(40)).toBe(100);
    expect(busy.mean(40)).toBe(2.5);
    expect(busy.value).toBe(0);
    expect(busy.max).toBe(6);
  });

  it('restarts the window after a warm-up, keeping the current value', () => {
    const q = new TimeWeighted(0, 10);
    q.set(100, 2);
    q.restart(150);
    expect(q.start).toBe(150);
    expect(q.mean(250)).toBe(2);
    expect(q.max).toBe(2);
  });

  it('returns the current value for an empty window and refuses time going back', () => {
    const x = new TimeWeighted(5, 3);
    expect(x.mean(5)).toBe(3);
    x.set(8, 1);
    expect(() => x.set(7, 0)).toThrow(/time went back from 8 to 7/);
    expect(() => x.integral(7)).toThrow(RangeError);
  });
});
