import { describe, expect, it } from 'vitest';
import { Machine, type MachineConfig, type MachineDecision, type MachineInput } from './machine.ts';
import type { DispatcherConfig } from './dispatcher.ts';
import { Rng } from '../rng.ts';
import { InvariantError, type Millis, type ShardId } from '../types.ts';
import { runScript } from '../testkit/trace.ts';
import { execute, machineTarget } from '../testkit/executor.ts';
import { job, machineConfig } from '../testkit/fixtures.ts';
import { PS_QUANTUM_MS } from './run-queue.ts';
import { formatDecisionLine, machineAddress, shardAddress, type IdlePollMsg, type PollAnswerMsg } from '../protocol.ts';

const machine = (over: Partial<MachineConfig> = {}) => new Machine(machineConfig(over), new Rng(1).fork('machine/0'));

/** A shard's poll of machine `m` (power-of-k), and a shard's answer to machine `m`'s idle-list poll. */
const poll = (m: number, p: number, shard: ShardId = 0, jobId = 99): MachineInput => ({ kind: 'poll', from: shardAddress(shard), to: machineAddress(m), poll: p, job: jobId });
const idleAnswer = (m: number, p: number, shard: ShardId, size: number): MachineInput => ({ kind: 'idle-answer', from: shardAddress(shard), to: machineAddress(m), poll: p, size });

function take(m: Machine): MachineDecision[] {
  const out = m.ready().slice();
  m.advance();
  return out;
}

/** The shards a machine's idle-list poll went to (its decisions are that poll's messages, and maybe others). */
function idlePollOf(ds: readonly MachineDecision[]): { poll: number; shards: ShardId[] } {
  const ps = ds.filter((d): d is IdlePollMsg => d.kind === 'idle-poll');
  expect(ps.length).toBeGreaterThan(0);
  expect(new Set(ps.map((d) => d.poll)).size).toBe(1);
  return { poll: (ps[0] as IdlePollMsg).poll, shards: ps.map((d) => d.to.id) };
}

/** A story's trace: inputs as `< …`, decisions and messages as formatDecisionLine writes them. */
class Story {
  readonly lines: string[] = [];
  constructor(private readonly m: Machine) {}

