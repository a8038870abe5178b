import { describe, expect, it } from 'vitest';
import { Shard, type ShardConfig, type ShardDecision } from './shard.ts';
import { Rng } from '../rng.ts';
import { InvariantError } from '../types.ts';
import { Tracer } from '../testkit/trace.ts';
import { job, shardConfig } from '../testkit/fixtures.ts';

const shard = (over: Partial<ShardConfig> = {}, seed: number | string = 1) => new Shard(shardConfig(over), new Rng(seed).fork('shard/0'));

function take(s: Shard): ShardDecision[] {
  const out = s.ready().slice();
  s.advance();
  return out;
}

function onlyPoll(ds: readonly ShardDecision[]): Extract<ShardDecision, { kind: 'poll' }> {
  expect(ds).toHaveLength(1);
  const d = ds[0];
  if (d?.kind !== 'poll') throw new Error(`expected a poll, got ${JSON.stringify(d)}`);
  return d;
}

describe('Shard placement from the idle list', () => {
  it('places on the idle machine with the fewest jobs, at once', () => {
    const s = shard();
    s.step(0, { kind: 'idle-join', machine: 3, freeMB: 9000, jobs: 2 });
    s.step(0, { kind: 'idle-join', machine: 5, freeMB: 1000, jobs: 0 });
    take(s);
    s.step(4, { kind: 'arrive', job: job(1, 2, 4) });
    expect(take(s)).toEqual([{ kind: 'place', job: job(1, 2, 4), machine: 5, via: 'idle-list', waited: 0 }]);
    expect(s.waiting).toBe(0);
  });

  it('counts each placement against the entry until the machine reports', () => {
    const s = shard();
    s.step(0, { kind: 'idle-join', machine: 3, freeMB: 1000, jobs: 2 });
    s.step(0, { kind: 'idle-join', machine: 5, freeMB: 1000, jobs: 0 });
    const placed: number[] = [];
    for (let i = 1; i <= 4; i++) {
      s.step(i, { kind: 'arrive', job: job(i, 0, i) });
      for (const d of take(s)) if (d.kind === 'place') placed.push(d.machine);
    }
    // 5 takes two (0 → 2 jobs), then the two machines are level and alternate.
    expect(placed.slice(0, 2)).toEqual([5, 5]);
    expect(placed.slice(2).sort()).toEqual([3, 5]);
    s.step(5, { kind: 'idle-update', machine: 3, freeMB: 1000, jobs: 0 });
    s.step(5, { kind: 'arrive', job: job(5, 0, 5) });
    expect(take(s).at(-1)).toMatchObject({ kind: 'place', machine: 3 });
  });

  it('places queued jobs as soon as a machine joins the idle list', () => {
    const s = shard({ maxOutstandingPolls: 0 });
    s.step(0, { kind: 'arrive', job: job(1, 3, 0) });
    s.step(1, { kind: 'arrive', job: job(2, 0, 1) });
    expect(take(s)).toEqual([]);
    expect(s.waiting).toBe(2);
    s.step(10, { kind: 'idle-join', machine: 6, freeMB: 1000, jobs: 0 });
    // price-wait at t=10: job 1 scores 0.5 × 10 = 5, job 2 scores 2 × 9 = 18.
    expect(take(s)).toEqual([
      { kind: 'place', job: job(2, 0, 1), machine: 6, via: 'idle-list', waited: 9 },
      { kind: 'place', job: job(1, 3, 0), machine: 6, via: 'idle-list', waited: 10 },
    ]);
  });

  it('stops using a machine once it leaves', () => {
    const s = shard();
    s.step(0, { kind: 'idle-join', machine: 2, freeMB: 1000, jobs: 0 });
    s.step(0, { kind: 'idle-leave', machine: 2 });
    s.step(1, { kind: 'arrive', job: job(1, 0, 1) });
    expect(onlyPoll(take(s)).job).toBe(1);
    expect(s.idleEntries()).toEqual([]);
  });

  it('ignores joins and updates when configured without an idle list', () => {
    const s = shard({ useIdleList: false });
    s.step(0, { kind: 'idle-join', machine: 2, freeMB: 1000, jobs: 0 });
    s.step(0, { kind: 'idle-update', machine: 2, freeMB: 1000, jobs: 0 });
    expect(s.idleEntries()).toEqual([]);
    s.step(1, { kind: 'arrive', job: job(1, 0, 1) });
    expect(take(s)[0]?.kind).toBe('poll');
  });
});

