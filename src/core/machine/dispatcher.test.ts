import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Dispatcher, type DispatcherConfig, type DispatcherDecision } from './dispatcher.ts';
import { Rng } from '../rng.ts';
import type { Millis, ShardId } from '../types.ts';
import { machineAddress, shardAddress, type IdlePollMsg } from '../protocol.ts';

const ME = machineAddress(7);
const CFG: DispatcherConfig = { shards: 8, k: 3, joinFreeMB: 600, leaveFreeMB: 200, updateDeltaMB: 100 };
const make = (over: Partial<DispatcherConfig> = {}, seed: number | string = 1) => new Dispatcher({ ...CFG, ...over }, new Rng(seed, 'dispatcher'), ME);

/** One poll of the shards as the test sees it: its id and the shards asked, in the order of its messages. */
interface Poll {
  readonly poll: number;
  readonly shards: ShardId[];
}

/** The decisions are the k idle-poll messages of one poll, from this machine to distinct shards. */
function pollOf(ds: readonly DispatcherDecision[]): Poll {
  expect(ds.length).toBeGreaterThan(0);
  const first = ds[0] as IdlePollMsg;
  for (const d of ds) {
    expect(d.kind).toBe('idle-poll');
    expect(d.from).toBe(ME);
    expect(d.to.part).toBe('shard');
    expect((d as IdlePollMsg).poll).toBe(first.poll);
  }
  return { poll: first.poll, shards: ds.map((d) => d.to.id) };
}

const check = (d: Dispatcher, free: number, jobs = 0, fell = false, now: Millis = 0): DispatcherDecision[] => {
  const out: DispatcherDecision[] = [];
  d.check(now, free, jobs, fell, out);
  return out;
};

/** Answers poll `p` from each of its shards, in order, with the given idle-list sizes; returns the decisions. */
function answerAll(d: Dispatcher, p: Poll, sizes: readonly number[], free: number, jobs = 0): DispatcherDecision[] {
  const out: DispatcherDecision[] = [];
  p.shards.forEach((s, i) => d.answered(p.poll, s, sizes[i] as number, free, jobs, out));
  return out;
}

/** A dispatcher that joined (with 1000 MB free) and then reported `free`, if that moved it enough. */
function member(free: number, over: Partial<DispatcherConfig> = {}): { d: Dispatcher; shard: number } {
  const d = make(over);
  const p = pollOf(check(d, 1000));
  answerAll(d, p, p.shards.map((_, i) => (i === 0 ? 0 : 5)), 1000);
  check(d, free);
  return { d, shard: p.shards[0] as number };
}

