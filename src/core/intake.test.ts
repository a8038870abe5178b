import { describe, expect, it } from 'vitest';
import { ShardPicker } from './intake.ts';

describe('ShardPicker', () => {
  it('round-robin spreads jobs evenly; by-function keeps a function on one shard', () => {
    const rr = new ShardPicker(3, 'round-robin');
    expect([0, 0, 0, 0, 0].map((f) => rr.pick(f))).toEqual([0, 1, 2, 0, 1]);
    const bf = new ShardPicker(3, 'by-function');
    expect([7, 7, 8, -1].map((f) => bf.pick(f))).toEqual([1, 1, 2, 2]);
  });

  it('pickLive: the same shard for the same function and view; when a shard leaves only its functions move', () => {
    const all = [0, 1, 2, 3];
    const before = new Map<number, number>();
    for (let fn = 0; fn < 2000; fn++) before.set(fn, ShardPicker.pickLive(fn, all));
    // Every shard gets a fair share.
    const counts = [0, 0, 0, 0];
    for (const s of before.values()) counts[s] = (counts[s] ?? 0) + 1;
    for (const c of counts) expect(c).toBeGreaterThan(350);
    // Shard 2 leaves: functions on 0, 1 and 3 stay where they were.
    const live = [0, 1, 3];
    for (let fn = 0; fn < 2000; fn++) {
      const now = ShardPicker.pickLive(fn, live);
      expect(live).toContain(now);
      if (before.get(fn) !== 2) expect(now).toBe(before.get(fn));
    }
    // The order the live shards are listed in does not matter.
    for (let fn = 0; fn < 200; fn++) expect(ShardPicker.pickLive(fn, [3, 1, 0])).toBe(ShardPicker.pickLive(fn, live));
  });
});