  step(now: Millis, input: MachineInput, note = ''): MachineDecision[] {
    const line = 'from' in input ? formatDecisionLine(input.from, input) : formatDecisionLine(this.m.address, input);
    this.lines.push(`t=${now} < ${line}${note ? ` // ${note}` : ''}`);
    this.m.step(now, input);
    const out = take(this.m);
    for (const d of out) this.lines.push(`t=${now} ${formatDecisionLine(this.m.address, d)}`);
    return out;
  }
}

describe('Machine under priority', () => {
  it('preempts the latest-arrived job of the lowest running class for a higher-class arrival', () => {
    const trace = runScript('machine/0', machine({ cores: 3 }), [
      [0, { kind: 'arrive', job: job(1, 3, 0), memMB: 0 }],
      [1, { kind: 'arrive', job: job(2, 3, 1), memMB: 0 }],
      [2, { kind: 'arrive', job: job(3, 2, 2), memMB: 0 }],
      [3, { kind: 'arrive', job: job(4, 1, 3), memMB: 0 }],
      [4, { kind: 'arrive', job: job(5, 1, 4), memMB: 0 }],
      [5, { kind: 'arrive', job: job(6, 1, 5), memMB: 0 }],
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=1 machine/0 run job=2',
      't=2 machine/0 run job=3',
      't=3 machine/0 preempt job=2', // class 3 is lowest; 2 arrived after 1
      't=3 machine/0 run job=4',
      't=4 machine/0 preempt job=1',
      't=4 machine/0 run job=5',
      't=5 machine/0 preempt job=3',
      't=5 machine/0 run job=6',
    ]);
  });

  it('resumes a preempted job before later jobs of its class (it returns to the head)', () => {
    const r = execute(machineTarget(machine()), [
      { id: 1, arrival: 0, cls: 2, runtime: 5 },
      { id: 2, arrival: 1, cls: 2, runtime: 1 },
      { id: 3, arrival: 2, cls: 0, runtime: 2 },
    ]);
    expect(r.trace).toEqual([
      't=0 machine/0 run job=1',
      't=2 machine/0 preempt job=1',
      't=2 machine/0 run job=3',
      't=4 machine/0 run job=1',
      't=7 machine/0 run job=2',
    ]);
  });

  it('is first come, first served within a class, and never preempts within it', () => {
    const r = execute(machineTarget(machine({ cores: 2 })), [
      { id: 1, arrival: 0, cls: 1, runtime: 4 },
      { id: 2, arrival: 1, cls: 1, runtime: 4 },
      { id: 3, arrival: 2, cls: 1, runtime: 1 },
      { id: 4, arrival: 3, cls: 1, runtime: 1 },
    ]);
    expect(r.outcomes.map((o) => [o.job.id, o.start, o.finish, o.preemptions])).toEqual([
      [1, 0, 4, 0],
      [2, 1, 5, 0],
      [3, 4, 5, 0],
      [4, 5, 6, 0],
    ]);
  });

  it('within a class by round robin (ps): a slice ends at the machine\'s deadline, on a tick', () => {
    const m = machine({ cores: 1, within: 'ps' });
    const t = new Story(m);
    t.step(0, { kind: 'arrive', job: job(1, 1, 0), memMB: 0 });
    expect(m.nextDeadline()).toBe(Infinity); // alone: no slice to end
    t.step(3, { kind: 'arrive', job: job(2, 1, 1), memMB: 0 });
    t.step(4, { kind: 'arrive', job: job(3, 2, 2), memMB: 0 });
    expect(m.nextDeadline()).toBe(PS_QUANTUM_MS);
    t.step(PS_QUANTUM_MS, { kind: 'tick' });
    expect(m.nextDeadline()).toBe(2 * PS_QUANTUM_MS);
    t.step(25, { kind: 'complete', job: 2, memMB: 0 });
    // Job 1 resumes with a new slice, but nobody of its class waits: the lower class waits its turn.
    expect(m.nextDeadline()).toBe(Infinity);
    expect(t.lines).toEqual([
      't=0 < machine/0 arrive job=1 memMB=0',
      't=0 machine/0 run job=1',
      't=3 < machine/0 arrive job=2 memMB=0',
      't=4 < machine/0 arrive job=3 memMB=0', // class 2
      `t=${PS_QUANTUM_MS} < machine/0 tick`,
      `t=${PS_QUANTUM_MS} machine/0 preempt job=1`,
      `t=${PS_QUANTUM_MS} machine/0 run job=2`,
      't=25 < machine/0 complete job=2 memMB=0',
      't=25 machine/0 run job=1',
    ]);
  });

  it('starves a low class while higher classes keep the cores busy', () => {
    const r = execute(machineTarget(machine()), [
      { id: 1, arrival: 0, cls: 3, runtime: 1 },
      { id: 2, arrival: 0, cls: 0, runtime: 3 },
      { id: 3, arrival: 2, cls: 1, runtime: 3 },
      { id: 4, arrival: 4, cls: 2, runtime: 3 },
    ]);
    // Job 1 arrives first (id order at t=0) and runs, then is preempted at once by job 2.
    expect(r.byId.get(1)).toMatchObject({ start: 0, finish: 10, preemptions: 1 });
  });
});

describe('Machine under fcfs and ps', () => {
  it('fcfs never preempts and serves jobs in arrival order whatever their class', () => {
    const r = execute(machineTarget(machine({ policy: 'fcfs' })), [
      { id: 1, arrival: 0, cls: 3, runtime: 3 },
      { id: 2, arrival: 1, cls: 0, runtime: 1 },
      { id: 3, arrival: 1, cls: 2, runtime: 1 },
    ]);
    expect(r.trace).toEqual(['t=0 machine/0 run job=1', 't=3 machine/0 run job=2', 't=4 machine/0 run job=3']);
  });

  it('ps runs every job the moment it arrives, however many', () => {
    const trace = runScript('m', machine({ policy: 'ps', cores: 1 }), [
      [0, { kind: 'arrive', job: job(1, 3), memMB: 0 }],
      [0, { kind: 'arrive', job: job(2, 0), memMB: 0 }],
      [0, { kind: 'arrive', job: job(3, 1), memMB: 0 }],
      [1, { kind: 'complete', job: 2, memMB: 0 }],
    ]);
    expect(trace).toEqual(['t=0 m run job=1', 't=0 m run job=2', 't=0 m run job=3']);
  });
});

describe('Machine bookkeeping', () => {
  it('answers polls with the jobs on the machine, running or waiting, and counts their memory', () => {
    const m = machine({ memoryMB: 1000 });
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 10 });
    m.step(0, { kind: 'arrive', job: job(2, 1), memMB: 20 });
    expect([m.jobs, m.running, m.usedMB]).toEqual([2, 1, 30]);
    expect(m.slot(2)).toMatchObject({ running: false, started: false, memMB: 20, swapped: false });
    m.step(1, { kind: 'complete', job: 1, memMB: 10 });
    expect([m.jobs, m.running, m.usedMB]).toEqual([1, 1, 20]);
    expect(m.slot(1)).toBeUndefined();
  });

