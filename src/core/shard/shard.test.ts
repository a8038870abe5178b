import { describe, expect, it } from 'vitest';
import { Shard, type ShardConfig, type ShardDecision, type ShardInput } from './shard.ts';
import { Rng } from '../rng.ts';
import type { Job, MachineId, Millis } from '../types.ts';
import { Tracer } from '../testkit/trace.ts';
import { job, shardConfig } from '../testkit/fixtures.ts';
import {
  formatDecisionLine, gatewayAddress, machineAddress, shardAddress,
  type Cargo, type IdleAnswerMsg, type PlaceMsg, type Placement,
} from '../protocol.ts';

const shard = (over: Partial<ShardConfig> = {}, seed: number | string = 1) => new Shard(shardConfig(over), new Rng(seed).fork('shard/0'));

const GW = gatewayAddress(0);
const S0 = shardAddress(0);

// The shard's inputs, as the protocol carries them to shard 0.
const arrive = (j: Job, cargo?: Cargo): ShardInput => (cargo === undefined ? { kind: 'arrive', from: GW, to: S0, job: j } : { kind: 'arrive', from: GW, to: S0, job: j, cargo });
const join = (m: MachineId, freeMB: number, jobs: number): ShardInput => ({ kind: 'idle-join', from: machineAddress(m), to: S0, freeMB, jobs });
const update = (m: MachineId, freeMB: number, jobs: number): ShardInput => ({ kind: 'idle-update', from: machineAddress(m), to: S0, freeMB, jobs });
const leave = (m: MachineId): ShardInput => ({ kind: 'idle-leave', from: machineAddress(m), to: S0 });
const answer = (poll: number, m: MachineId, jobs: number): ShardInput => ({ kind: 'poll-answer', from: machineAddress(m), to: S0, poll, jobs });
const idlePoll = (m: MachineId, poll: number): ShardInput => ({ kind: 'idle-poll', from: machineAddress(m), to: S0, poll });
const TICK: ShardInput = { kind: 'tick' };

/** The place message the shard sends for `j` to machine `m`. */
const place = (j: Job, m: MachineId, via: Placement, waited: Millis, cargo?: Cargo): PlaceMsg => ({ kind: 'place', from: S0, to: machineAddress(m), job: j, via, waited, cargo });

function take(s: Shard): ShardDecision[] {
  const out = s.ready().slice();
  s.advance();
  return out;
}

/** One poll as the test sees it: its id, its job and the machines asked, in the order of its messages. */
interface Poll {
  readonly poll: number;
  readonly job: number;
  readonly machines: MachineId[];
}

/** The poll messages among `ds`, grouped by poll (in the order they were sent), checking each message. */
function pollsIn(ds: readonly ShardDecision[]): Poll[] {
  const polls: Poll[] = [];
  for (const d of ds) {
    if (d.kind !== 'poll') continue;
    expect(d.from).toBe(S0);
    expect(d.to.part).toBe('machine');
    let p = polls.find((q) => q.poll === d.poll);
    if (p === undefined) {
      p = { poll: d.poll, job: d.job, machines: [] };
      polls.push(p);
    }
    expect(d.job).toBe(p.job);
    p.machines.push(d.to.id);
  }
  return polls;
}

/** The decisions are the messages of exactly one poll. */
function onlyPoll(ds: readonly ShardDecision[]): Poll {
  expect(ds.every((d) => d.kind === 'poll')).toBe(true);
  const ps = pollsIn(ds);
  expect(ps).toHaveLength(1);
  return ps[0] as Poll;
}

/** Answers poll `p` from each of its machines, in order, with the given loads; returns the decisions. */
function answerAll(s: Shard, now: Millis, p: Poll, loads: readonly number[]): ShardDecision[] {
  expect(loads).toHaveLength(p.machines.length);
  p.machines.forEach((m, i) => s.step(now, answer(p.poll, m, loads[i] as number)));
  return take(s);
}

const placedOn = (ds: readonly ShardDecision[]): MachineId[] => ds.flatMap((d) => (d.kind === 'place' ? [d.to.id] : []));

describe('Shard placement from the idle list', () => {
  it('places on the idle machine with the fewest jobs, at once', () => {
    const s = shard();
    s.step(0, join(3, 9000, 2));
    s.step(0, join(5, 1000, 0));
    expect(take(s)).toEqual([]);
    s.step(4, arrive(job(1, 2, 4)));
    expect(take(s)).toEqual([place(job(1, 2, 4), 5, 'idle-list', 0)]);
    expect(s.waiting).toBe(0);
  });

  it('counts each placement against the entry until the machine reports', () => {
    const s = shard();
    s.step(0, join(3, 1000, 2));
    s.step(0, join(5, 1000, 0));
    const placed: number[] = [];
    for (let i = 1; i <= 4; i++) {
      s.step(i, arrive(job(i, 0, i)));
      placed.push(...placedOn(take(s)));
    }
    // 5 takes two (0 → 2 jobs), then the two machines are level and alternate.
    expect(placed.slice(0, 2)).toEqual([5, 5]);
    expect(placed.slice(2).sort()).toEqual([3, 5]);
    s.step(5, update(3, 1000, 0));
    s.step(5, arrive(job(5, 0, 5)));
    expect(take(s).at(-1)).toMatchObject({ kind: 'place', to: machineAddress(3) });
  });

  it('with idleNeedsCore, places from the idle list only while its emptiest machine has a free core; else polls', () => {
    const s = shard({ idleNeedsCore: true });
    s.step(0, { kind: 'idle-join', from: machineAddress(3), to: S0, freeMB: 9000, jobs: 1, cores: 2 });
    s.step(1, arrive(job(1, 0, 1)));
    expect(take(s)).toEqual([place(job(1, 0, 1), 3, 'idle-list', 0)]);
    // Machine 3 now has 2 jobs on 2 cores as far as the shard knows: the next job is polled for,
    // though 3 is still listed (it has the memory).
    s.step(2, arrive(job(2, 0, 2)));
    expect(onlyPoll(take(s)).job).toBe(2);
    expect(s.idleEntries()).toEqual([{ machine: 3, freeMB: 9000, jobs: 2 }]);
    // A job finished there (an update without cores keeps them): the list takes jobs again.
    s.step(3, update(3, 9000, 1));
    s.step(3, arrive(job(3, 0, 3)));
    expect(take(s)).toEqual([place(job(3, 0, 3), 3, 'idle-list', 0)]);
  });

  it('with idleNeedsCore, a job whose polled machines are all short of memory goes to the idle list\'s machine, busy cores and all', () => {
    const s = shard({ idleNeedsCore: true, k: 2, machines: 4 });
    s.step(0, { kind: 'idle-join', from: machineAddress(3), to: S0, freeMB: 9000, jobs: 2, cores: 2 });
    s.step(1, arrive(job(1, 0, 1)));
    const p = onlyPoll(take(s));
    const lowMem = (m: MachineId, jobs: number): ShardInput => ({ kind: 'poll-answer', from: machineAddress(m), to: S0, poll: p.poll, jobs, memoryLow: true });
    s.step(2, lowMem(p.machines[0] as MachineId, 0));
    s.step(2, lowMem(p.machines[1] as MachineId, 1));
    expect(take(s)).toEqual([place(job(1, 0, 1), 3, 'idle-list', 1)]);
    expect(s.idleEntries()).toEqual([{ machine: 3, freeMB: 9000, jobs: 3 }]);
    // One polled machine with the memory: it gets the next job, however loaded.
    s.step(3, arrive(job(2, 0, 3)));
    const q = onlyPoll(take(s));
    s.step(4, { kind: 'poll-answer', from: machineAddress(q.machines[0] as MachineId), to: S0, poll: q.poll, jobs: 0, memoryLow: true });
    s.step(4, answer(q.poll, q.machines[1] as MachineId, 5));
    expect(placedOn(take(s))).toEqual([q.machines[1]]);
  });

  it('without idleNeedsCore (the paper\'s rule), or where a machine did not tell its cores, places from the idle list however many jobs', () => {
    for (const [over, cores] of [[{}, 1], [{ idleNeedsCore: true }, undefined]] as const) {
      const s = shard(over);
      s.step(0, { kind: 'idle-join', from: machineAddress(3), to: S0, freeMB: 9000, jobs: 5, ...(cores !== undefined ? { cores } : {}) });
      s.step(1, arrive(job(1, 0, 1)));
      expect(take(s)).toEqual([place(job(1, 0, 1), 3, 'idle-list', 0)]);
    }
  });

  it('places queued jobs as soon as a machine joins the idle list', () => {
    const s = shard({ maxOutstandingPolls: 0 });
    s.step(0, arrive(job(1, 3, 0)));
    s.step(1, arrive(job(2, 0, 1)));
    expect(take(s)).toEqual([]);
    expect(s.waiting).toBe(2);
    s.step(10, join(6, 1000, 0));
    // price-wait at t=10: job 1 scores 0.5 × 10 = 5, job 2 scores 2 × 9 = 18.
    expect(take(s)).toEqual([place(job(2, 0, 1), 6, 'idle-list', 9), place(job(1, 3, 0), 6, 'idle-list', 10)]);
  });

  it('stops using a machine once it leaves', () => {
    const s = shard();
    s.step(0, join(2, 1000, 0));
    s.step(0, leave(2));
    s.step(1, arrive(job(1, 0, 1)));
    expect(onlyPoll(take(s)).job).toBe(1);
    expect(s.idleEntries()).toEqual([]);
  });

  it('ignores joins and updates when configured without an idle list', () => {
    const s = shard({ useIdleList: false });
    s.step(0, join(2, 1000, 0));
    s.step(0, update(2, 1000, 0));
    expect(s.idleEntries()).toEqual([]);
    s.step(1, arrive(job(1, 0, 1)));
    expect(take(s)[0]?.kind).toBe('poll');
  });

  it('takes the machine of an idle-list message from its sender’s address', () => {
    const s = shard();
    s.step(0, join(7, 1234, 3));
    s.step(0, join(2, 500, 1));
    s.step(1, update(7, 1200, 0));
    expect(s.idleEntries()).toEqual([{ machine: 7, freeMB: 1200, jobs: 0 }, { machine: 2, freeMB: 500, jobs: 1 }]);
    s.step(2, leave(7));
    expect(s.idleEntries()).toEqual([{ machine: 2, freeMB: 500, jobs: 1 }]);
  });
});

