import { describe, expect, it } from 'vitest';
import { Machine, type MachineConfig } from './machine.ts';
import { Rng } from '../rng.ts';
import { InvariantError } from '../types.ts';
import { runScript } from '../testkit/trace.ts';
import { execute, machineTarget } from '../testkit/executor.ts';
import { job, machineConfig } from '../testkit/fixtures.ts';

const machine = (over: Partial<MachineConfig> = {}) => new Machine(machineConfig(over), new Rng(1).fork('machine/0'));

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

  it('never asks to be woken, and advance clears its decisions', () => {
    const m = machine();
    m.step(0, { kind: 'arrive', job: job(1, 1), memMB: 0 });
    expect(m.nextDeadline()).toBe(Infinity);
    expect(m.ready()).toHaveLength(1);
    m.advance();
    expect(m.ready()).toEqual([]);
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

describe('Machine with a dispatcher (story)', () => {
  it('joins an idle list when memory is free, updates it, leaves under pressure, and rejoins', () => {
    const m = new Machine(
      machineConfig({ id: 7, memoryMB: 1000, dispatcher: { shards: 4, k: 2, joinFreeMB: 600, leaveFreeMB: 200, updateDeltaMB: 100 } }),
      new Rng(1).fork('machine/7'),
    );
    expect(m.memoryBand()).toEqual({ low: 400, high: Infinity });
    const trace = runScript('machine/7', m, [
      [0, { kind: 'memory', usedMB: 0 }],
      [0, { kind: 'shard-sizes', poll: 0, sizes: [3, 1] }],
      [1, { kind: 'arrive', job: job(1, 2, 1), memMB: 300 }],
      [2, { kind: 'arrive', job: job(2, 1, 2), memMB: 550 }],
      [3, { kind: 'stopped', job: 1, memMB: 300 }],
      [5, { kind: 'complete', job: 2, memMB: 550 }],
      [6, { kind: 'complete', job: 1, memMB: 300 }],
      [6, { kind: 'shard-sizes', poll: 1, sizes: [0, 0] }],
    ], { inputs: true });
    expect(trace).toEqual([
      't=0 machine/7 < memory usedMB=0',
      't=0 machine/7 poll-shards poll=0 shards=[2,3]',
      't=0 machine/7 < shard-sizes poll=0 sizes=[3,1]',
      't=0 machine/7 idle-join shard=3 freeMB=1000 jobs=0', // shard 3 has the shorter idle list
      't=1 machine/7 < arrive job=1 memMB=300',
      't=1 machine/7 run job=1',
      't=1 machine/7 idle-update shard=3 freeMB=700 jobs=1', // moved by 300 > 100
      't=2 machine/7 < arrive job=2 memMB=550',
      't=2 machine/7 preempt job=1',
      't=2 machine/7 run job=2',
      't=2 machine/7 idle-leave shard=3', // 150 MB free < 200
      't=3 machine/7 < stopped job=1 memMB=300',
      't=5 machine/7 < complete job=2 memMB=550',
      't=5 machine/7 run job=1',
      't=5 machine/7 poll-shards poll=1 shards=[0,3]', // 700 MB free > 600
      't=6 machine/7 < complete job=1 memMB=300', // no second poll while one is out
      't=6 machine/7 < shard-sizes poll=1 sizes=[0,0]',
      't=6 machine/7 idle-join shard=0 freeMB=1000 jobs=0', // a tie: the stream chose 0
    ]);
    expect(m.idleShard).toBe(0);
    expect(m.memoryBand()).toEqual({ low: -100, high: 100 });
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