  it('does not count memory when it is unlimited', () => {
    const m = machine();
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 10 });
    m.step(1, { kind: 'memory', usedMB: 345 });
    expect([m.jobs, m.usedMB]).toEqual([1, 0]);
  });

  it('takes a memory reading as the new resident memory', () => {
    const m = machine({ memoryMB: 1000 });
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 10 });
    m.step(1, { kind: 'memory', usedMB: 345 });
    expect(m.usedMB).toBe(345);
  });

  it('ignores a stopped report for a job that is running again or gone', () => {
    const m = machine();
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 10 });
    m.step(1, { kind: 'stopped', job: 1, memMB: 99 });
    m.step(1, { kind: 'stopped', job: 42, memMB: 99 });
    expect(m.slot(1)?.memMB).toBe(10);
    expect(m.ready().map((d) => (d.kind === 'run' ? `run ${d.job.id}` : d.kind))).toEqual(['run 1']);
  });

  it('throws on a job arriving twice and on completing a job that is not running, naming machine and seed', () => {
    const m = machine();
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 0 });
    m.step(0, { kind: 'arrive', job: job(2, 1), memMB: 0 });
    expect(() => m.step(1, { kind: 'arrive', job: job(1, 1), memMB: 0 })).toThrow(InvariantError);
    expect(() => m.step(1, { kind: 'arrive', job: job(1, 1), memMB: 0 })).toThrow(/machine 0: job 1 arrived twice \[seed=1\/machine\/0/);
    expect(() => m.step(1, { kind: 'complete', job: 2, memMB: 0 })).toThrow(/completion of job 2, which is not running here/);
    expect(() => m.step(1, { kind: 'complete', job: 9, memMB: 0 })).toThrow(/completion of job 9/);
  });

  // BUG: Machine does not check a job's class on arrival. A job with cls ≥ cfg.classes that can start at
  // once is accepted silently; one that must wait crashes inside RunQueue.arrive with
  // "TypeError: Cannot read properties of undefined (reading 'push')" (waiting[cls] does not exist), after
  // the slot was registered and its memory counted, so the machine is left inconsistent (jobs = 1 but
  // slot(2) exists). Fix: in Machine.step 'arrive', before creating the slot, throw (RangeError, or
  // InvariantError with the seed, as MultiQueue.push does) unless Number.isInteger(cls) && 0 ≤ cls < cfg.classes.
  it('rejects a job whose class the machine does not have, before changing any state', () => {
    const m = machine({ classes: 4 });
    expect(() => m.step(0, { kind: 'arrive', job: job(1, 4), memMB: 0 })).toThrow(/class 4/);
    m.step(0, { kind: 'arrive', job: job(2, 0), memMB: 0 });
    expect(() => m.step(0, { kind: 'arrive', job: job(3, 9), memMB: 5 })).toThrow(/class 9/);
    expect([m.jobs, m.usedMB, m.slot(3)]).toEqual([1, 0, undefined]);
  });

  it('rejects a machine without cores', () => {
    expect(() => machine({ cores: 0 })).toThrow(/cores must be a whole number ≥ 1, got 0/);
    expect(() => machine({ cores: NaN })).toThrow(RangeError);
  });

  it('never asks to be woken without a poll of the shards in flight, and advance clears its decisions', () => {
    const m = machine();
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 0 });
    expect(m.nextDeadline()).toBe(Infinity);
    expect(m.ready()).toHaveLength(1);
    m.advance();
    expect(m.ready()).toEqual([]);
  });

  it('has an address, machine/<id>, that its messages come from', () => {
    const m = machine({ id: 12 });
    expect(m.address).toBe(machineAddress(12));
    m.step(0, poll(12, 0));
    expect(m.ready()[0]).toMatchObject({ from: machineAddress(12) });
  });

  it('gives an arrival the slot of a job that left, reset: nothing of the old job shows', () => {
    const m = machine({ cores: 1 });
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 5 });
    m.advance();
    m.step(1, { kind: 'arrive', job: job(2, 1), memMB: 6 });
    m.advance();
    const old = m.slot(1);
    m.step(2, { kind: 'complete', job: 1, memMB: 5 });
    m.advance();
    // Job 3 waits behind job 2 in the slot job 1 ran in.
    m.step(3, { kind: 'arrive', job: job(3, 1), memMB: 7 });
    expect(m.slot(3)).toBe(old);
    expect(m.slot(3)).toMatchObject({ job: { id: 3 }, running: false, started: false, swapped: false, blocked: false, memMB: 7 });
    expect(m.slot(1)).toBeUndefined();
    expect([m.jobs, m.running]).toEqual([2, 1]);
  });

  it('reuses its decision objects after advance: a driver that keeps one copies it', () => {
    const m = machine({ cores: 1 });
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 0 });
    const first = m.ready()[0];
    const copy = { ...first };
    m.advance();
    m.step(1, { kind: 'complete', job: 1, memMB: 0 });
    m.advance();
    m.step(2, { kind: 'arrive', job: job(2, 1), memMB: 0 });
    expect(m.ready()).toEqual([{ kind: 'run', job: job(2, 1) }]);
    expect(m.ready()[0]).toBe(first);
    expect(copy).toEqual({ kind: 'run', job: job(1, 1) });
  });

  it('has no idle shard without a dispatcher, and no memory band without memory management', () => {
    const m = machine();
    expect(m.idleShard).toBe(-1);
    expect(m.memoryBand()).toEqual({ low: -Infinity, high: Infinity });
  });

  it('asks for a memory reading above capacity when it swaps', () => {
    expect(machine({ memoryMB: 1000, swap: { enabled: true, targetFraction: 0.9 } }).memoryBand()).toEqual({ low: -Infinity, high: 1000 });
  });
});

const DISPATCHER: DispatcherConfig = { shards: 4, k: 2, joinFreeMB: 600, leaveFreeMB: 200, updateDeltaMB: 100 };
const withDispatcher = (over: Partial<DispatcherConfig> = {}, id = 7) =>
  new Machine(machineConfig({ id, memoryMB: 1000, dispatcher: { ...DISPATCHER, ...over } }), new Rng(1).fork(`machine/${id}`));