describe('Shard answering a dispatcher’s idle-list poll', () => {
  it('answers at once with its idle list’s size, to the machine that asked, with the poll’s id', () => {
    const s = shard();
    s.step(0, idlePoll(4, 0));
    expect(take(s)).toEqual([{ kind: 'idle-answer', from: S0, to: machineAddress(4), poll: 0, size: 0 } satisfies IdleAnswerMsg]);
    s.step(1, join(1, 1000, 0));
    s.step(1, join(2, 1000, 0));
    s.step(2, idlePoll(9, 17));
    s.step(2, idlePoll(4, 1));
    expect(take(s)).toEqual([
      { kind: 'idle-answer', from: S0, to: machineAddress(9), poll: 17, size: 2 },
      { kind: 'idle-answer', from: S0, to: machineAddress(4), poll: 1, size: 2 },
    ]);
    s.step(3, leave(1));
    s.step(3, idlePoll(4, 2));
    expect(take(s)).toEqual([{ kind: 'idle-answer', from: S0, to: machineAddress(4), poll: 2, size: 1 }]);
  });

  it('answers 0 without an idle list, and changes nothing else (queued jobs stay queued)', () => {
    const s = shard({ useIdleList: false, maxOutstandingPolls: 0 });
    s.step(0, join(1, 1000, 0));
    s.step(0, arrive(job(1, 0, 0)));
    take(s);
    s.step(1, idlePoll(3, 5));
    expect(take(s)).toEqual([{ kind: 'idle-answer', from: S0, to: machineAddress(3), poll: 5, size: 0 }]);
    expect([s.waiting, s.pollsInFlight, s.idleEntries()]).toEqual([1, 0, []]);
  });
});

