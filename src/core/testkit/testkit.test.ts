import { describe, expect, it } from 'vitest';
import { Machine } from '../machine/machine.ts';
import { Edf } from '../baselines/edf.ts';
import { Rng } from '../rng.ts';
import type { CoreObject } from '../types.ts';
import { execute, machineTarget, edfTarget, type ExecDecision, type ExecTarget } from './executor.ts';
import { formatDecision, formatValue, runScript, Tracer } from './trace.ts';
import { feasible } from './feasible.ts';
import { classInversions, deadlineMisses, fcfsViolations, idleWhileWaiting, lostOrMiscounted } from './invariants.ts';
import { job, machineConfig, prices } from './fixtures.ts';

const machine = (over: Parameters<typeof machineConfig>[0] = {}) => new Machine(machineConfig(over), new Rng(1, 'test'));

describe('trace formatting', () => {
  it('writes the kind then each field in order, jobs as their id, arrays in brackets', () => {
    expect(formatDecision({ kind: 'run', job: 3 })).toBe('run job=3');
    expect(formatDecision({ kind: 'place', job: job(7, 1, 5), machine: 2, via: 'idle-list', waited: 0 })).toBe(
      'place job=7 machine=2 via=idle-list waited=0',
    );
    expect(formatDecision({ kind: 'poll', poll: 0, job: 1, machines: [4, 2] })).toBe('poll poll=0 job=1 machines=[4,2]');
    expect(formatDecision({ kind: 'tick' })).toBe('tick');
  });

  it('writes infinities, undefined and plain objects readably', () => {
    expect(formatValue(Infinity)).toBe('inf');
    expect(formatValue(-Infinity)).toBe('-inf');
    expect(formatValue(undefined)).toBe('-');
    expect(formatValue({ low: 1, high: 2 })).toBe('{low=1 high=2}');
    expect(formatValue(true)).toBe('true');
  });
});

describe('runScript and Tracer', () => {
  it('records each decision as `t=<now> <name> <decision>` and advances the object', () => {
    const m = machine();
    const lines = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 3), memMB: 0 }],
      [2, { kind: 'arrive', job: job(2, 0, 2), memMB: 0 }],
      [5, { kind: 'complete', job: 2, memMB: 0 }],
    ]);
    expect(lines).toEqual([
      't=0 machine/0 run job=1',
      't=2 machine/0 preempt job=1',
      't=2 machine/0 run job=2',
      't=5 machine/0 run job=1',
    ]);
    expect(m.ready()).toEqual([]);
  });

  it('echoes inputs with `<` when asked, and returns a copy of the decisions', () => {
    const t = new Tracer({ inputs: true });
    const m = machine();
    const out = t.step('m', m, 0, { kind: 'arrive', job: job(1, 0), memMB: 10 });
    expect(out).toEqual([{ kind: 'run', job: job(1, 0) }]);
    t.note(1, 'test', 'nothing else happens');
    expect(t.text()).toBe('t=0 m < arrive job=1 memMB=10\nt=0 m run job=1\nt=1 test nothing else happens');
  });

  it('calls advance after reading ready', () => {
    const calls: string[] = [];
    const obj: CoreObject<{ kind: 'x' }, { kind: 'y' }> = {
      step: () => calls.push('step'),
      ready: () => (calls.push('ready'), [{ kind: 'y' }]),
      advance: () => calls.push('advance'),
      nextDeadline: () => Infinity,
    };
    expect(runScript('o', obj, [[1, { kind: 'x' }]])).toEqual(['t=1 o y']);
    expect(calls).toEqual(['step', 'ready', 'advance']);
  });
});