describe('Machine answering a shard’s poll', () => {
  it('answers at once, to the shard that asked, with the poll’s id and the jobs on it: running, waiting or blocked', () => {
    const m = machine({ id: 3, cores: 1 });
    m.step(0, poll(3, 0, 2, 11));
    expect(take(m)).toEqual([{ kind: 'poll-answer', from: machineAddress(3), to: shardAddress(2), poll: 0, jobs: 0 } satisfies PollAnswerMsg]);
    m.step(1, { kind: 'arrive', job: job(1, 1), memMB: 0 });
    m.step(1, { kind: 'arrive', job: job(2, 1), memMB: 0 });
    m.step(1, { kind: 'arrive', job: job(3, 1), memMB: 0 });
    m.step(2, { kind: 'block', job: 1 });
    take(m);
    m.step(3, poll(3, 41, 5));
    expect(take(m)).toEqual([{ kind: 'poll-answer', from: machineAddress(3), to: shardAddress(5), poll: 41, jobs: 3 }]);
    m.step(4, { kind: 'complete', job: 2, memMB: 0 });
    take(m);
    m.step(5, poll(3, 42, 0));
    expect(take(m)).toMatchObject([{ kind: 'poll-answer', poll: 42, jobs: 2 }]);
  });

  it('changes nothing else: no scheduling, no swapping, no idle-list message, no deadline', () => {
    const m = new Machine(
      machineConfig({ id: 2, memoryMB: 1000, swap: { enabled: true, targetFraction: 0.5 }, dispatcher: { ...DISPATCHER, pollTimeoutMs: 10 } }),
      new Rng(1).fork('machine/2'),
    );
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 500 });
    m.step(0, { kind: 'arrive', job: job(2, 2), memMB: 200 });
    m.step(0, { kind: 'memory', usedMB: 1200 }); // over capacity: job 2 is swapped out
    expect(take(m).map((d) => d.kind)).toEqual(['run', 'swap-out']);
    const state = () => [m.jobs, m.running, m.usedMB, m.idleShard, m.nextDeadline(), { ...m.memoryBand() }, { ...m.slot(1) }, { ...m.slot(2) }];
    const before = state();
    m.step(5, poll(2, 0, 1));
    // 1200 MB used of 1000: under the dispatcher's leave mark, so the answer says memory is low.
    expect(take(m)).toEqual([{ kind: 'poll-answer', from: machineAddress(2), to: shardAddress(1), poll: 0, jobs: 2, memoryLow: true }]);
    expect(state()).toEqual(before);
    // Memory frees: the dispatcher polls the shards, with a deadline at 16.
    m.step(6, { kind: 'memory', usedMB: 100 });
    const p = idlePollOf(take(m));
    expect(m.nextDeadline()).toBe(16);
    // A shard's poll past that deadline is no tick: the dispatcher's poll stays in flight, untouched.
    m.step(30, poll(2, 1, 0));
    expect(take(m)).toEqual([{ kind: 'poll-answer', from: machineAddress(2), to: shardAddress(0), poll: 1, jobs: 2 }]);
    expect(m.nextDeadline()).toBe(16);
    m.step(31, { kind: 'tick' });
    expect(idlePollOf(take(m)).poll).toBe(p.poll + 1);
  });

  it('answers a poll without a dispatcher too, and answers each poll of many, duplicates included', () => {
    const m = machine({ id: 0 });
    for (const p of [0, 1, 1, 7]) m.step(0, poll(0, p, p % 2));
    expect(take(m).map((d) => (d.kind === 'poll-answer' ? [d.poll, d.to.id, d.jobs] : d.kind))).toEqual([[0, 0, 0], [1, 1, 0], [1, 1, 0], [7, 1, 0]]);
  });
});