describe('Shard placement by power-of-k polling', () => {
  it('sends one poll message to each of k distinct machines, all for the same job and poll', () => {
    for (let seed = 0; seed < 50; seed++) {
      const s = shard({ k: 3, machines: 5 }, seed);
      s.step(0, arrive(job(1, 1, 0)));
      const ds = take(s);
      expect(ds).toHaveLength(3);
      const p = onlyPoll(ds);
      expect(p).toMatchObject({ poll: 0, job: 1 });
      expect(new Set(p.machines).size).toBe(3);
      expect(p.machines.every((m) => Number.isInteger(m) && m >= 0 && m < 5)).toBe(true);
      // Each message is addressed with the interned machine address.
      for (const d of ds) expect(d.to).toBe(machineAddress(d.to.id));
    }
  });

  it('polls every machine when k exceeds the number of machines', () => {
    const s = shard({ k: 10, machines: 3 });
    s.step(0, arrive(job(1, 1, 0)));
    expect([...onlyPoll(take(s)).machines].sort()).toEqual([0, 1, 2]);
  });

  it('numbers its polls 0, 1, 2, …', () => {
    const s = shard({ k: 2 });
    for (let i = 0; i < 3; i++) s.step(i, arrive(job(i, 0, i)));
    expect(pollsIn(take(s)).map((p) => [p.poll, p.job])).toEqual([[0, 0], [1, 1], [2, 2]]);
  });

  it('places the polled job on the least-loaded polled machine, only once every polled machine answered', () => {
    const s = shard({ k: 3 });
    s.step(0, arrive(job(1, 1, 0)));
    const p = onlyPoll(take(s));
    expect(s.pollsInFlight).toBe(1);
    s.step(5, answer(p.poll, p.machines[0] as number, 5));
    s.step(6, answer(p.poll, p.machines[1] as number, 1));
    expect(take(s)).toEqual([]); // one machine has not answered yet
    expect(s.pollsInFlight).toBe(1);
    s.step(7, answer(p.poll, p.machines[2] as number, 3));
    expect(take(s)).toEqual([place(job(1, 1, 0), p.machines[1] as number, 'power-of-k', 7)]);
    expect(s.pollsInFlight).toBe(0);
  });

  it('packs (Hermod as published): the fullest polled machine with a free core; when none has one, the least loaded', () => {
    const s = shard({ k: 3, machines: 20, packBelow: 8 });
    const placeWith = (loads: readonly number[]): number | undefined => {
      s.step(0, arrive(job(1, 1, 0)));
      const p = onlyPoll(take(s));
      p.machines.forEach((m, i) => s.step(1, answer(p.poll, m, loads[i] as number)));
      const on = placedOn(take(s))[0];
      return p.machines.indexOf(on as number);
    };
    expect(placeWith([3, 7, 8])).toBe(1); // 7 of 8 cores busy: the fullest with room
    expect(placeWith([0, 2, 1])).toBe(1);
    expect(placeWith([9, 8, 12])).toBe(1); // none has room: the least loaded
    expect(placeWith([12, 8, 0])).toBe(2); // an empty machine has room
  });

  it('takes the answers in whatever order they come', () => {
    const s = shard({ k: 4, machines: 20 });
    s.step(0, arrive(job(1, 1, 0)));
    const p = onlyPoll(take(s));
    const loads = new Map(p.machines.map((m, i) => [m, [7, 3, 0, 9][i] as number]));
    for (const m of [...p.machines].reverse()) s.step(2, answer(p.poll, m, loads.get(m) as number));
    expect(placedOn(take(s))).toEqual([p.machines[2]]);
  });

  it('breaks load ties by the shard’s seeded stream: repeatable, and not always the first machine', () => {
    const chosen = (seed: number): number => {
      const s = shard({ k: 2 }, seed);
      s.step(0, arrive(job(1, 1, 0)));
      const p = onlyPoll(take(s));
      return p.machines.indexOf(placedOn(answerAll(s, 1, p, [2, 2]))[0] ?? -1);
    };
    const picks = Array.from({ length: 40 }, (_, seed) => chosen(seed));
    expect(picks).toEqual(Array.from({ length: 40 }, (_, seed) => chosen(seed)));
    expect(new Set(picks)).toEqual(new Set([0, 1]));
  });

  it('breaks a tie among k machines uniformly, whatever order their answers come in', () => {
    // Reservoir sampling over the answers: each of three tied machines by about a third.
    const counts = [0, 0, 0];
    for (let seed = 0; seed < 600; seed++) {
      const s = shard({ k: 3, machines: 3 }, seed);
      s.step(0, arrive(job(1, 1, 0)));
      const p = onlyPoll(take(s));
      // The first answer is the least loaded only until the tie comes: it must not win more often.
      const at = p.machines.indexOf(placedOn(answerAll(s, 1, p, [4, 4, 4]))[0] ?? -1);
      counts[at] = (counts[at] ?? 0) + 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(150);
    expect(counts.reduce((a, b) => a + b)).toBe(600);
  });

  it('keeps the least loaded machine when a tie comes after it (ties only among the least loaded)', () => {
    for (let seed = 0; seed < 30; seed++) {
      const s = shard({ k: 3 }, seed);
      s.step(0, arrive(job(1, 1, 0)));
      const p = onlyPoll(take(s));
      expect(placedOn(answerAll(s, 1, p, [1, 2, 2]))).toEqual([p.machines[0]]);
    }
  });

  it('matches answers to their polls when they come out of order, however long a poll stays in flight', () => {
    const s = shard({ maxOutstandingPolls: 1000, k: 2, machines: 50 });
    const polls: Poll[] = [];
    const issue = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        s.step(i, arrive(job(i, i % 4, i)));
        polls.push(onlyPoll(take(s)));
      }
    };
    issue(0, 40);
    // Answer every poll but the first, newest first; issue many more while poll 0 waits (its ring
    // position is needed again and again), then answer the rest, poll 0 last.
    for (let i = 39; i >= 1; i--) answerAll(s, 100, polls[i] as Poll, [0, 1]);
    issue(40, 300);
    expect(s.pollsInFlight).toBe(261);
    for (let i = 40; i < 300; i++) {
      const p = polls[i] as Poll;
      expect(answerAll(s, 400, p, [1, 0])).toEqual([place(job(i, i % 4, i), p.machines[1] as number, 'power-of-k', 400 - i)]);
    }
    const first = polls[0] as Poll;
    expect(answerAll(s, 500, first, [0, 9])).toEqual([place(job(0, 0, 0), first.machines[0] as number, 'power-of-k', 500)]);
    expect(s.pollsInFlight).toBe(0);
  });

  it('matches answers of interleaved polls to their own poll', () => {
    const s = shard({ k: 2, machines: 4 }, 3);
    s.step(0, arrive(job(1, 0, 0)));
    s.step(0, arrive(job(2, 0, 0)));
    const [a, b] = pollsIn(take(s)) as [Poll, Poll];
    s.step(1, answer(a.poll, a.machines[0] as number, 3));
    s.step(1, answer(b.poll, b.machines[0] as number, 0));
    s.step(1, answer(a.poll, a.machines[1] as number, 2)); // completes a
    const da = take(s);
    expect(da).toEqual([place(job(1, 0, 0), a.machines[1] as number, 'power-of-k', 1)]);
    s.step(2, answer(b.poll, b.machines[1] as number, 5)); // completes b
    expect(take(s)).toEqual([place(job(2, 0, 0), b.machines[0] as number, 'power-of-k', 2)]);
  });

  it('keeps at most maxOutstandingPolls polls in flight; an answer releases the next job', () => {
    const s = shard({ maxOutstandingPolls: 2, selection: 'strict' });
    for (let i = 1; i <= 4; i++) s.step(0, arrive(job(i, 4 - i, 0)));
    const first = pollsIn(take(s));
    expect(first.map((p) => p.job)).toEqual([1, 2]);
    expect(s.pollsInFlight).toBe(2);
    expect(s.waiting).toBe(2);
    s.step(1, arrive(job(5, 0, 1)));
    expect(take(s)).toEqual([]);
    const next = answerAll(s, 2, first[0] as Poll, [0, 0]);
    expect(next.map((d) => d.kind)).toEqual(['place', 'poll', 'poll']);
    expect(onlyPoll(next.slice(1)).job).toBe(4); // strict: class 0 (jobs 4, then 5) before class 1 (job 3)
    expect(s.waiting).toBe(2);
    expect(s.pollsInFlight).toBe(2);
  });

  it('uses the idle list even while polls are at their limit', () => {
    const s = shard({ maxOutstandingPolls: 1 });
    s.step(0, arrive(job(1, 0, 0)));
    s.step(0, arrive(job(2, 0, 0)));
    take(s);
    s.step(1, join(4, 1000, 0));
    expect(take(s)).toEqual([place(job(2, 0, 0), 4, 'idle-list', 1)]);
  });

  it('keeps a job bound to its poll when a machine joins the idle list meanwhile', () => {
    const s = shard({ k: 2 });
    s.step(0, arrive(job(1, 0, 0)));
    const p = onlyPoll(take(s));
    s.step(1, join(6, 1000, 0));
    expect(take(s)).toEqual([]);
    expect(placedOn(answerAll(s, 2, p, [3, 1]))).toEqual([p.machines[1]]);
  });
});

describe('Shard poll answers delivered together (stepAnswers)', () => {
  it('decides exactly as a step with each answer in turn, ties and the polls they free included', () => {
    // Two shards with the same stream: one reads each answer in its own step, the other all of a
    // batch at once; answers come in the order the machines were polled, with ties among them.
    const one = shard({ k: 3, maxOutstandingPolls: 2 }, 7), batch = shard({ k: 3, maxOutstandingPolls: 2 }, 7);
    const a: string[] = [], b: string[] = [];
    const log = (into: string[], ds: readonly ShardDecision[]): void => { for (const d of ds) into.push(formatDecisionLine(S0, d)); };
    for (let i = 0; i < 6; i++) {
      one.step(i, arrive(job(i, i % 3, i)));
      batch.step(i, arrive(job(i, i % 3, i)));
      const da = take(one), db = take(batch);
      log(a, da);
      log(b, db);
      for (const p of pollsIn(da)) {
        const loads = p.machines.map((m) => (m + i) % 2);
        const msgs = p.machines.map((m, j) => ({ kind: 'poll-answer' as const, from: machineAddress(m), to: S0, poll: p.poll, jobs: loads[j] as number }));
        for (const m of msgs) one.step(i + 0.5, m);
        log(a, take(one));
        batch.stepAnswers(i + 0.5, [answer(999, 0, 0) as never, ...msgs], 1, msgs.length);
        log(b, take(batch));
      }
    }
    expect(a.some((l) => l.includes(' place '))).toBe(true);
    expect(b).toEqual(a);
  });
});