describe('execute', () => {
  it('runs one core FCFS by hand-computed times', () => {
    const r = execute(machineTarget(machine({ policy: 'fcfs' })), [
      { id: 1, arrival: 0, cls: 3, runtime: 4 },
      { id: 2, arrival: 1, cls: 0, runtime: 2 },
      { id: 3, arrival: 1, cls: 1, runtime: 1 },
    ]);
    expect(r.outcomes.map((o) => [o.job.id, o.start, o.finish])).toEqual([[1, 0, 4], [2, 4, 6], [3, 6, 7]]);
    expect(r.segments).toEqual([{ job: 1, from: 0, to: 4 }, { job: 2, from: 4, to: 6 }, { job: 3, from: 6, to: 7 }]);
    expect(r.intervals).toEqual([
      { from: 0, to: 1, running: [1], waiting: [] },
      { from: 1, to: 4, running: [1], waiting: [2, 3] },
      { from: 4, to: 6, running: [2], waiting: [3] },
      { from: 6, to: 7, running: [3], waiting: [] },
    ]);
    expect(r.end).toBe(7);
  });

  it('carries out preemption: the stopped job resumes with its remaining work', () => {
    const r = execute(machineTarget(machine()), [
      { id: 1, arrival: 0, cls: 3, runtime: 4 },
      { id: 2, arrival: 1, cls: 0, runtime: 2 },
    ]);
    expect(r.trace).toEqual([
      't=0 machine/0 run job=1',
      't=1 machine/0 preempt job=1',
      't=1 machine/0 run job=2',
      't=3 machine/0 run job=1',
    ]);
    expect(r.segments).toEqual([{ job: 1, from: 0, to: 1 }, { job: 2, from: 1, to: 3 }, { job: 1, from: 3, to: 6 }]);
    expect(r.byId.get(1)).toMatchObject({ start: 0, finish: 6, service: 4, preemptions: 1 });
    expect(lostOrMiscounted(r)).toEqual([]);
  });

  it('shares the cores under ps: three jobs on two cores each run at 2/3', () => {
    const r = execute(machineTarget(machine({ policy: 'ps', cores: 2 })), [
      { id: 1, arrival: 0, cls: 0, runtime: 2 },
      { id: 2, arrival: 0, cls: 0, runtime: 2 },
      { id: 3, arrival: 0, cls: 0, runtime: 2 },
    ]);
    for (const o of r.outcomes) expect(o.finish).toBeCloseTo(3, 9);
    expect(lostOrMiscounted(r)).toEqual([]);
  });

  it('reports completions before arrivals at the same instant', () => {
    const r = execute(machineTarget(machine({ policy: 'fcfs' })), [
      { id: 1, arrival: 0, cls: 0, runtime: 2 },
      { id: 2, arrival: 2, cls: 0, runtime: 1 },
    ]);
    expect(r.intervals.every((iv) => iv.waiting.length === 0)).toBe(true);
  });

  it('handles zero-runtime jobs and idle gaps', () => {
    const r = execute(machineTarget(machine()), [
      { id: 1, arrival: 0, cls: 0, runtime: 0 },
      { id: 2, arrival: 5, cls: 0, runtime: 1 },
    ]);
    expect(r.outcomes.map((o) => [o.start, o.finish])).toEqual([[0, 0], [5, 6]]);
  });

  it('drives EDF with each job’s deadline', () => {
    const r = execute(edfTarget(new Edf({ cores: 1 })), [
      { id: 1, arrival: 0, cls: 0, runtime: 4, deadline: 10 },
      { id: 2, arrival: 1, cls: 0, runtime: 1, deadline: 3 },
    ]);
    expect(r.outcomes.map((o) => o.finish)).toEqual([5, 2]);
    expect(deadlineMisses(r)).toEqual([]);
    expect(() => execute(edfTarget(new Edf({ cores: 1 })), [{ id: 1, arrival: 0, cls: 0, runtime: 1 }])).toThrow(/no deadline/);
  });

  // The executor is a reference: it must refuse what a real driver could not do.
  const scripted = (answers: Record<string, ExecDecision[]>, cores = 1): ExecTarget => ({
    name: 'fake',
    cores,
    shared: false,
    arrive: (_now, j) => answers[`arrive ${j.id}`] ?? [],
    complete: (_now, j) => answers[`complete ${j.id}`] ?? [],
    stopped: () => [],
  });
  const two = [{ id: 1, arrival: 0, cls: 0, runtime: 1 }, { id: 2, arrival: 0, cls: 0, runtime: 1 }];

  it('throws when a target runs a job twice, before arrival, after completion, or beyond its cores', () => {
    expect(() => execute(scripted({ 'arrive 1': [{ kind: 'run', job: 1 }, { kind: 'run', job: 1 }] }), two)).toThrow(/already running/);
    expect(() => execute(scripted({ 'arrive 1': [{ kind: 'run', job: 2 }] }), two)).toThrow(/has not arrived/);
    expect(() => execute(scripted({ 'arrive 1': [{ kind: 'run', job: 1 }], 'complete 1': [{ kind: 'run', job: 1 }] }), two)).toThrow(/is done/);
    expect(() => execute(scripted({ 'arrive 1': [{ kind: 'run', job: 1 }], 'arrive 2': [{ kind: 'run', job: 2 }] }), two)).toThrow(/2 jobs running on 1 cores/);
    expect(() => execute(scripted({ 'arrive 1': [{ kind: 'preempt', job: 1 }] }), two)).toThrow(/not running/);
    expect(() => execute(scripted({ 'arrive 1': [{ kind: 'run', job: 9 }] }), two)).toThrow(/unknown job 9/);
  });

  it('records a final stall as an interval to infinity, which the checks flag', () => {
    const r = execute(scripted({ 'arrive 1': [{ kind: 'run', job: 1 }] }), two);
    expect(r.intervals.at(-1)).toEqual({ from: 1, to: Infinity, running: [], waiting: [2] });
    expect(lostOrMiscounted(r)).toEqual(['job 2 never finished', 'job 2 received 0 of 1 work']);
    expect(idleWhileWaiting(r, 1)).toEqual(['[1,Infinity): 0/1 cores busy while jobs 2 wait']);
  });
});