describe('Machine with a dispatcher (story)', () => {
  it('joins an idle list when memory is free, updates it, leaves under pressure, and rejoins', () => {
    const m = withDispatcher();
    expect(m.memoryBand()).toEqual({ low: 400, high: Infinity });
    const t = new Story(m);
    t.step(0, { kind: 'memory', usedMB: 0 });
    t.step(0, idleAnswer(7, 0, 2, 3));
    t.step(0, idleAnswer(7, 0, 3, 1));
    t.step(1, { kind: 'arrive', job: job(1, 2, 1), memMB: 300 });
    t.step(1, poll(7, 0, 1, 5));
    t.step(2, { kind: 'arrive', job: job(2, 1, 2), memMB: 550 });
    t.step(3, { kind: 'stopped', job: 1, memMB: 300 });
    t.step(5, { kind: 'complete', job: 2, memMB: 550 });
    t.step(6, { kind: 'complete', job: 1, memMB: 300 });
    t.step(6, idleAnswer(7, 1, 3, 0));
    t.step(6, idleAnswer(7, 0, 0, 0), 'a stale answer');
    t.step(6, idleAnswer(7, 1, 0, 0));
    expect(t.lines).toEqual([
      't=0 < machine/7 memory usedMB=0',
      't=0 machine/7 → shard/2 idle-poll poll=0', // 1000 MB free > 600: ask k = 2 shards
      't=0 machine/7 → shard/3 idle-poll poll=0',
      't=0 < shard/2 → machine/7 idle-answer poll=0 size=3', // one answer of two: nothing yet
      't=0 < shard/3 → machine/7 idle-answer poll=0 size=1',
      't=0 machine/7 → shard/3 idle-join freeMB=1000 jobs=0 cores=1', // shard 3 has the shorter idle list
      't=1 < machine/7 arrive job=1 memMB=300',
      't=1 machine/7 run job=1',
      't=1 machine/7 → shard/3 idle-update freeMB=700 jobs=1', // moved by 300 > 100
      't=1 < shard/1 → machine/7 poll poll=0 job=5',
      't=1 machine/7 → shard/1 poll-answer poll=0 jobs=1', // answered at once, nothing else
      't=2 < machine/7 arrive job=2 memMB=550',
      't=2 machine/7 preempt job=1',
      't=2 machine/7 run job=2',
      't=2 machine/7 → shard/3 idle-leave', // 150 MB free < 200
      't=3 < machine/7 stopped job=1 memMB=300',
      't=5 < machine/7 complete job=2 memMB=550',
      't=5 machine/7 run job=1',
      't=5 machine/7 → shard/0 idle-poll poll=1', // 700 MB free > 600
      't=5 machine/7 → shard/3 idle-poll poll=1',
      't=6 < machine/7 complete job=1 memMB=300', // no second poll while one is out
      't=6 < shard/3 → machine/7 idle-answer poll=1 size=0',
      't=6 < shard/0 → machine/7 idle-answer poll=0 size=0 // a stale answer',
      't=6 < shard/0 → machine/7 idle-answer poll=1 size=0',
      't=6 machine/7 → shard/0 idle-join freeMB=1000 jobs=0 cores=1', // a tie: the stream chose 0
    ]);
    expect(m.idleShard).toBe(0);
    expect(m.memoryBand()).toEqual({ low: -100, high: 100 });
    expect(m.nextDeadline()).toBe(Infinity); // no timeout configured
  });

  it('with a poll timeout: wakes at the deadline, joins by the answers it has, or polls again when none came', () => {
    const m = withDispatcher({ pollTimeoutMs: 50 });
    const t = new Story(m);
    const deadlines: number[] = [];
    t.step(10, { kind: 'memory', usedMB: 0 });
    deadlines.push(m.nextDeadline());
    t.step(59, { kind: 'tick' }, 'too early');
    t.step(60, { kind: 'tick' }, 'no shard answered: poll again');
    deadlines.push(m.nextDeadline());
    t.step(70, idleAnswer(7, 0, 2, 0), 'an answer to the poll given up');
    t.step(75, idleAnswer(7, 1, 1, 0), 'from a shard not asked');
    t.step(80, idleAnswer(7, 1, 3, 4));
    t.step(110, { kind: 'tick' }, 'one of two answered: join it');
    deadlines.push(m.nextDeadline());
    t.step(120, idleAnswer(7, 1, 0, 0), 'too late');
    expect(t.lines).toEqual([
      't=10 < machine/7 memory usedMB=0',
      't=10 machine/7 → shard/2 idle-poll poll=0',
      't=10 machine/7 → shard/3 idle-poll poll=0',
      't=59 < machine/7 tick // too early',
      't=60 < machine/7 tick // no shard answered: poll again',
      't=60 machine/7 → shard/0 idle-poll poll=1', // a new id, a new sample
      't=60 machine/7 → shard/3 idle-poll poll=1',
      't=70 < shard/2 → machine/7 idle-answer poll=0 size=0 // an answer to the poll given up',
      't=75 < shard/1 → machine/7 idle-answer poll=1 size=0 // from a shard not asked',
      't=80 < shard/3 → machine/7 idle-answer poll=1 size=4',
      't=110 < machine/7 tick // one of two answered: join it',
      't=110 machine/7 → shard/3 idle-join freeMB=1000 jobs=0 cores=1',
      't=120 < shard/0 → machine/7 idle-answer poll=1 size=0 // too late',
    ]);
    expect(deadlines).toEqual([60, 110, Infinity]);
    expect(m.idleShard).toBe(3);
  });
});