describe('Shard answers it does not wait for', () => {
  it('ignores an answer to a poll it never sent', () => {
    const s = shard();
    s.step(0, answer(3, 1, 0));
    s.step(0, answer(-1, 1, 0));
    s.step(0, answer(0.5, 1, 0));
    expect(take(s)).toEqual([]);
    expect(s.pollsInFlight).toBe(0);
  });

  it('ignores an answer from a machine it did not poll, which does not count towards the poll', () => {
    const s = shard({ k: 2, machines: 8 });
    s.step(0, arrive(job(1, 0, 0)));
    const p = onlyPoll(take(s));
    const other = [0, 1, 2, 3, 4, 5, 6, 7].find((m) => !p.machines.includes(m)) as number;
    s.step(1, answer(p.poll, other, 0));
    s.step(1, answer(p.poll, p.machines[0] as number, 4));
    expect(take(s)).toEqual([]); // the foreign answer did not complete the poll
    s.step(2, answer(p.poll, other, 0));
    s.step(2, answer(p.poll, p.machines[1] as number, 6));
    expect(take(s)).toEqual([place(job(1, 0, 0), p.machines[0] as number, 'power-of-k', 2)]); // nor was it a candidate
  });

  it('ignores a duplicate answer: it neither completes the poll nor changes the machine’s load', () => {
    const s = shard({ k: 2 });
    s.step(0, arrive(job(1, 0, 0)));
    const p = onlyPoll(take(s));
    s.step(1, answer(p.poll, p.machines[0] as number, 5));
    s.step(1, answer(p.poll, p.machines[0] as number, 0)); // a duplicate, with a lower load
    expect(take(s)).toEqual([]);
    expect(s.pollsInFlight).toBe(1);
    s.step(2, answer(p.poll, p.machines[1] as number, 3));
    expect(take(s)).toEqual([place(job(1, 0, 0), p.machines[1] as number, 'power-of-k', 2)]);
  });

  it('ignores an answer to a poll that is over, even after its ring position was reused', () => {
    const s = shard({ k: 2, maxOutstandingPolls: 100 });
    s.step(0, arrive(job(1, 0, 0)));
    const p = onlyPoll(take(s));
    answerAll(s, 1, p, [0, 1]);
    s.step(2, answer(p.poll, p.machines[0] as number, 0));
    expect(take(s)).toEqual([]);
    // Sixteen polls later poll 0's position holds poll 16: a late answer to poll 0 does not touch it.
    const later: Poll[] = [];
    for (let i = 2; i <= 17; i++) {
      s.step(3, arrive(job(i, 0, 3)));
      later.push(onlyPoll(take(s)));
    }
    const p16 = later[15] as Poll;
    expect(p16.poll).toBe(16);
    for (const m of p.machines) s.step(4, answer(p.poll, m, 0));
    expect(take(s)).toEqual([]);
    expect(s.pollsInFlight).toBe(16);
    expect(placedOn(answerAll(s, 5, p16, [2, 1]))).toEqual([p16.machines[1]]);
  });
});

describe('Shard poll timeout (pollTimeoutMs)', () => {
  it('has no deadline without a timeout, even with polls in flight', () => {
    const s = shard();
    s.step(0, arrive(job(1, 0, 0)));
    expect(s.pollsInFlight).toBe(1);
    expect(s.nextDeadline()).toBe(Infinity);
    s.step(1e9, TICK);
    expect(take(s).filter((d) => d.kind !== 'poll')).toEqual([]);
    expect(s.pollsInFlight).toBe(1);
  });

  it('is due at the oldest poll’s send time plus the timeout, and has no deadline without a poll', () => {
    const s = shard({ pollTimeoutMs: 50, maxOutstandingPolls: 10 });
    expect(s.nextDeadline()).toBe(Infinity);
    s.step(10, arrive(job(1, 0, 10)));
    s.step(25, arrive(job(2, 0, 25)));
    const [a, b] = pollsIn(take(s)) as [Poll, Poll];
    expect(s.nextDeadline()).toBe(60);
    answerAll(s, 30, a, [0, 0]);
    expect(s.nextDeadline()).toBe(75); // the oldest in flight is now poll b
    answerAll(s, 31, b, [0, 0]);
    expect(s.nextDeadline()).toBe(Infinity);
  });

  it('does nothing on a tick before the deadline', () => {
    const s = shard({ pollTimeoutMs: 50 });
    s.step(0, arrive(job(1, 0, 0)));
    const p = onlyPoll(take(s));
    s.step(1, answer(p.poll, p.machines[0] as number, 0));
    s.step(49, TICK);
    expect(take(s)).toEqual([]);
    expect([s.pollsInFlight, s.nextDeadline()]).toEqual([1, 50]);
  });

  it('places by the answers it has at the deadline, on the least loaded that answered, and ignores later answers', () => {
    const s = shard({ k: 3, pollTimeoutMs: 50, maxOutstandingPolls: 1 });
    s.step(0, arrive(job(1, 0, 0)));
    const p = onlyPoll(take(s));
    s.step(1, arrive(job(2, 0, 1))); // waits: the one poll allowed is in flight
    s.step(10, answer(p.poll, p.machines[0] as number, 4));
    s.step(20, answer(p.poll, p.machines[2] as number, 2));
    expect(take(s)).toEqual([]);
    s.step(50, TICK);
    const ds = take(s);
    // Placed on the better of the two that answered; the released slot polls for job 2.
    expect(ds[0]).toEqual(place(job(1, 0, 0), p.machines[2] as number, 'power-of-k', 50));
    const q = onlyPoll(ds.slice(1));
    expect(q).toMatchObject({ poll: p.poll + 1, job: 2 });
    expect(s.nextDeadline()).toBe(100);
    // The machine that answered late (with the lowest load) is too late.
    s.step(51, answer(p.poll, p.machines[1] as number, 0));
    expect(take(s)).toEqual([]);
    expect(s.pollsInFlight).toBe(1);
  });

  it('polls again, with a new poll id, a new sample and twice the wait, when no machine answered by the deadline', () => {
    const resamples = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const s = shard({ k: 2, machines: 8, pollTimeoutMs: 50 }, seed);
      s.step(0, arrive(job(1, 0, 0)));
      const p = onlyPoll(take(s));
      s.step(50, TICK);
      const q = onlyPoll(take(s));
      expect(q).toMatchObject({ poll: p.poll + 1, job: 1 });
      expect(new Set(q.machines).size).toBe(2);
      resamples.add(String([...q.machines].sort()) === String([...p.machines].sort()) ? 'same' : 'other');
      expect([s.pollsInFlight, s.nextDeadline()]).toEqual([1, 150]);
      // The first poll is over: its answers are ignored; the new one places the job.
      for (const m of p.machines) s.step(60, answer(p.poll, m, 0));
      expect(take(s)).toEqual([]);
      expect(answerAll(s, 70, q, [1, 0])).toEqual([place(job(1, 0, 0), q.machines[1] as number, 'power-of-k', 70)]);
      expect(s.nextDeadline()).toBe(Infinity);
    }
    expect(resamples).toContain('other'); // the machines are drawn afresh
  });

  it('places a job whose poll went unanswered from the idle list, if a machine joined meanwhile', () => {
    const s = shard({ pollTimeoutMs: 50 });
    s.step(0, arrive(job(1, 0, 0)));
    take(s);
    s.step(10, join(6, 1000, 0));
    s.step(50, TICK);
    expect(take(s)).toEqual([place(job(1, 0, 0), 6, 'idle-list', 50)]);
    expect([s.pollsInFlight, s.nextDeadline()]).toEqual([0, Infinity]);
  });

  it('on one late tick, handles every poll that is due, oldest first, and leaves the others', () => {
    const s = shard({ k: 2, pollTimeoutMs: 50, maxOutstandingPolls: 10 });
    const polls: Poll[] = [];
    for (const [t, id] of [[0, 1], [10, 2], [20, 3], [70, 4]] as const) {
      s.step(t, arrive(job(id, 0, t)));
      polls.push(onlyPoll(take(s)));
    }
    const [a, b, c, d] = polls as [Poll, Poll, Poll, Poll];
    expect([a.poll, b.poll, c.poll, d.poll]).toEqual([0, 1, 2, 3]);
    s.step(30, answer(b.poll, b.machines[1] as number, 0)); // b has one answer, a and d none
    answerAll(s, 30, c, [0, 0]); // c is placed before its deadline
    take(s);
    s.step(75, TICK); // a (due 50) and b (due 60) are due; d (due 120) is not
    const ds = take(s);
    expect(ds.map((x) => (x.kind === 'place' ? `place ${x.job.id}` : x.kind === 'poll' ? `poll ${x.poll} job=${x.job}` : x.kind))).toEqual([
      'poll 4 job=1', 'poll 4 job=1', // a polls again, with the next poll id
      'place 2', // b is placed on the machine that answered
    ]);
    expect(ds[2]).toEqual(place(job(2, 0, 10), b.machines[1] as number, 'power-of-k', 65));
    expect(s.pollsInFlight).toBe(2);
    expect(s.nextDeadline()).toBe(120); // d's; a's new poll waits twice as long: due at 75 + 100
    answerAll(s, 80, d, [0, 0]);
    expect(s.nextDeadline()).toBe(175);
  });

  it('re-polls for a job whose poll went unanswered even when polls are at their limit', () => {
    const s = shard({ k: 1, pollTimeoutMs: 50, maxOutstandingPolls: 1 });
    s.step(0, arrive(job(1, 0, 0)));
    s.step(0, arrive(job(2, 0, 0)));
    take(s);
    s.step(50, TICK);
    expect(pollsIn(take(s)).map((p) => p.job)).toEqual([1]); // the job keeps its place, job 2 still waits
    expect([s.pollsInFlight, s.waiting]).toEqual([1, 1]);
  });
});

