// Settling: a read by request id waits for an answered invocation's record, for a bounded time.

import { describe, expect, it } from 'vitest';
import { Settling } from './settling.ts';

describe('Settling', () => {
  it('answers at once for an id not awaited, when the record is made for one that is, and false after the bound', async () => {
    const s = new Settling();
    expect(await s.wait('unknown', 1)).toBe(true);
    const done = s.begin('a');
    expect(s.size).toBe(1);
    const waiting = [s.wait('a', 5_000), s.wait('a', 5_000)];
    done();
    expect(await Promise.all(waiting)).toEqual([true, true]);
    expect(s.size).toBe(0);
    s.begin('b');
    expect(await s.wait('b', 5)).toBe(false);
  });
});