describe('Machine as a JIQ server (dispatcher joinWhen idle)', () => {
  const jiq = (cores: number) => new Machine(machineConfig({ id: 7, cores, policy: 'fcfs', dispatcher: { shards: 4, k: 1, joinWhen: 'idle', joinFreeMB: 0, leaveFreeMB: 0, updateDeltaMB: 0 } }), new Rng(1).fork('machine/7'));
  const placed = (id: number, shard: ShardId, via: 'idle-list' | 'power-of-k'): MachineInput => ({ kind: 'arrive', job: job(id, 0, 0), memMB: 0, shard, via });
  const joins = (ds: readonly MachineDecision[]): ShardId[] => ds.flatMap((d) => (d.kind === 'idle-join' ? [d.to.id] : []));

  it('joins one shard’s list when idle; placed from it, it is off; placed at random while listed, it stays listed and does not join twice', () => {
    const m = jiq(1);
    m.step(0, { kind: 'memory', usedMB: 0 });
    const [s] = joins(take(m)) as [ShardId];
    expect(m.idleShard).toBe(s);
    m.step(1, placed(1, s, 'idle-list'));
    expect(take(m).map((d) => d.kind)).toEqual(['run']);
    expect(m.idleShard).toBe(-1);
    m.step(2, { kind: 'complete', job: 1, memMB: 0 });
    const [t] = joins(take(m)) as [ShardId];
    // Another shard's random placement: still on t's list (the published JIQ sends nothing at a job's arrival).
    m.step(3, placed(2, (t + 1) % 4, 'power-of-k'));
    expect(take(m).map((d) => d.kind)).toEqual(['run']);
    m.step(4, { kind: 'complete', job: 2, memMB: 0 });
    expect(take(m)).toEqual([]);
    expect(m.idleShard).toBe(t);
    // t places from its list, on a busy machine if it must: the job waits its turn (FCFS).
    m.step(5, placed(3, (t + 1) % 4, 'power-of-k'));
    m.step(5, placed(4, t, 'idle-list'));
    expect(take(m).map((d) => d.kind)).toEqual(['run']);
    m.step(6, { kind: 'complete', job: 3, memMB: 0 });
    expect(take(m).map((d) => d.kind)).toEqual(['run']);
    m.step(7, { kind: 'complete', job: 4, memMB: 0 });
    expect(joins(take(m))).toHaveLength(1);
  });

  it('counts a free core as idle: with two cores, placed from a list it joins another at once', () => {
    const m = jiq(2);
    m.step(0, { kind: 'memory', usedMB: 0 });
    const [s] = joins(take(m)) as [ShardId];
    m.step(1, placed(1, s, 'idle-list'));
    const ds = take(m);
    expect(ds.map((d) => d.kind)).toEqual(['run', 'idle-join']);
    expect(ds[1]).toMatchObject({ jobs: 1 });
    m.step(2, placed(2, joins(ds)[0] as ShardId, 'idle-list'));
    expect(take(m).map((d) => d.kind)).toEqual(['run']); // both cores busy
    expect(m.memoryBand()).toEqual({ low: -Infinity, high: Infinity });
  });
});

describe('Machine with a dispatcher: idle-list answers and ticks', () => {
  it('joins once every polled shard answered, with its memory and jobs then', () => {
    const m = withDispatcher({ k: 3 });
    m.step(0, { kind: 'memory', usedMB: 0 });
    const p = idlePollOf(take(m));
    expect(p.shards).toHaveLength(3);
    m.step(1, { kind: 'arrive', job: job(1, 0), memMB: 100 });
    take(m);
    m.step(2, idleAnswer(7, p.poll, p.shards[0] as number, 2));
    m.step(2, idleAnswer(7, p.poll, p.shards[1] as number, 1));
    expect(take(m)).toEqual([]);
    m.step(3, idleAnswer(7, p.poll, p.shards[2] as number, 1));
    const [d] = take(m);
    expect(d).toMatchObject({ kind: 'idle-join', from: machineAddress(7), freeMB: 900, jobs: 1 });
    expect([p.shards[1], p.shards[2]]).toContain(m.idleShard);
    expect(d).toMatchObject({ to: shardAddress(m.idleShard) });
  });

  it('ignores idle-list answers without a dispatcher', () => {
    const m = machine({ memoryMB: 1000 });
    m.step(0, idleAnswer(0, 0, 1, 0));
    m.step(0, { kind: 'tick' });
    expect(take(m)).toEqual([]);
    expect([m.idleShard, m.nextDeadline()]).toEqual([-1, Infinity]);
  });

  it('reports the dispatcher’s poll deadline, and a tick before it changes nothing', () => {
    const m = withDispatcher({ pollTimeoutMs: 25 });
    expect(m.nextDeadline()).toBe(Infinity);
    m.step(100, { kind: 'memory', usedMB: 0 });
    take(m);
    expect(m.nextDeadline()).toBe(125);
    m.step(124, { kind: 'tick' });
    expect(take(m)).toEqual([]);
    expect(m.nextDeadline()).toBe(125);
  });

  it('on a tick at the deadline with no answer, polls again at once with a new poll id and deadline', () => {
    const m = withDispatcher({ pollTimeoutMs: 25 });
    m.step(0, { kind: 'memory', usedMB: 0 });
    const p = idlePollOf(take(m));
    m.step(30, { kind: 'tick' });
    const q = idlePollOf(take(m));
    expect(q.poll).toBe(p.poll + 1);
    expect(m.nextDeadline()).toBe(55);
    // Too full by then: the poll is given up and none follows.
    m.step(30, { kind: 'memory', usedMB: 900 });
    m.step(60, { kind: 'tick' });
    expect(take(m)).toEqual([]);
    expect(m.nextDeadline()).toBe(Infinity);
  });

  it('on a tick at the deadline with some answers, joins the emptiest that answered', () => {
    const m = withDispatcher({ pollTimeoutMs: 25, k: 3 });
    m.step(0, { kind: 'memory', usedMB: 0 });
    const p = idlePollOf(take(m));
    m.step(5, idleAnswer(7, p.poll, p.shards[2] as number, 6));
    m.step(6, idleAnswer(7, p.poll, p.shards[0] as number, 4));
    expect(take(m)).toEqual([]);
    m.step(25, { kind: 'tick' });
    expect(take(m)).toEqual([{ kind: 'idle-join', from: machineAddress(7), to: shardAddress(p.shards[0] as number), freeMB: 1000, jobs: 0, cores: 1 }]);
    expect([m.idleShard, m.nextDeadline()]).toEqual([p.shards[0], Infinity]);
  });
});