describe('Shard placement by power-of-k polling', () => {
  it('polls k distinct machines for a job when the idle list is empty', () => {
    for (let seed = 0; seed < 50; seed++) {
      const s = shard({ k: 3, machines: 5 }, seed);
      s.step(0, { kind: 'arrive', job: job(1, 1, 0) });
      const p = onlyPoll(take(s));
      expect(p.job).toBe(1);
      expect(new Set(p.machines).size).toBe(3);
      expect(p.machines.every((m) => Number.isInteger(m) && m >= 0 && m < 5)).toBe(true);
    }
  });

  it('polls every machine when k exceeds the number of machines', () => {
    const s = shard({ k: 10, machines: 3 });
    s.step(0, { kind: 'arrive', job: job(1, 1, 0) });
    expect([...onlyPoll(take(s)).machines].sort()).toEqual([0, 1, 2]);
  });

  it('places the polled job on the least-loaded polled machine when the answer comes', () => {
    const s = shard({ k: 3 });
    s.step(0, { kind: 'arrive', job: job(1, 1, 0) });
    const p = onlyPoll(take(s));
    expect(s.pollsInFlight).toBe(1);
    s.step(7, { kind: 'polled', poll: p.poll, loads: [5, 1, 3] });
    expect(take(s)).toEqual([{ kind: 'place', job: job(1, 1, 0), machine: p.machines[1], via: 'power-of-k', waited: 7 }]);
    expect(s.pollsInFlight).toBe(0);
  });

  it('breaks load ties by the shard’s seeded stream: repeatable, and not always the first machine', () => {
    const chosen = (seed: number): number => {
      const s = shard({ k: 2 }, seed);
      s.step(0, { kind: 'arrive', job: job(1, 1, 0) });
      const p = onlyPoll(take(s));
      s.step(1, { kind: 'polled', poll: p.poll, loads: [2, 2] });
      const d = take(s)[0];
      return p.machines.indexOf(d?.kind === 'place' ? d.machine : -1);
    };
    const picks = Array.from({ length: 40 }, (_, seed) => chosen(seed));
    expect(picks).toEqual(Array.from({ length: 40 }, (_, seed) => chosen(seed)));
    expect(new Set(picks)).toEqual(new Set([0, 1]));
  });

  it('matches answers to their polls when they come out of order, however long a poll stays in flight', () => {
    const s = shard({ maxOutstandingPolls: 1000, k: 2, machines: 50 });
    const polls: Extract<ShardDecision, { kind: 'poll' }>[] = [];
    const issue = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        s.step(i, { kind: 'arrive', job: job(i, i % 4, i) });
        const p = onlyPoll(take(s));
        polls.push({ ...p, machines: [...p.machines] });
      }
    };
    issue(0, 40);
    // Answer every poll but the first, newest first; issue many more while poll 0 waits (its ring
    // position is needed again and again), then answer the rest, poll 0 last.
    for (let i = 39; i >= 1; i--) s.step(100, { kind: 'polled', poll: (polls[i] as { poll: number }).poll, loads: [0, 1] });
    take(s);
    issue(40, 300);
    expect(s.pollsInFlight).toBe(261);
    for (let i = 40; i < 300; i++) {
      const p = polls[i] as (typeof polls)[number];
      s.step(400, { kind: 'polled', poll: p.poll, loads: [1, 0] });
      expect(take(s)).toEqual([{ kind: 'place', job: job(i, i % 4, i), machine: p.machines[1], via: 'power-of-k', waited: 400 - i }]);
    }
    const first = polls[0] as (typeof polls)[number];
    s.step(500, { kind: 'polled', poll: first.poll, loads: [0, 9] });
    expect(take(s)).toEqual([{ kind: 'place', job: job(0, 0, 0), machine: first.machines[0], via: 'power-of-k', waited: 500 }]);
    expect(s.pollsInFlight).toBe(0);
    expect(() => s.step(501, { kind: 'polled', poll: first.poll, loads: [0, 0] })).toThrow(InvariantError);
  });

  it('keeps at most maxOutstandingPolls polls in flight; an answer releases the next job', () => {
    const s = shard({ maxOutstandingPolls: 2, selection: 'strict' });
    for (let i = 1; i <= 4; i++) s.step(0, { kind: 'arrive', job: job(i, 4 - i, 0) });
    const first = take(s);
    expect(first.map((d) => (d.kind === 'poll' ? d.job : -1))).toEqual([1, 2]);
    expect(s.pollsInFlight).toBe(2);
    expect(s.waiting).toBe(2);
    s.step(1, { kind: 'arrive', job: job(5, 0, 1) });
    expect(take(s)).toEqual([]);
    const p = first[0]?.kind === 'poll' ? first[0] : undefined;
    s.step(2, { kind: 'polled', poll: p?.poll ?? -1, loads: [0, 0] });
    const next = take(s);
    expect(next.map((d) => d.kind)).toEqual(['place', 'poll']);
    expect(next[1]).toMatchObject({ kind: 'poll', job: 4 }); // strict: class 0 (jobs 4, then 5) before class 1 (job 3)
    expect(s.waiting).toBe(2);
  });

  it('uses the idle list even while polls are at their limit', () => {
    const s = shard({ maxOutstandingPolls: 1 });
    s.step(0, { kind: 'arrive', job: job(1, 0, 0) });
    s.step(0, { kind: 'arrive', job: job(2, 0, 0) });
    take(s);
    s.step(1, { kind: 'idle-join', machine: 4, freeMB: 1000, jobs: 0 });
    expect(take(s)).toEqual([{ kind: 'place', job: job(2, 0, 0), machine: 4, via: 'idle-list', waited: 1 }]);
  });

  it('throws on an answer to an unknown poll, naming the shard and the seed', () => {
    const s = shard();
    expect(() => s.step(0, { kind: 'polled', poll: 3, loads: [0, 0] })).toThrow(InvariantError);
    expect(() => s.step(0, { kind: 'polled', poll: 3, loads: [0, 0] })).toThrow(/shard 0: answer to unknown poll 3 \[seed=1\/shard\/0/);
  });

  it('throws on an answer already given (the poll is forgotten once answered)', () => {
    const s = shard();
    s.step(0, { kind: 'arrive', job: job(1, 0, 0) });
    const p = onlyPoll(take(s));
    s.step(1, { kind: 'polled', poll: p.poll, loads: [0, 1] });
    expect(() => s.step(2, { kind: 'polled', poll: p.poll, loads: [0, 1] })).toThrow(/unknown poll/);
  });

  it('throws on an answer with the wrong number of loads', () => {
    const s = shard({ k: 2 });
    s.step(0, { kind: 'arrive', job: job(1, 0, 0) });
    const p = onlyPoll(take(s));
    expect(() => s.step(1, { kind: 'polled', poll: p.poll, loads: [0] })).toThrow(/poll answered with 1 loads for 2 machines/);
  });
});