describe('Dispatcher joining an idle list', () => {
  it('polls k distinct shards, one idle-poll message each, when free memory rises above joinFreeMB', () => {
    const d = make();
    expect(check(d, 600)).toEqual([]); // not strictly above
    const out = check(d, 601);
    expect(out).toHaveLength(3);
    const p = pollOf(out);
    expect(p.poll).toBe(0);
    expect(new Set(p.shards).size).toBe(3);
    expect(p.shards.every((s) => s >= 0 && s < 8)).toBe(true);
    expect(out).toEqual(p.shards.map((s) => ({ kind: 'idle-poll', from: ME, to: shardAddress(s), poll: 0 })));
    expect(d.polling).toBe(true);
  });

  it('polls every shard when k exceeds their number', () => {
    const p = pollOf(check(make({ shards: 2, k: 5 }), 1000));
    expect([...p.shards].sort()).toEqual([0, 1]);
  });

  it('sends no second poll while one is outstanding', () => {
    const d = make();
    check(d, 1000);
    expect(check(d, 1000)).toEqual([]);
  });

  it('joins the polled shard with the fewest machines on its idle list, once every shard answered', () => {
    const d = make();
    const p = pollOf(check(d, 1000));
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, p.shards[0] as number, 4, 900, 2, out);
    d.answered(p.poll, p.shards[1] as number, 1, 900, 2, out);
    expect(out).toEqual([]); // the third shard has not answered
    expect(d.polling).toBe(true);
    d.answered(p.poll, p.shards[2] as number, 3, 900, 2, out);
    expect(out).toEqual([{ kind: 'idle-join', from: ME, to: shardAddress(p.shards[1] as number), freeMB: 900, jobs: 2 }]);
    expect(d.member).toBe(p.shards[1]);
    expect(d.polling).toBe(false);
  });

  it('takes the answers in whatever order they come, and decides with the memory and jobs of the last', () => {
    const d = make();
    const p = pollOf(check(d, 1000));
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, p.shards[2] as number, 0, 5000, 9, out);
    d.answered(p.poll, p.shards[0] as number, 2, 5000, 9, out);
    d.answered(p.poll, p.shards[1] as number, 1, 800, 4, out);
    expect(out).toEqual([{ kind: 'idle-join', from: ME, to: shardAddress(p.shards[2] as number), freeMB: 800, jobs: 4 }]);
  });

  it('breaks ties among the emptiest shards by its seeded stream', () => {
    const joined = (seed: number): number => {
      const d = make({ k: 2 }, seed);
      const p = pollOf(check(d, 1000));
      answerAll(d, p, [2, 2], 1000);
      return p.shards.indexOf(d.member);
    };
    const picks = Array.from({ length: 40 }, (_, s) => joined(s));
    expect(picks).toEqual(Array.from({ length: 40 }, (_, s) => joined(s)));
    expect(new Set(picks)).toEqual(new Set([0, 1]));
  });

  it('ignores a stale answer, and does not join if memory fell while it polled', () => {
    const d = make();
    const p = pollOf(check(d, 1000));
    const out: DispatcherDecision[] = [];
    for (const s of p.shards) d.answered(p.poll + 7, s, 0, 1000, 0, out);
    expect(out).toEqual([]);
    expect(d.polling).toBe(true);
    expect(answerAll(d, p, [0, 0, 0], 600)).toEqual([]);
    expect(d.member).toBe(-1);
    expect(d.polling).toBe(false);
    // It polls again once memory is high again, with a new poll id.
    expect(pollOf(check(d, 700)).poll).toBe(1);
  });

  it('ignores an answer from a shard it did not ask: it neither counts nor can be joined', () => {
    const d = make({ shards: 8, k: 2 });
    const p = pollOf(check(d, 1000));
    const other = [0, 1, 2, 3, 4, 5, 6, 7].find((s) => !p.shards.includes(s)) as number;
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, other, 0, 1000, 0, out);
    d.answered(p.poll, p.shards[0] as number, 4, 1000, 0, out);
    expect(out).toEqual([]);
    expect(d.polling).toBe(true);
    d.answered(p.poll, p.shards[1] as number, 6, 1000, 0, out);
    expect(out).toEqual([{ kind: 'idle-join', from: ME, to: shardAddress(p.shards[0] as number), freeMB: 1000, jobs: 0 }]);
  });

  it('ignores a duplicate answer: it neither completes the poll nor replaces the first', () => {
    const d = make({ k: 2 });
    const p = pollOf(check(d, 1000));
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, p.shards[0] as number, 5, 1000, 0, out);
    d.answered(p.poll, p.shards[0] as number, 0, 1000, 0, out);
    expect(out).toEqual([]);
    expect(d.polling).toBe(true);
    d.answered(p.poll, p.shards[1] as number, 3, 1000, 0, out);
    expect(out).toEqual([{ kind: 'idle-join', from: ME, to: shardAddress(p.shards[1] as number), freeMB: 1000, jobs: 0 }]);
  });

  it('ignores answers once it has joined', () => {
    const { d, shard } = member(1000);
    const out: DispatcherDecision[] = [];
    for (let s = 0; s < 8; s++) d.answered(0, s, 0, 1000, 0, out);
    d.answered(1, 0, 0, 1000, 0, out);
    expect(out).toEqual([]);
    expect(d.member).toBe(shard);
  });

  it('rejects leaveFreeMB above joinFreeMB (no hysteresis band)', () => {
    expect(() => make({ leaveFreeMB: 700 })).toThrow(/leaveFreeMB \(700\) must not exceed joinFreeMB \(600\)/);
  });

  it('rejects k < 1 and shards < 1, as Shard does', () => {
    expect(() => make({ k: 0 })).toThrow(RangeError);
    expect(() => make({ shards: 0 })).toThrow(RangeError);
    expect(() => make({ k: 1.5 })).toThrow(/shards and k must be whole numbers ≥ 1, got shards=8 k=1.5/);
  });
});

describe('Dispatcher when a shard loses its idle list (died or restarted)', () => {
  it('joins again if it was on that shard; another shard lost changes nothing', () => {
    const d = make();
    const p = pollOf(check(d, 1000));
    answerAll(d, p, p.shards.map(() => 0), 1000);
    const joined = d.member;
    expect(joined).toBeGreaterThanOrEqual(0);
    d.lost((joined + 1) % 8);
    expect(d.member).toBe(joined);
    expect(check(d, 1000)).toEqual([]);
    d.lost(joined);
    expect(d.member).toBe(-1);
    // The next look polls the shards again, and it joins one (the same rule as ever).
    const again = pollOf(check(d, 1000));
    const out = answerAll(d, again, again.shards.map((_, i) => i), 1000);
    expect(out).toMatchObject([{ kind: 'idle-join' }]);
  });
});