describe('Shard arrivals', () => {
  it('refuses a job whose class the price table does not have, whether or not others wait', () => {
    const s = shard({ k: 2, machines: 4 });
    expect(() => s.step(0, arrive(job(1, 9, 0)))).toThrow(/job 1 has class 9, but the shard has 4 classes/);
    expect(() => s.step(0, arrive(job(2, -1, 0)))).toThrow(/job 2 has class -1/);
    expect(take(s)).toEqual([]);
    expect(s.waiting).toBe(0);
    s.step(0, { kind: 'arrive', from: GW, to: S0, job: job(3, 0, 0) });
    s.step(0, { kind: 'arrive', from: GW, to: S0, job: job(4, 0, 0) });
    expect(() => s.step(0, arrive(job(5, 4, 0)))).toThrow(/job 5 has class 4/);
  });

  it('carries an arrival’s cargo to the job’s placement, unread, by idle list or by poll, queued or not', () => {
    const s = shard({ k: 2, maxOutstandingPolls: 1 });
    const c1 = { fn: 'resize', payload: { w: 100 } };
    const c2 = { fn: 'thumb' };
    s.step(0, arrive(job(1, 0, 0), c1));
    s.step(0, arrive(job(2, 0, 0), c2)); // queued behind the poll limit
    s.step(0, arrive(job(3, 0, 0))); // no cargo
    const p = onlyPoll(take(s));
    const ds = answerAll(s, 1, p, [0, 1]);
    expect(ds[0]).toEqual(place(job(1, 0, 0), p.machines[0] as number, 'power-of-k', 1, c1));
    expect((ds[0] as PlaceMsg).cargo).toBe(c1);
    const q = onlyPoll(ds.slice(1)); // the poll released goes to job 2
    expect(q.job).toBe(2);
    const ds2 = answerAll(s, 2, q, [1, 0]);
    expect(ds2[0]).toEqual(place(job(2, 0, 0), q.machines[1] as number, 'power-of-k', 2, c2));
    const r = onlyPoll(ds2.slice(1));
    expect(answerAll(s, 3, r, [0, 0])[0]).toMatchObject({ kind: 'place', job: { id: 3 }, cargo: undefined });
    s.step(3, join(5, 1000, 0));
    const c4 = { fn: 'x' };
    s.step(3, arrive(job(4, 1, 3), c4));
    expect(take(s)).toEqual([place(job(4, 1, 3), 5, 'idle-list', 0, c4)]);
    // The cargo went with the job: a later job with the same id (not expected, but possible) has none.
    s.step(3, arrive(job(2, 0, 3)));
    expect(take(s)).toEqual([place(job(2, 0, 3), 5, 'idle-list', 0)]);
  });

  it('keeps a job’s cargo when its poll goes unanswered and it is polled for again', () => {
    const s = shard({ k: 2, pollTimeoutMs: 10 });
    const cargo = { fn: 'f' };
    s.step(0, arrive(job(1, 0, 0), cargo));
    take(s);
    s.step(10, TICK);
    const q = onlyPoll(take(s));
    expect(answerAll(s, 11, q, [0, 0])[0]).toMatchObject({ kind: 'place', cargo });
  });
});

