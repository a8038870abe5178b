// Settling: a read by request id waits for an answered invocation's record, for a bounded time.

import { describe, expect, it } from 'vitest';
import { newRequestId } from './request-id.ts';
import { ELSEWHERE_MAX_AGE_MS, Settling } from './settling.ts';

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

  it("waits for another gateway's record of a request id not known here, only in a cluster and only for an id that can be a recent invocation's", async () => {
    const now = Date.UTC(2026, 11, 6, 16, 0, 0);
    const recent = newRequestId(now - 2_000);
    // One gateway alone: nothing can come from elsewhere.
    expect(await new Settling().elsewhere(recent, now, 5_000)).toBe(false);
    const s = new Settling({ otherGateways: true });
    const t0 = performance.now();
    for (const id of ['not-a-request-id', newRequestId(now - ELSEWHERE_MAX_AGE_MS - 1), newRequestId(now + 120_000), recent.replace('-7', '-4')]) {
      expect(await s.elsewhere(id, now, 5_000)).toBe(false);
    }
    expect(performance.now() - t0).toBeLessThan(1_000); // answered at once, not after the 5 s bound
    const two = [s.elsewhere(recent, now, 5_000), s.elsewhere(recent, now, 5_000)];
    s.entered(newRequestId(now)); // another id: wakes nobody
    s.entered(recent);
    expect(await Promise.all(two)).toEqual([true, true]);
    expect(await s.elsewhere(recent, now, 5)).toBe(false); // none came this time: false after the bound
  });

  it('says when no answered invocation has a record still to come (a stopping gateway waits for it), or that some still have after the bound', async () => {
    const s = new Settling();
    expect(await s.settled(5)).toBe(true);
    const a = s.begin('a'), b = s.begin('b');
    const both = s.settled(5_000);
    expect(await s.settled(5)).toBe(false); // both still to come after 5 ms
    a();
    a(); // made twice: counted once
    expect(s.size).toBe(1);
    b();
    expect(await both).toBe(true);
    expect(s.size).toBe(0);
  });
});