describe('Dispatcher poll timeout (pollTimeoutMs)', () => {
  it('has no deadline without a timeout or without a poll in flight', () => {
    const d = make();
    expect(d.deadline()).toBe(Infinity);
    check(d, 1000, 0, false, 10);
    expect(d.deadline()).toBe(Infinity);
    const t = make({ pollTimeoutMs: 40 });
    expect(t.deadline()).toBe(Infinity);
    const p = pollOf(check(t, 1000, 0, false, 10));
    expect(t.deadline()).toBe(50);
    answerAll(t, p, [0, 0, 0], 1000);
    expect(t.deadline()).toBe(Infinity);
  });

  it('does nothing on expire before the deadline, or without a timeout', () => {
    const d = make({ pollTimeoutMs: 40 });
    const p = pollOf(check(d, 1000, 0, false, 10));
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, p.shards[0] as number, 0, 1000, 0, out);
    d.expire(49, 1000, 0, out);
    expect(out).toEqual([]);
    expect([d.polling, d.deadline()]).toEqual([true, 50]);
    const never = make();
    const q = pollOf(check(never, 1000));
    never.answered(q.poll, q.shards[0] as number, 0, 1000, 0, out);
    never.expire(1e12, 1000, 0, out);
    expect(out).toEqual([]);
    expect(never.polling).toBe(true);
  });

  it('at the deadline joins the emptiest shard that answered, and ignores later answers', () => {
    const d = make({ pollTimeoutMs: 40 });
    const p = pollOf(check(d, 1000, 0, false, 10));
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, p.shards[0] as number, 3, 1000, 0, out);
    d.answered(p.poll, p.shards[2] as number, 1, 1000, 0, out);
    d.expire(50, 950, 2, out);
    expect(out).toEqual([{ kind: 'idle-join', from: ME, to: shardAddress(p.shards[2] as number), freeMB: 950, jobs: 2 }]);
    expect([d.member, d.polling, d.deadline()]).toEqual([p.shards[2], false, Infinity]);
    // The shard that did not answer in time (with the emptiest list) changes nothing now.
    d.answered(p.poll, p.shards[1] as number, 0, 1000, 0, out);
    expect(out).toHaveLength(1);
    expect(d.member).toBe(p.shards[2]);
  });

  it('with one answer at the deadline, joins that shard', () => {
    const d = make({ pollTimeoutMs: 40, k: 3 });
    const p = pollOf(check(d, 1000));
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, p.shards[1] as number, 9, 1000, 0, out);
    d.expire(40, 1000, 0, out);
    expect(out).toEqual([{ kind: 'idle-join', from: ME, to: shardAddress(p.shards[1] as number), freeMB: 1000, jobs: 0 }]);
  });

  it('gives the poll up at the deadline when no shard answered, and polls again (a new id) on the next check', () => {
    const d = make({ pollTimeoutMs: 40 });
    const p = pollOf(check(d, 1000, 0, false, 10));
    const out: DispatcherDecision[] = [];
    d.expire(50, 1000, 0, out);
    expect(out).toEqual([]);
    expect([d.member, d.polling, d.deadline()]).toEqual([-1, false, Infinity]);
    // Answers to the poll given up are ignored.
    answerAll(d, p, [0, 0, 0], 1000).forEach((x) => out.push(x));
    expect(out).toEqual([]);
    const q = pollOf(check(d, 1000, 0, false, 60));
    expect(q.poll).toBe(p.poll + 1);
    expect(d.deadline()).toBe(100);
    expect(answerAll(d, q, [2, 1, 2], 1000)).toEqual([{ kind: 'idle-join', from: ME, to: shardAddress(q.shards[1] as number), freeMB: 1000, jobs: 0 }]);
  });

  it('does not join at the deadline if memory fell while it polled', () => {
    const d = make({ pollTimeoutMs: 40 });
    const p = pollOf(check(d, 1000));
    const out: DispatcherDecision[] = [];
    d.answered(p.poll, p.shards[0] as number, 0, 1000, 0, out);
    d.expire(40, 500, 0, out);
    expect(out).toEqual([]);
    expect([d.member, d.polling]).toEqual([-1, false]);
  });
});