describe('Shard arrivals', () => {
  it('refuses a job whose class the price table does not have, whether or not others wait', () => {
    const s = shard({ k: 2, machines: 4 });
    expect(() => s.step(0, { kind: 'arrive', job: job(1, 9, 0), loads: [0, 0, 0, 0] })).toThrow(/job 1 has class 9, but the shard has 4 classes/);
    expect(() => s.step(0, { kind: 'arrive', job: job(2, -1, 0) })).toThrow(/job 2 has class -1/);
    expect(take(s)).toEqual([]);
    expect(s.waiting).toBe(0);
  });
});

describe('Shard polls answered within the step (arrivals with the machines’ loads)', () => {
  it('places at once on the least-loaded of the k machines it samples, with no poll decision', () => {
    const loads = [9, 9, 9, 9, 9, 9, 9, 9, 9, 9];
    const withPoll = shard({ k: 3, machines: 10 });
    withPoll.step(0, { kind: 'arrive', job: job(1, 1, 0) });
    const p = onlyPoll(take(withPoll));
    loads[p.machines[2] as number] = 4;
    const now = shard({ k: 3, machines: 10 });
    now.step(0, { kind: 'arrive', job: job(1, 1, 0), loads });
    expect(take(now)).toEqual([{ kind: 'place', job: job(1, 1, 0), machine: p.machines[2], via: 'power-of-k', waited: 0 }]);
    expect(now.pollsInFlight).toBe(0);
  });

  it('makes the same placements, ties included, as polls answered later with the same loads', () => {
    const loads = Array.from({ length: 20 }, (_, i) => i % 3);
    const viaPolls = shard({ k: 3, machines: 20 }, 7);
    const atOnce = shard({ k: 3, machines: 20 }, 7);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 200; i++) {
      viaPolls.step(i, { kind: 'arrive', job: job(i, i % 4, i) });
      const p = onlyPoll(take(viaPolls));
      viaPolls.step(i, { kind: 'polled', poll: p.poll, loads: p.machines.map((m) => loads[m] as number) });
      for (const d of take(viaPolls)) if (d.kind === 'place') a.push(d.machine);
      atOnce.step(i, { kind: 'arrive', job: job(i, i % 4, i), loads });
      for (const d of take(atOnce)) if (d.kind === 'place') b.push(d.machine);
    }
    expect(b).toEqual(a);
    // Ties happened (loads repeat every three machines) and were not always broken the same way.
    expect(new Set(b).size).toBeGreaterThan(10);
  });

  it('still uses the idle list first', () => {
    const s = shard({ k: 3, machines: 10 });
    s.step(0, { kind: 'idle-join', machine: 6, freeMB: 1000, jobs: 0 });
    take(s);
    s.step(1, { kind: 'arrive', job: job(1, 0, 1), loads: new Array<number>(10).fill(0) });
    expect(take(s)).toEqual([{ kind: 'place', job: job(1, 0, 1), machine: 6, via: 'idle-list', waited: 0 }]);
  });
});