describe('invariant checks', () => {
  it('find class inversions and FCFS violations in a bad schedule', () => {
    // A fake machine that runs the latest arrival (LIFO) and never the high class first.
    const r = execute(
      {
        name: 'lifo',
        cores: 1,
        shared: false,
        arrive: (_now, j) => (j.id === 1 ? [{ kind: 'run', job: 1 }] : []),
        complete: (_now, j) => (j.id === 1 ? [{ kind: 'run', job: 3 }] : j.id === 3 ? [{ kind: 'run', job: 2 }] : []),
        stopped: () => [],
      },
      [
        { id: 1, arrival: 0, cls: 1, runtime: 2 },
        { id: 2, arrival: 1, cls: 0, runtime: 1 },
        { id: 3, arrival: 1, cls: 1, runtime: 1 },
      ],
    );
    expect(classInversions(r)).toEqual([
      '[1,2): job 2 (class 0) waits while job 1 (class 1) runs',
      '[2,3): job 2 (class 0) waits while job 3 (class 1) runs',
    ]);
    expect(fcfsViolations(r, () => 0)).toEqual(['job 3 started at 2 before job 2 (3), which arrived first']);
    expect(fcfsViolations(r)).toEqual([]);
  });
});

describe('feasible (brute force)', () => {
  it('decides small instances by hand', () => {
    expect(feasible([], 1)).toBe(true);
    expect(feasible([{ id: 1, arrival: 0, runtime: 3, deadline: 3 }], 1)).toBe(true);
    expect(feasible([{ id: 1, arrival: 0, runtime: 3, deadline: 2 }], 1)).toBe(false);
    // Two jobs of 2 in [0, 3) need 4 units in 3 slots on one core, but fit on two.
    const pair = [{ id: 1, arrival: 0, runtime: 2, deadline: 3 }, { id: 2, arrival: 0, runtime: 2, deadline: 3 }];
    expect(feasible(pair, 1)).toBe(false);
    expect(feasible(pair, 2)).toBe(true);
    // A job cannot use two cores at once: 4 units of work by t=2 is impossible even on 4 cores.
    expect(feasible([{ id: 1, arrival: 0, runtime: 4, deadline: 2 }], 4)).toBe(false);
    // Preemption helps: the long job must yield to the urgent one arriving at 1.
    expect(feasible([{ id: 1, arrival: 0, runtime: 3, deadline: 4 }, { id: 2, arrival: 1, runtime: 1, deadline: 2 }], 1)).toBe(true);
    // An arrival after a gap: nothing can run before it arrives.
    expect(feasible([{ id: 1, arrival: 5, runtime: 1, deadline: 5 }], 1)).toBe(false);
  });

  it('refuses non-integer or large instances', () => {
    expect(() => feasible([{ id: 1, arrival: 0.5, runtime: 1, deadline: 2 }], 1)).toThrow(/integer/);
    expect(() => feasible(Array.from({ length: 11 }, (_, i) => ({ id: i, arrival: 0, runtime: 1, deadline: 20 })), 1)).toThrow(/tiny/);
  });
});

describe('fixtures', () => {
  it('build sorted price tables and default configs', () => {
    expect(prices(1, 3, 2).classes.map((c) => c.price)).toEqual([3, 2, 1]);
    expect(() => prices(1, 1)).toThrow(/same price/);
    expect(machineConfig({ cores: 4 })).toMatchObject({ cores: 4, policy: 'priority', memoryMB: Infinity });
  });
});