describe('Shard contract', () => {
  it('validates k (1 to 30) and machines', () => {
    expect(() => shard({ k: 0 })).toThrow(/shard 0: k must be 1 to 30, got 0/);
    expect(() => shard({ k: 31 })).toThrow(/k must be 1 to 30, got 31/);
    expect(() => shard({ machines: 0 })).toThrow(/needs at least one machine/);
    const s = shard({ k: 30, machines: 40 });
    s.step(0, arrive(job(1, 0, 0)));
    const p = onlyPoll(take(s));
    expect(new Set(p.machines).size).toBe(30);
    // Every one of the 30 answers counts: the poll completes on the 30th, for the least loaded.
    const loads = p.machines.map((_, i) => (i === 29 ? 0 : 1));
    expect(placedOn(answerAll(s, 1, p, loads))).toEqual([p.machines[29]]);
  });

  it('has an address, shard/<id>, that its messages come from', () => {
    const s = shard({ id: 3 });
    expect(s.address).toBe(shardAddress(3));
    s.step(0, { kind: 'arrive', from: GW, to: shardAddress(3), job: job(1, 0, 0) });
    expect(take(s).every((d) => d.from === shardAddress(3))).toBe(true);
  });

  it('accumulates decisions across steps until advance', () => {
    const s = shard();
    s.step(0, join(1, 1000, 0));
    s.step(1, arrive(job(1, 0, 1)));
    s.step(2, arrive(job(2, 0, 2)));
    expect(s.ready()).toHaveLength(2);
    s.advance();
    expect(s.ready()).toEqual([]);
  });

  it('reuses its place messages after advance: a driver that keeps one copies it', () => {
    const s = shard();
    s.step(0, join(1, 1000, 0));
    s.step(1, arrive(job(1, 0, 1)));
    const first = s.ready()[0] as PlaceMsg;
    const copy = { ...first };
    s.advance();
    s.step(2, arrive(job(2, 0, 2)));
    expect(s.ready()[0]).toBe(first);
    expect(first.job.id).toBe(2);
    expect(copy).toEqual(place(job(1, 0, 1), 1, 'idle-list', 0));
  });

  it('makes the same decisions for the same seed and inputs', () => {
    const run = () => {
      const t = new Tracer();
      const s = shard({ k: 3, machines: 50 }, 'same');
      for (let i = 0; i < 20; i++) {
        for (const d of t.step('s', s, i, arrive(job(i, i % 4, i)))) {
          if (d.kind === 'poll' && i % 2 === 0) t.step('s', s, i, answer(d.poll, d.to.id, d.to.id % 3));
        }
      }
      return t.lines;
    };
    const lines = run();
    expect(lines).toEqual(run());
    expect(lines.some((l) => l.includes(' place '))).toBe(true);
  });
});

/** A story's trace: inputs as `< from → to kind …`, decisions as `from → to kind …` (formatDecisionLine). */
class Story {
  readonly lines: string[] = [];
  constructor(private readonly s: Shard) {}

