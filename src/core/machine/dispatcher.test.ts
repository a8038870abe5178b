import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Dispatcher, type DispatcherConfig, type DispatcherDecision } from './dispatcher.ts';
import { Rng } from '../rng.ts';

const CFG: DispatcherConfig = { shards: 8, k: 3, joinFreeMB: 600, leaveFreeMB: 200, updateDeltaMB: 100 };
const make = (over: Partial<DispatcherConfig> = {}, seed: number | string = 1) => new Dispatcher({ ...CFG, ...over }, new Rng(seed, 'dispatcher'));

/** A dispatcher that joined (with 1000 MB free) and then reported `free`, if that moved it enough. */
function member(free: number, over: Partial<DispatcherConfig> = {}): { d: Dispatcher; shard: number } {
  const d = make(over);
  const out: DispatcherDecision[] = [];
  d.check(1000, 0, false, out);
  const poll = out[0];
  if (poll?.kind !== 'poll-shards') throw new Error('expected a poll');
  d.answered(poll.poll, poll.shards.map((_, i) => (i === 0 ? 0 : 5)), 1000, 0, out);
  d.check(free, 0, false, out);
  return { d, shard: poll.shards[0] as number };
}

const check = (d: Dispatcher, free: number, jobs = 0, fell = false): DispatcherDecision[] => {
  const out: DispatcherDecision[] = [];
  d.check(free, jobs, fell, out);
  return out;
};

describe('Dispatcher joining an idle list', () => {
  it('polls k distinct shards when free memory rises above joinFreeMB', () => {
    const d = make();
    expect(check(d, 600)).toEqual([]); // not strictly above
    const out = check(d, 601);
    expect(out).toHaveLength(1);
    const p = out[0];
    if (p?.kind !== 'poll-shards') throw new Error('expected a poll');
    expect(p.poll).toBe(0);
    expect(new Set(p.shards).size).toBe(3);
    expect(p.shards.every((s) => s >= 0 && s < 8)).toBe(true);
    expect(d.polling).toBe(true);
  });

  it('sends no second poll while one is outstanding', () => {
    const d = make();
    check(d, 1000);
    expect(check(d, 1000)).toEqual([]);
  });

  it('joins the polled shard with the fewest machines on its idle list', () => {
    const d = make();
    const p = check(d, 1000)[0];
    if (p?.kind !== 'poll-shards') throw new Error('expected a poll');
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, [4, 1, 3], 900, 2, out);
    expect(out).toEqual([{ kind: 'idle-join', shard: p.shards[1], freeMB: 900, jobs: 2 }]);
    expect(d.member).toBe(p.shards[1]);
    expect(d.polling).toBe(false);
  });

  it('breaks ties among the emptiest shards by its seeded stream', () => {
    const joined = (seed: number): number => {
      const d = make({ k: 2 }, seed);
      const p = check(d, 1000)[0];
      if (p?.kind !== 'poll-shards') throw new Error('expected a poll');
      d.answered(p.poll, [2, 2], 1000, 0, []);
      return p.shards.indexOf(d.member);
    };
    const picks = Array.from({ length: 40 }, (_, s) => joined(s));
    expect(picks).toEqual(Array.from({ length: 40 }, (_, s) => joined(s)));
    expect(new Set(picks)).toEqual(new Set([0, 1]));
  });

  it('ignores a stale answer, and does not join if memory fell while it polled', () => {
    const d = make();
    const p = check(d, 1000)[0];
    if (p?.kind !== 'poll-shards') throw new Error('expected a poll');
    const out: DispatcherDecision[] = [];
    d.answered(p.poll + 7, [0, 0, 0], 1000, 0, out);
    expect(out).toEqual([]);
    expect(d.polling).toBe(true);
    d.answered(p.poll, [0, 0, 0], 600, 0, out);
    expect(out).toEqual([]);
    expect(d.member).toBe(-1);
    expect(d.polling).toBe(false);
    // It polls again once memory is high again, with a new poll id.
    expect(check(d, 700)[0]).toMatchObject({ kind: 'poll-shards', poll: 1 });
  });

  it('rejects leaveFreeMB above joinFreeMB (no hysteresis band)', () => {
    expect(() => make({ leaveFreeMB: 700 })).toThrow(/leaveFreeMB \(700\) must not exceed joinFreeMB \(600\)/);
  });

  // BUG: Dispatcher does not validate k or shards (Shard rejects k < 1). With k = 0 (or shards = 0) it
  // polls no shard (`poll-shards shards=[]`) and, on the answer, emits `idle-join` with shard undefined and
  // sets member = undefined. Fix: in the constructor, throw a RangeError unless shards ≥ 1 and k ≥ 1.
  it('rejects k < 1 and shards < 1, as Shard does', () => {
    expect(() => make({ k: 0 })).toThrow(RangeError);
    expect(() => make({ shards: 0 })).toThrow(RangeError);
  });
});