describe('Shard contract', () => {
  it('validates k and machines', () => {
    expect(() => shard({ k: 0 })).toThrow(/k must be ≥ 1, got 0/);
    expect(() => shard({ machines: 0 })).toThrow(/needs at least one machine/);
  });

  it('never asks to be woken: it acts only on inputs', () => {
    const s = shard();
    s.step(0, { kind: 'arrive', job: job(1, 0, 0) });
    expect(s.nextDeadline()).toBe(Infinity);
  });

  it('accumulates decisions across steps until advance', () => {
    const s = shard();
    s.step(0, { kind: 'idle-join', machine: 1, freeMB: 1000, jobs: 0 });
    s.step(1, { kind: 'arrive', job: job(1, 0, 1) });
    s.step(2, { kind: 'arrive', job: job(2, 0, 2) });
    expect(s.ready()).toHaveLength(2);
    s.advance();
    expect(s.ready()).toEqual([]);
  });

  it('makes the same decisions for the same seed and inputs', () => {
    const run = () => {
      const t = new Tracer();
      const s = shard({ k: 3, machines: 50 }, 'same');
      for (let i = 0; i < 20; i++) t.step('s', s, i, { kind: 'arrive', job: job(i, i % 4, i) });
      return t.lines;
    };
    expect(run()).toEqual(run());
  });
});