describe('Machine in a live system', () => {
  it('accepts the completion of a job that finished while being preempted (a race), and forgets it', () => {
    const m = new Machine(machineConfig({ cores: 1 }), new Rng(1));
    m.step(0, { kind: 'arrive', job: job(1, 3), memMB: 0 });
    m.step(1, { kind: 'arrive', job: job(2, 0), memMB: 0 });
    m.advance();
    m.step(2, { kind: 'complete', job: 1, memMB: 0 }); // job 1 answered before it was frozen
    expect(m.ready()).toEqual([]);
    expect(m.jobs).toBe(1);
    m.step(3, { kind: 'complete', job: 2, memMB: 0 });
    expect(m.jobs).toBe(0);
    expect(() => m.step(4, { kind: 'complete', job: 1, memMB: 0 })).toThrow(/completion of job 1/);
  });
});

describe('Machine: jobs blocked on a synchronous call', () => {
  it('runs a call chain deeper than its cores: a caller gives up its core while it waits for its callee', () => {
    const trace = runScript('machine/0', machine({ cores: 1 }), [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 0 }],
      [1, { kind: 'block', job: 1 }], // 1 calls 2
      [1, { kind: 'arrive', job: job(2, 0, 1), memMB: 0 }],
      [2, { kind: 'block', job: 2 }], // 2 calls 3
      [2, { kind: 'arrive', job: job(3, 0, 2), memMB: 0 }],
      [3, { kind: 'complete', job: 3, memMB: 0 }],
      [3, { kind: 'unblock', job: 2 }],
      [4, { kind: 'complete', job: 2, memMB: 0 }],
      [4, { kind: 'unblock', job: 1 }],
      [5, { kind: 'complete', job: 1, memMB: 0 }],
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=1 machine/0 run job=2',
      't=2 machine/0 run job=3',
      't=3 machine/0 run job=2', // already started: the driver lets it go on
      't=4 machine/0 run job=1',
    ]);
  });

  it('gives a blocked caller’s core to the next waiting job, and stops the caller if it comes back to no free core', () => {
    const m = machine({ cores: 1 });
    const trace = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 1, 0), memMB: 0 }],
      [1, { kind: 'arrive', job: job(2, 1, 1), memMB: 0 }],
      [2, { kind: 'block', job: 1 }],
      [3, { kind: 'unblock', job: 1 }], // 2 holds the core, same class: 1 waits at the head of its class
      [4, { kind: 'arrive', job: job(3, 1, 4), memMB: 0 }],
      [5, { kind: 'complete', job: 2, memMB: 0 }],
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=2 machine/0 run job=2',
      't=3 machine/0 preempt job=1',
      't=5 machine/0 run job=1', // before 3, which arrived later
    ]);
    expect(m.jobs).toBe(2);
  });

  it('lets an unblocked job preempt a lower class, counts blocked jobs as on the machine, and completes a job that died blocked', () => {
    const m = machine({ cores: 1 });
    const trace = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 0 }],
      [1, { kind: 'block', job: 1 }],
      [1, { kind: 'arrive', job: job(2, 3, 1), memMB: 0 }],
      [2, { kind: 'unblock', job: 1 }],
      [3, { kind: 'block', job: 1 }],
      [4, { kind: 'complete', job: 1, memMB: 0 }], // timed out while blocked
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=1 machine/0 run job=2',
      't=2 machine/0 preempt job=2',
      't=2 machine/0 run job=1',
      't=3 machine/0 run job=2',
    ]);
    expect(m.jobs).toBe(1);
  });

  it('takes a preempted job that blocks off its waiting list until it is unblocked', () => {
    const m = machine({ cores: 1 });
    const trace = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 2, 0), memMB: 0 }],
      [1, { kind: 'arrive', job: job(2, 0, 1), memMB: 0 }], // preempts 1, which had made its call just before
      [1, { kind: 'block', job: 1 }],
      [2, { kind: 'complete', job: 2, memMB: 0 }], // the core stays free: 1 is not runnable
      [3, { kind: 'unblock', job: 1 }],
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=1 machine/0 preempt job=1',
      't=1 machine/0 run job=2',
      't=3 machine/0 run job=1',
    ]);
  });

  it('refuses to block or unblock a job it does not hold as such', () => {
    const m = machine();
    expect(() => m.step(0, { kind: 'block', job: 9 })).toThrow(InvariantError);
    m.step(0, { kind: 'arrive', job: job(1, 0, 0), memMB: 0 });
    expect(() => m.step(1, { kind: 'unblock', job: 1 })).toThrow(InvariantError);
  });
});