describe('Dispatcher as a member', () => {
  it('updates its entry when free memory moves by more than updateDeltaMB', () => {
    const { d, shard } = member(1000);
    const to = shardAddress(shard);
    expect(check(d, 1100)).toEqual([]);
    expect(check(d, 900)).toEqual([]);
    expect(check(d, 1101, 3)).toEqual([{ kind: 'idle-update', from: ME, to, freeMB: 1101, jobs: 3 }]);
    // The reference is now the last report (1101), not the join.
    expect(check(d, 1050)).toEqual([]);
    expect(check(d, 1000)).toEqual([{ kind: 'idle-update', from: ME, to, freeMB: 1000, jobs: 0 }]);
  });

  it('updates its entry when jobs finished, even if memory barely moved', () => {
    const { d, shard } = member(1000);
    expect(check(d, 1000, 4, true)).toEqual([{ kind: 'idle-update', from: ME, to: shardAddress(shard), freeMB: 1000, jobs: 4 }]);
  });

  it('leaves when free memory falls below leaveFreeMB', () => {
    const { d, shard } = member(300);
    expect(check(d, 200)).toEqual([]); // not strictly below
    expect(check(d, 199)).toEqual([{ kind: 'idle-leave', from: ME, to: shardAddress(shard) }]);
    expect(d.member).toBe(-1);
  });

  it('has hysteresis: it stays between leaveFreeMB and joinFreeMB, and rejoins only above joinFreeMB', () => {
    const { d } = member(700, { updateDeltaMB: 1000 });
    expect(check(d, 250)).toEqual([]); // below join, above leave: still a member
    expect(d.member).toBeGreaterThanOrEqual(0);
    expect(check(d, 150)[0]?.kind).toBe('idle-leave');
    expect(check(d, 500)).toEqual([]); // above leave, below join: stays out
    expect(check(d, 600)).toEqual([]);
    expect(check(d, 601)[0]?.kind).toBe('idle-poll');
  });

  it('has no deadline as a member', () => {
    const { d } = member(1000, { pollTimeoutMs: 5 });
    expect(d.deadline()).toBe(Infinity);
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
        const d = new Dispatcher(c, new Rng(1), ME);
        if (isMember) {
          const p: DispatcherDecision[] = [];
          d.check(0, cap - joinUsed, 0, false, p);
          if (p.length === 0) return true; // could not join from there: nothing to test
          answerAll(d, pollOf(p), [0, 0], cap - joinUsed);
        }
        const { low, high } = d.band(cap);
        const out: DispatcherDecision[] = [];
        d.check(0, cap - used, 0, false, out);
        return (used >= low && used <= high) === (out.length === 0);
      }),
    );
  });
});

describe('Dispatcher joining when idle (JIQ-Random: joinWhen idle)', () => {
  const jiq = (seed: number | string = 1) => make({ joinWhen: 'idle', k: 1 }, seed);
  const look = (d: Dispatcher, idle: boolean, free = 1000, jobs = 0): DispatcherDecision[] => {
    const out: DispatcherDecision[] = [];
    d.checkIdle(idle, free, jobs, out);
    return out;
  };

  it('joins one shard drawn at random, asking nothing, when the machine is idle; then waits to be taken off', () => {
    const d = jiq();
    expect(look(d, false)).toEqual([]);
    const [join] = look(d, true, Infinity, 0);
    expect(join).toEqual({ kind: 'idle-join', from: ME, to: shardAddress(d.member), freeMB: 0, jobs: 0 }); // unlimited memory: 0, for the record
    expect(d.polling).toBe(false);
    // On a list: nothing more, busy or idle, whatever the memory does — no update, no leave.
    expect(look(d, false, 10)).toEqual([]);
    expect(look(d, true, 5000)).toEqual([]);
    expect(check(d, 10, 3, true)).toEqual([]);
  });

  it('joins again, at a fresh draw, once the shard took it off and it is idle again', () => {
    const d = jiq();
    look(d, true);
    const first = d.member;
    d.taken(first === 0 ? 1 : 0); // another shard's placement: still on its list
    expect(d.member).toBe(first);
    d.taken(first);
    expect(d.member).toBe(-1);
    expect(look(d, false)).toEqual([]);
    expect(look(d, true)).toHaveLength(1);
  });

  it('spreads its joins over every shard, uniformly (over seeds)', () => {
    const counts = new Array<number>(CFG.shards).fill(0);
    for (let seed = 0; seed < 800; seed++) {
      const d = jiq(seed);
      look(d, true);
      counts[d.member] = (counts[d.member] as number) + 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(60); // 100 expected each
  });

  it('has no memory band, and takes k = 1 only', () => {
    expect(jiq().band(1000)).toEqual({ low: -Infinity, high: Infinity });
    expect(() => make({ joinWhen: 'idle', k: 2 })).toThrow('dispatcher: JIQ joins one shard drawn at random (k = 1), got k=2');
  });

  it('is not taken off a list by a placement in memory mode (Fare’s idle lists keep their entries)', () => {
    const { d, shard } = member(1000);
    d.taken(shard);
    expect(d.member).toBe(shard);
  });
});
