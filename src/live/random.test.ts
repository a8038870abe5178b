import { describe, expect, it } from 'vitest';
import { randomBytesFast } from './random.ts';

describe('randomBytesFast', () => {
  it('hands out bytes that are never handed out twice, across refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const b = randomBytesFast(16);
      expect(b.length).toBe(16);
      const hex = b.toString('hex');
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
  });

  it('refuses more than its pool', () => {
    expect(() => randomBytesFast(5000)).toThrow(RangeError);
  });
});