describe('Shard story (golden trace)', () => {
  it('uses the idle list while it lasts, then polls, one poll in flight at a time', () => {
    const s = new Shard(shardConfig({ maxOutstandingPolls: 1 }), new Rng(1).fork('shard/0'));
    const t = new Tracer({ inputs: true });
    t.step('shard/0', s, 0, { kind: 'idle-join', machine: 3, freeMB: 4000, jobs: 1 });
    t.step('shard/0', s, 0, { kind: 'idle-join', machine: 5, freeMB: 2000, jobs: 0 });
    t.step('shard/0', s, 1, { kind: 'arrive', job: job(1, 2, 1) });
    t.step('shard/0', s, 2, { kind: 'arrive', job: job(2, 0, 2) });
    t.step('shard/0', s, 3, { kind: 'arrive', job: job(3, 0, 3) });
    t.step('shard/0', s, 4, { kind: 'idle-leave', machine: 3 });
    t.step('shard/0', s, 4, { kind: 'idle-leave', machine: 5 });
    t.step('shard/0', s, 5, { kind: 'arrive', job: job(4, 3, 5) });
    t.step('shard/0', s, 6, { kind: 'arrive', job: job(5, 0, 6) });
    t.step('shard/0', s, 7, { kind: 'arrive', job: job(6, 3, 7) });
    t.step('shard/0', s, 9, { kind: 'polled', poll: 0, loads: [4, 2] });
    t.step('shard/0', s, 10, { kind: 'polled', poll: 1, loads: [1, 1] });
    t.step('shard/0', s, 11, { kind: 'idle-join', machine: 6, freeMB: 3000, jobs: 2 });
    expect(t.lines).toEqual([
      't=0 shard/0 < idle-join machine=3 freeMB=4000 jobs=1',
      't=0 shard/0 < idle-join machine=5 freeMB=2000 jobs=0',
      't=1 shard/0 < arrive job=1',
      't=1 shard/0 place job=1 machine=5 via=idle-list waited=0', // 5 has the fewest jobs
      't=2 shard/0 < arrive job=2',
      't=2 shard/0 place job=2 machine=3 via=idle-list waited=0', // 3 and 5 tied at one job: the stream chose 3
      't=3 shard/0 < arrive job=3',
      't=3 shard/0 place job=3 machine=5 via=idle-list waited=0',
      't=4 shard/0 < idle-leave machine=3',
      't=4 shard/0 < idle-leave machine=5',
      't=5 shard/0 < arrive job=4',
      't=5 shard/0 poll poll=0 job=4 machines=[4,5]',
      't=6 shard/0 < arrive job=5', // poll limit reached: jobs 5 and 6 wait in the multi-queue
      't=7 shard/0 < arrive job=6',
      't=9 shard/0 < polled poll=0 loads=[4,2]',
      't=9 shard/0 place job=4 machine=5 via=power-of-k waited=4',
      't=9 shard/0 poll poll=1 job=5 machines=[5,6]', // price-wait: 2 × 3 for job 5 beats 0.5 × 2 for job 6
      't=10 shard/0 < polled poll=1 loads=[1,1]',
      't=10 shard/0 place job=5 machine=5 via=power-of-k waited=4',
      't=10 shard/0 poll poll=2 job=6 machines=[2,7]',
      't=11 shard/0 < idle-join machine=6 freeMB=3000 jobs=2', // job 6 is bound to poll 2 and stays so
    ]);
  });
});

describe('Shard idle list under reordered messages', () => {
  it('ignores an update from a machine that has already left (it does not re-add it)', () => {
    const s = shard({ useIdleList: true });
    s.step(0, { kind: 'idle-join', machine: 4, freeMB: 1000, jobs: 0 });
    s.step(1, { kind: 'idle-leave', machine: 4 });
    s.step(2, { kind: 'idle-update', machine: 4, freeMB: 900, jobs: 1 });
    expect(s.idleEntries()).toEqual([]);
    s.step(3, { kind: 'idle-join', machine: 4, freeMB: 800, jobs: 2 });
    expect(s.idleEntries()).toEqual([{ machine: 4, freeMB: 800, jobs: 2 }]);
  });
});