  step(now: Millis, input: ShardInput, note = ''): ShardDecision[] {
    const line = input.kind === 'tick' || input.kind === 'members' ? formatDecisionLine(this.s.address, input) : formatDecisionLine(input.from, input);
    this.lines.push(`t=${now} < ${line}${note ? ` // ${note}` : ''}`);
    this.s.step(now, input);
    const out = take(this.s);
    for (const d of out) this.lines.push(`t=${now} ${formatDecisionLine(this.s.address, d)}`);
    return out;
  }
}

describe('Shard story (golden trace)', () => {
  it('uses the idle list while it lasts, then polls, one poll in flight at a time', () => {
    const s = new Shard(shardConfig({ maxOutstandingPolls: 1 }), new Rng(1).fork('shard/0'));
    const t = new Story(s);
    t.step(0, join(3, 4000, 1));
    t.step(0, join(5, 2000, 0));
    t.step(1, arrive(job(1, 2, 1)));
    t.step(2, arrive(job(2, 0, 2)));
    t.step(3, arrive(job(3, 0, 3)));
    t.step(4, leave(3));
    t.step(4, leave(5));
    t.step(5, arrive(job(4, 3, 5)));
    t.step(6, arrive(job(5, 0, 6)));
    t.step(7, arrive(job(6, 3, 7)));
    t.step(8, answer(0, 4, 4));
    t.step(9, answer(0, 5, 2));
    t.step(10, answer(1, 5, 1));
    t.step(10, answer(1, 6, 1));
    t.step(11, join(6, 3000, 2));
    expect(t.lines).toEqual([
      't=0 < machine/3 → shard/0 idle-join freeMB=4000 jobs=1',
      't=0 < machine/5 → shard/0 idle-join freeMB=2000 jobs=0',
      't=1 < gateway/0 → shard/0 arrive job=1',
      't=1 shard/0 → machine/5 place job=1 via=idle-list waited=0', // 5 has the fewest jobs
      't=2 < gateway/0 → shard/0 arrive job=2',
      't=2 shard/0 → machine/3 place job=2 via=idle-list waited=0', // 3 and 5 tied at one job: the stream chose 3
      't=3 < gateway/0 → shard/0 arrive job=3',
      't=3 shard/0 → machine/5 place job=3 via=idle-list waited=0',
      't=4 < machine/3 → shard/0 idle-leave',
      't=4 < machine/5 → shard/0 idle-leave',
      't=5 < gateway/0 → shard/0 arrive job=4',
      't=5 shard/0 → machine/4 poll poll=0 job=4', // the idle list is empty: poll k = 2 machines
      't=5 shard/0 → machine/5 poll poll=0 job=4',
      't=6 < gateway/0 → shard/0 arrive job=5', // poll limit reached: jobs 5 and 6 wait in the multi-queue
      't=7 < gateway/0 → shard/0 arrive job=6',
      't=8 < machine/4 → shard/0 poll-answer poll=0 jobs=4', // one answer of two: nothing yet
      't=9 < machine/5 → shard/0 poll-answer poll=0 jobs=2',
      't=9 shard/0 → machine/5 place job=4 via=power-of-k waited=4',
      't=9 shard/0 → machine/5 poll poll=1 job=5', // price-wait: 2 × 3 for job 5 beats 0.5 × 2 for job 6
      't=9 shard/0 → machine/6 poll poll=1 job=5',
      't=10 < machine/5 → shard/0 poll-answer poll=1 jobs=1',
      't=10 < machine/6 → shard/0 poll-answer poll=1 jobs=1',
      't=10 shard/0 → machine/5 place job=5 via=power-of-k waited=4', // a tie: the stream chose 5
      't=10 shard/0 → machine/2 poll poll=2 job=6',
      't=10 shard/0 → machine/7 poll poll=2 job=6',
      't=11 < machine/6 → shard/0 idle-join freeMB=3000 jobs=2', // job 6 is bound to poll 2 and stays so
    ]);
  });

  it('with a poll timeout: waits for every answer, places by those it has at the deadline, polls again when none came', () => {
    const s = new Shard(shardConfig({ machines: 6, k: 3, maxOutstandingPolls: 2, pollTimeoutMs: 100 }), new Rng(2).fork('shard/0'));
    const t = new Story(s);
    const deadlines: number[] = [];
    const polls = (ds: ShardDecision[]): Poll[] => pollsIn(ds);
    const [a] = polls(t.step(0, arrive(job(1, 1, 0))));
    const [b] = polls(t.step(20, arrive(job(2, 0, 20))));
    t.step(30, arrive(job(3, 0, 30)), 'two polls in flight: job 3 waits');
    deadlines.push(s.nextDeadline());
    const [a0, a1, a2] = (a as Poll).machines as [number, number, number];
    t.step(40, answer(0, a0, 3));
    t.step(50, answer(0, a2, 1));
    t.step(60, answer(0, a0, 0), 'a duplicate: ignored');
    t.step(70, idlePoll(4, 0), 'a dispatcher asks: the idle list is empty');
    t.step(99, TICK, 'too early');
    t.step(100, TICK, 'poll 0 is due');
    deadlines.push(s.nextDeadline());
    t.step(110, answer(0, a1, 0), 'too late');
    t.step(120, TICK, 'poll 1 is due, without answers');
    deadlines.push(s.nextDeadline());
    const [b0] = (b as Poll).machines as [number];
    t.step(130, answer(1, b0, 0), 'an answer to the poll that is over');
    expect(deadlines).toEqual([100, 120, 200]);
    expect(t.lines).toEqual([
      't=0 < gateway/0 → shard/0 arrive job=1',
      't=0 shard/0 → machine/4 poll poll=0 job=1', // k = 3 messages, one per machine
      't=0 shard/0 → machine/1 poll poll=0 job=1',
      't=0 shard/0 → machine/0 poll poll=0 job=1',
      't=20 < gateway/0 → shard/0 arrive job=2',
      't=20 shard/0 → machine/2 poll poll=1 job=2',
      't=20 shard/0 → machine/4 poll poll=1 job=2',
      't=20 shard/0 → machine/0 poll poll=1 job=2',
      't=30 < gateway/0 → shard/0 arrive job=3 // two polls in flight: job 3 waits',
      't=40 < machine/4 → shard/0 poll-answer poll=0 jobs=3',
      't=50 < machine/0 → shard/0 poll-answer poll=0 jobs=1',
      't=60 < machine/4 → shard/0 poll-answer poll=0 jobs=0 // a duplicate: ignored',
      't=70 < machine/4 → shard/0 idle-poll poll=0 // a dispatcher asks: the idle list is empty',
      't=70 shard/0 → machine/4 idle-answer poll=0 size=0',
      't=99 < shard/0 tick // too early',
      't=100 < shard/0 tick // poll 0 is due',
      't=100 shard/0 → machine/0 place job=1 via=power-of-k waited=100', // 0 (one job) beats 4 (three); 1 never answered
      't=100 shard/0 → machine/0 poll poll=2 job=3', // the poll released goes to job 3
      't=100 shard/0 → machine/5 poll poll=2 job=3',
      't=100 shard/0 → machine/1 poll poll=2 job=3',
      't=110 < machine/1 → shard/0 poll-answer poll=0 jobs=0 // too late',
      't=120 < shard/0 tick // poll 1 is due, without answers',
      't=120 shard/0 → machine/5 poll poll=3 job=2', // polled again: a new id, a new sample
      't=120 shard/0 → machine/0 poll poll=3 job=2',
      't=120 shard/0 → machine/3 poll poll=3 job=2',
      't=130 < machine/2 → shard/0 poll-answer poll=1 jobs=0 // an answer to the poll that is over',
    ]);
    expect(s.pollsInFlight).toBe(2);
  });
});

describe('Shard idle list under reordered messages', () => {
  it('ignores an update from a machine that has already left (it does not re-add it)', () => {
    const s = shard({ useIdleList: true });
    s.step(0, join(4, 1000, 0));
    s.step(1, leave(4));
    s.step(2, update(4, 900, 1));
    expect(s.idleEntries()).toEqual([]);
    s.step(3, join(4, 800, 2));
    expect(s.idleEntries()).toEqual([{ machine: 4, freeMB: 800, jobs: 2 }]);
  });

  it('ignores a leave from a machine that is not on the list', () => {
    const s = shard();
    s.step(0, join(1, 1000, 0));
    s.step(1, leave(4));
    expect(s.idleEntries()).toEqual([{ machine: 1, freeMB: 1000, jobs: 0 }]);
  });
});

describe('Shard membership (members inputs: the machines there are)', () => {
  const members = (machines: MachineId[]): ShardInput => ({ kind: 'members', machines });

  it('a dynamic shard knows no machine: jobs wait until one is there, then are placed', () => {
    const s = shard({ machines: 1, k: 2, useIdleList: false, membership: 'dynamic' });
    s.step(0, arrive(job(1, 0, 0)));
    s.step(1, arrive(job(2, 1, 1)));
    expect(take(s)).toEqual([]);
    expect(s.waiting).toBe(2);
    // One machine: placed there without polling, in the rule's order.
    s.step(5, members([7]));
    expect(take(s).map((d) => [d.kind, d.to.id, d.kind === 'place' ? d.job.id : -1])).toEqual([['place', 7, 1], ['place', 7, 2]]);
  });

  it('polls only members, drawn as from 0..n-1 and mapped to their ids', () => {
    const s = shard({ machines: 100, k: 2, useIdleList: false });
    s.step(0, members([3, 10, 42]));
    for (let i = 0; i < 30; i++) {
      s.step(i, arrive(job(i, 0, i)));
      const [p] = pollsIn(take(s));
      expect(p?.machines).toHaveLength(2);
      for (const m of p?.machines ?? []) expect([3, 10, 42]).toContain(m);
      expect(new Set(p?.machines).size).toBe(2);
      for (const m of p?.machines ?? []) s.step(i, answer(p?.poll ?? -1, m, 0));
      take(s);
    }
  });

  it('with the full set 0..n-1 as members it decides exactly as a static shard', () => {
    const a = shard({ machines: 6, k: 3, useIdleList: false }, 'same');
    const b = shard({ machines: 6, k: 3, useIdleList: false }, 'same');
    b.step(0, members([5, 4, 3, 2, 1, 0]));
    expect(take(b)).toEqual([]);
    for (let i = 0; i < 20; i++) {
      a.step(i, arrive(job(i, i % 4, i)));
      b.step(i, arrive(job(i, i % 4, i)));
      const da = take(a), db = take(b);
      expect(db).toEqual(da);
      for (const p of pollsIn(da)) for (const m of p.machines) {
        a.step(i, answer(p.poll, m, (m * 7 + i) % 3));
        b.step(i, answer(p.poll, m, (m * 7 + i) % 3));
        expect(take(b)).toEqual(take(a));
      }
    }
  });

  it('a machine that left is off the idle list (one not yet a member stays on it), and no machine left means jobs wait', () => {
    const s = shard({ machines: 4, k: 2, useIdleList: true });
    s.step(0, join(1, 500, 0));
    s.step(0, join(2, 500, 0));
    s.step(0, join(3, 500, 0));
    // Machine 3 joined before the shard heard of it as a member: it stays on the list.
    s.step(1, members([1, 2]));
    expect(s.idleEntries().map((e) => e.machine)).toEqual([1, 2, 3]);
    s.step(1, members([2, 3]));
    expect(s.idleEntries().map((e) => e.machine)).toEqual([2, 3]);
    s.step(2, members([]));
    expect(s.idleEntries()).toEqual([]);
    s.step(3, arrive(job(9, 0, 3)));
    expect(take(s)).toEqual([]);
    expect(s.waiting).toBe(1);
  });
});

describe('Shard: a job sent again by its gateway', () => {
  it('is kept once while it is here (queued or being polled for), and taken again once it has left', () => {
    const s = shard({ machines: 4, k: 2, useIdleList: false, maxOutstandingPolls: 1 });
    const cargo = { invocation: 'x' };
    s.step(0, arrive(job(1, 0, 0), cargo));
    const [p] = pollsIn(take(s));
    s.step(1, arrive(job(2, 0, 1), cargo));
    s.step(2, arrive(job(2, 0, 1), cargo)); // queued: not twice
    s.step(3, arrive(job(1, 0, 0), cargo)); // being polled for: not twice
    expect(take(s)).toEqual([]);
    expect(s.waiting).toBe(1);
    for (const m of p?.machines ?? []) s.step(4, answer(p?.poll ?? -1, m, 0));
    const out = take(s);
    expect(out.filter((d) => d.kind === 'place').map((d) => (d.kind === 'place' ? d.job.id : -1))).toEqual([1]);
    // Job 2 is polled for now (the poll slot is free again).
    expect(pollsIn(out).map((q) => q.job)).toEqual([2]);
    expect(s.waiting).toBe(0);
    // Job 1 has left: sent again (its placement was lost), it is queued again.
    s.step(5, arrive(job(1, 0, 0), cargo));
    expect(s.waiting).toBe(1);
  });
});

describe('Shard as JIQ’s dispatcher (idleQueue, placement random)', () => {
  const jiq = (over: Partial<ShardConfig> = {}) => shard({ machines: 8, k: 1, useIdleList: true, idleQueue: true, placement: 'random', ...over });

  it('places on the machine that joined its idle list first, and takes it off the list', () => {
    const s = jiq();
    s.step(0, join(5, 100, 0));
    s.step(1, join(2, 9000, 0));
    s.step(2, arrive(job(1, 0, 2)));
    expect(take(s)).toEqual([place(job(1, 0, 2), 5, 'idle-list', 0)]);
    expect(s.idleEntries().map((e) => e.machine)).toEqual([2]);
    s.step(3, arrive(job(2, 0, 3)));
    expect(placedOn(take(s))).toEqual([2]);
    expect(s.idleEntries()).toEqual([]);
  });

  it('with an empty idle list places on one machine drawn at random, asking nothing, however many jobs come at once', () => {
    const s = jiq({ maxOutstandingPolls: 1 });
    const on: MachineId[] = [];
    for (let i = 0; i < 400; i++) {
      s.step(i, arrive(job(i, 0, i)));
      const ds = take(s);
      expect(ds.map((d) => d.kind)).toEqual(['place']);
      expect(ds[0]?.kind === 'place' && ds[0].via).toBe('power-of-k');
      on.push(...placedOn(ds));
    }
    expect(s.pollsInFlight).toBe(0);
    // Every machine is drawn, about evenly (50 each expected).
    for (let m = 0; m < 8; m++) expect(on.filter((x) => x === m).length).toBeGreaterThan(25);
  });

  it('draws as a poll of one machine would: the same machines as the `random` preset’s polls', () => {
    const a = jiq({ useIdleList: false });
    const b = shard({ machines: 8, k: 1, useIdleList: false, selection: 'price-wait' });
    for (let i = 0; i < 20; i++) {
      a.step(i, arrive(job(i, 0, i)));
      b.step(i, arrive(job(i, 0, i)));
      const [p] = pollsIn(take(b));
      expect(placedOn(take(a))).toEqual(p?.machines);
      for (const m of p?.machines ?? []) b.step(i, answer(p?.poll ?? -1, m, 0));
      take(b);
    }
  });
});

describe('concurrency limits (an arrival with `cap`: Lambda\'s reserved concurrency)', () => {
  const KEY = 'acme/resize';
  const capped = (j: Job, limit: number, key = KEY, from = GW): ShardInput => ({ kind: 'arrive', from, to: S0, job: j, cap: { key, limit } });
  const left = (id: number, m: MachineId): ShardInput => ({ kind: 'left', from: machineAddress(m), to: S0, job: id });
  const release = (id: number): ShardInput => ({ kind: 'release', from: GW, to: S0, job: id });
  /** One machine: every job is placed on it at once, asking nothing. */
  const one = (): Shard => shard({ machines: 1, useIdleList: false });

  it('takes up to the limit, refuses the next to the gateway that sent it, and takes one more once one has left', () => {
    const s = one();
    s.step(0, capped(job(1, 0), 2));
    s.step(0, capped(job(2, 0), 2));
    expect(take(s)).toEqual([{ ...place(job(1, 0), 0, 'power-of-k', 0), capped: true }, { ...place(job(2, 0), 0, 'power-of-k', 0), capped: true }]);
    s.step(1, capped(job(3, 0), 2, KEY, gatewayAddress(4)));
    expect(take(s)).toEqual([{ kind: 'refused', from: S0, to: gatewayAddress(4), job: 3, limit: 2 }]);
    expect(s.cappedJobs(KEY)).toBe(2);
    s.step(2, left(1, 0));
    expect(take(s)).toEqual([]);
    expect(s.cappedJobs(KEY)).toBe(1);
    s.step(3, capped(job(4, 0, 3), 2));
    expect(take(s)).toEqual([{ ...place(job(4, 0, 3), 0, 'power-of-k', 0), capped: true }]);
  });

  it('limit 0 refuses every call; other functions, and calls without a limit, are not counted', () => {
    const s = one();
    s.step(0, capped(job(1, 0), 0));
    expect(take(s).map((d) => d.kind)).toEqual(['refused']);
    s.step(0, capped(job(2, 0), 1, 'acme/other'));
    s.step(0, arrive(job(3, 0)));
    const ds = take(s);
    expect(ds.map((d) => d.kind)).toEqual(['place', 'place']);
    // Only the limited function's placement says so (its machine then tells when it has left).
    expect(ds.map((d) => (d as PlaceMsg).capped)).toEqual([true, undefined]);
    expect(s.cappedJobs('acme/other')).toBe(1);
    expect(s.cappedJobs(KEY)).toBe(0);
  });

  it('counts a job from its arrival: a queued job holds its place too', () => {
    // Two machines, one poll at a time: the second job waits in the multi-queue.
    const s = shard({ machines: 2, useIdleList: false, maxOutstandingPolls: 1 });
    s.step(0, capped(job(1, 0), 2));
    s.step(0, capped(job(2, 0), 2));
    s.step(0, capped(job(3, 0), 2));
    expect(take(s).map((d) => d.kind)).toEqual(['poll', 'poll', 'refused']);
    expect(s.waiting).toBe(1);
  });

  it('a job sent again (its gateway heard nothing) is counted once; left and release of it count once', () => {
    const s = one();
    s.step(0, capped(job(1, 0), 1));
    s.step(1, capped(job(1, 0), 1));
    expect(take(s).map((d) => d.kind)).toEqual(['place', 'place']);
    expect(s.cappedJobs(KEY)).toBe(1);
    s.step(2, left(1, 0));
    s.step(2, release(1));
    s.step(2, left(1, 0));
    expect(s.cappedJobs(KEY)).toBe(0);
    s.step(3, capped(job(2, 0), 1));
    s.step(3, capped(job(3, 0), 1));
    expect(take(s).map((d) => d.kind)).toEqual(['place', 'refused']);
  });

  it('the jobs on a machine that left the cluster or restarted end with it; queued ones stay counted', () => {
    const s = shard({ machines: 1, membership: 'dynamic', useIdleList: false, maxOutstandingPolls: 1 });
    s.step(0, { kind: 'members', machines: [0, 1] });
    s.step(0, capped(job(1, 0), 3));
    const [p] = pollsIn(take(s));
    for (const m of p?.machines ?? []) s.step(1, answer(p?.poll ?? -1, m, m === 1 ? 0 : 5));
    expect(take(s)).toEqual([{ ...place(job(1, 0), 1, 'power-of-k', 1), capped: true }]);
    s.step(1, capped(job(2, 0, 1), 3));
    const [q] = pollsIn(take(s));
    for (const m of q?.machines ?? []) s.step(2, answer(q?.poll ?? -1, m, m === 0 ? 0 : 5));
    expect(take(s)).toEqual([{ ...place(job(2, 0, 1), 0, 'power-of-k', 1), capped: true }]);
    s.step(2, capped(job(3, 0, 2), 3)); // polled for: not placed yet
    take(s);
    expect(s.cappedJobs(KEY)).toBe(3);
    // Machine 1 restarted (it is a member still, but lost what it ran): job 1 ended there.
    s.step(3, { kind: 'members', machines: [0, 1], lost: [1] });
    expect(s.cappedJobs(KEY)).toBe(2);
    // Machine 0 left: job 2 ended; job 3, not placed, still counts.
    s.step(4, { kind: 'members', machines: [1] });
    expect(s.cappedJobs(KEY)).toBe(1);
  });
});