describe('Machine with memory admission', () => {
  const admitting = (over: Partial<MachineConfig> = {}) => machine({ memoryMB: 1000, swap: { enabled: true, targetFraction: 0.9 }, admission: true, ...over });

  it('a job that does not fit waits; the memory a completion frees lets it start', () => {
    const trace = runScript('machine/0', admitting({ cores: 2 }), [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 100 }],
      [1, { kind: 'memory', usedMB: 950 }], // job 1 grew
      [2, { kind: 'arrive', job: job(2, 0, 2), memMB: 100 }], // 950 + 100 > 1000: waits, a core free
      [3, { kind: 'complete', job: 1, memMB: 950, usedMB: 0 }],
    ]);
    expect(trace).toEqual(['t=0 machine/0 run job=1', 't=3 machine/0 run job=2']);
  });

  it('without it, the same job starts at once (the paper\'s model)', () => {
    const trace = runScript('machine/0', machine({ cores: 2, memoryMB: 1000, swap: { enabled: true, targetFraction: 0.9 } }), [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 100 }],
      [1, { kind: 'memory', usedMB: 950 }],
      [2, { kind: 'arrive', job: job(2, 0, 2), memMB: 100 }],
    ]);
    expect(trace).toEqual(['t=0 machine/0 run job=1', 't=2 machine/0 run job=2']);
  });

  it('memory is swapped out first: a higher class stops the lower one, whose memory goes to swap, and starts once it is written', () => {
    const m = admitting({ cores: 1 });
    const trace = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 3, 0), memMB: 100 }],
      [1, { kind: 'memory', usedMB: 900 }],
      [2, { kind: 'arrive', job: job(2, 0, 2), memMB: 200 }], // 900 + 200 > 1000: job 1 stops, job 2 waits
      [3, { kind: 'stopped', job: 1, memMB: 900 }], // sized: it goes to swap; 900 MB still being written
      [4, { kind: 'memory', usedMB: 0 }],
      [5, { kind: 'paged-out', mb: 900, usedMB: 0 }], // written: room for job 2
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=2 machine/0 preempt job=1',
      't=3 machine/0 swap-out job=1 mb=900',
      't=5 machine/0 run job=2',
    ]);
    expect(m.slot(1)).toMatchObject({ swapped: true, running: false });
  });

  it('counts memory being written out as taken: the memory band ends below capacity by it', () => {
    const m = admitting({ cores: 1 });
    m.step(0, { kind: 'arrive', job: job(1, 3, 0), memMB: 100 });
    m.step(1, { kind: 'memory', usedMB: 900 });
    m.step(2, { kind: 'arrive', job: job(2, 0, 2), memMB: 200 });
    m.step(3, { kind: 'stopped', job: 1, memMB: 900 });
    take(m);
    expect(m.memoryBand().high).toBe(100); // 1000 − 900 on its way out
    m.step(4, { kind: 'paged-out', mb: 900, usedMB: 0 });
    expect(take(m).map((d) => d.kind)).toEqual(['run']);
    expect(m.memoryBand().high).toBe(1000);
  });

  it('running jobs that fill memory: the lowest class stops and goes to swap; the last one waits for it to be written, then grows on', () => {
    const trace = runScript('machine/0', admitting({ cores: 2 }), [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 100 }],
      [1, { kind: 'arrive', job: job(2, 2, 1), memMB: 100 }],
      [2, { kind: 'memory', usedMB: 1000 }], // both grew: full
      [3, { kind: 'stopped', job: 2, memMB: 600 }], // its memory goes for job 1's growth; job 1 waits for it
      [4, { kind: 'paged-out', mb: 600, usedMB: 400 }],
      [5, { kind: 'complete', job: 1, memMB: 400, usedMB: 0 }], // job 2 comes back
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=1 machine/0 run job=2',
      't=2 machine/0 preempt job=2',
      't=3 machine/0 swap-out job=2 mb=600',
      't=3 machine/0 preempt job=1',
      't=4 machine/0 run job=1',
      't=5 machine/0 swap-in job=2 mb=600',
      't=5 machine/0 run job=2',
    ]);
  });

  it('a lone running job with nothing to swap and nothing on its way out runs on (stopping it would wait for nothing)', () => {
    const trace = runScript('machine/0', admitting({ cores: 2 }), [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 100 }],
      [1, { kind: 'memory', usedMB: 1000 }],
    ]);
    expect(trace).toEqual(['t=0 machine/0 run job=1']);
  });

  it('is off under processor sharing (every job runs at once there)', () => {
    const trace = runScript('machine/0', machine({ cores: 1, policy: 'ps', memoryMB: 1000, swap: { enabled: true, targetFraction: 0.9 }, admission: true }), [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 990 }],
      [1, { kind: 'arrive', job: job(2, 0, 1), memMB: 100 }],
    ]);
    expect(trace).toEqual(['t=0 machine/0 run job=1', 't=1 machine/0 run job=2']);
  });
});
