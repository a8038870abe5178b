import { describe, expect, it } from 'vitest';
import { classNice, defaultCores } from './one-machine.ts';

describe('fare up defaults', () => {
  it('keeps one core for Fare itself, except on a single core', () => {
    expect([1, 2, 4, 64].map(defaultCores)).toEqual([1, 1, 3, 63]);
  });

  it('gives the top class the lowest nice value, rising to 0 just above the lowest class', () => {
    expect([0, 1, 2].map((c) => classNice(c, 3))).toEqual([-5, -3, 0]);
    expect(classNice(0, 1)).toBe(-5);
    expect([0, 1, 2, 3].map((c) => classNice(c, 5))).toEqual([-5, -4, -3, -1]);
  });
});