describe('Dispatcher as a member', () => {
  it('updates its entry when free memory moves by more than updateDeltaMB', () => {
    const { d, shard } = member(1000);
    expect(check(d, 1100)).toEqual([]);
    expect(check(d, 900)).toEqual([]);
    expect(check(d, 1101, 3)).toEqual([{ kind: 'idle-update', shard, freeMB: 1101, jobs: 3 }]);
    // The reference is now the last report (1101), not the join.
    expect(check(d, 1050)).toEqual([]);
    expect(check(d, 1000)).toEqual([{ kind: 'idle-update', shard, freeMB: 1000, jobs: 0 }]);
  });

  it('updates its entry when jobs finished, even if memory barely moved', () => {
    const { d, shard } = member(1000);
    expect(check(d, 1000, 4, true)).toEqual([{ kind: 'idle-update', shard, freeMB: 1000, jobs: 4 }]);
  });

  it('leaves when free memory falls below leaveFreeMB', () => {
    const { d, shard } = member(300);
    expect(check(d, 200)).toEqual([]); // not strictly below
    expect(check(d, 199)).toEqual([{ kind: 'idle-leave', shard }]);
    expect(d.member).toBe(-1);
  });

  it('has hysteresis: it stays between leaveFreeMB and joinFreeMB, and rejoins only above joinFreeMB', () => {
    const { d } = member(700, { updateDeltaMB: 1000 });
    expect(check(d, 250)).toEqual([]); // below join, above leave: still a member
    expect(d.member).toBeGreaterThanOrEqual(0);
    expect(check(d, 150)[0]?.kind).toBe('idle-leave');
    expect(check(d, 500)).toEqual([]); // above leave, below join: stays out
    expect(check(d, 600)).toEqual([]);
    expect(check(d, 601)[0]?.kind).toBe('poll-shards');
  });
});

describe('Dispatcher.band', () => {
  const CAP = 2000;

  it('outside the list: used below cap − joinFreeMB calls for a join', () => {
    expect(make().band(CAP)).toEqual({ low: 1400, high: Infinity });
  });

  it('while polling: nothing to report', () => {
    const d = make();
    check(d, 1000);
    expect(d.band(CAP)).toEqual({ low: -Infinity, high: Infinity });
  });

  it('as a member: the update window around the last report, capped by the leave line', () => {
    expect(member(1000).d.band(CAP)).toEqual({ low: 900, high: 1100 });
    expect(member(250).d.band(CAP)).toEqual({ low: 1650, high: 1800 }); // leave (free < 200) comes before the update (free < 150)
  });

  it('agrees with check: used memory inside the band needs no decision, outside it does', () => {
    const cfg = fc
      .record({ join: fc.integer({ min: 0, max: 1000 }), gap: fc.integer({ min: 0, max: 1000 }), delta: fc.integer({ min: 0, max: 500 }) })
      .map(({ join, gap, delta }) => ({ shards: 4, k: 2, joinFreeMB: join, leaveFreeMB: Math.max(0, join - gap), updateDeltaMB: delta }));
    fc.assert(
      fc.property(cfg, fc.boolean(), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 2000 }), (c, isMember, joinUsed, used) => {
        const cap = 2000;
        const d = new Dispatcher(c, new Rng(1));
        if (isMember) {
          const p: DispatcherDecision[] = [];
          d.check(cap - joinUsed, 0, false, p);
          const poll = p[0];
          if (poll?.kind !== 'poll-shards') return true; // could not join from there: nothing to test
          d.answered(poll.poll, [0, 0], cap - joinUsed, 0, []);
        }
        const { low, high } = d.band(cap);
        const out: DispatcherDecision[] = [];
        d.check(cap - used, 0, false, out);
        return (used >= low && used <= high) === (out.length === 0);
      }),
    );
  });
});
