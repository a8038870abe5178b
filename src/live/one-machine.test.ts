import { describe, expect, it } from 'vitest';
import { defaultCores } from './one-machine.ts';

describe('fare up defaults', () => {
  it('keeps one core for Fare itself, except on a single core', () => {
    expect([1, 2, 4, 64].map(defaultCores)).toEqual([1, 1, 3, 63]);
  });
});
