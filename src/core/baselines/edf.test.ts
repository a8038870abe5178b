import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Edf, edfDeadline } from './edf.ts';
import { InvariantError } from '../types.ts';
import { runScript } from '../testkit/trace.ts';
import { execute, edfTarget, type ExecJob, type ExecResult } from '../testkit/executor.ts';
import { feasible } from '../testkit/feasible.ts';
import { deadlineInversions, deadlineMisses, idleWhileWaiting, lostOrMiscounted } from '../testkit/invariants.ts';
import { job } from '../testkit/fixtures.ts';

const arrive = (id: number, deadline: number, at = 0) => [at, { kind: 'arrive' as const, job: job(id, 0, at), deadline }] as const;
const complete = (id: number, at: number) => [at, { kind: 'complete' as const, job: id }] as const;

describe('edfDeadline', () => {
  it('gives arrival + runtime × maxPrice / price: the top class gets its runtime, cheaper ones more slack', () => {
    expect(edfDeadline(100, 10, 2, 2)).toBe(110);
    expect(edfDeadline(100, 10, 0.5, 2)).toBe(140);
    expect(edfDeadline(0, 0, 1, 2)).toBe(0);
  });
});

describe('Edf', () => {
  it('runs arrivals while cores are free', () => {
    expect(runScript('edf', new Edf({ cores: 2 }), [arrive(1, 50), arrive(2, 10)])).toEqual(['t=0 edf run job=1', 't=0 edf run job=2']);
  });

  it('preempts the running job with the latest deadline for an earlier-deadline arrival', () => {
    expect(runScript('edf', new Edf({ cores: 2 }), [arrive(1, 50), arrive(2, 80), arrive(3, 60, 1)])).toEqual([
      't=0 edf run job=1',
      't=0 edf run job=2',
      't=1 edf preempt job=2',
      't=1 edf run job=3',
    ]);
  });

  it('does not preempt for an equal or later deadline', () => {
    expect(runScript('edf', new Edf({ cores: 1 }), [arrive(1, 50), arrive(2, 50, 1), arrive(3, 70, 1)])).toEqual(['t=0 edf run job=1']);
  });

  it('on completion runs the earliest deadline waiting, ties by lower id, preempted jobs included', () => {
    const e = new Edf({ cores: 1 });
    expect(runScript('edf', e, [arrive(1, 90), arrive(4, 40, 1), arrive(3, 40, 1), arrive(2, 30, 2), complete(2, 3), complete(3, 4), complete(4, 5)])).toEqual([
      't=0 edf run job=1',
      't=1 edf preempt job=1',
      't=1 edf run job=4',
      't=2 edf preempt job=4',
      't=2 edf run job=2',
      't=3 edf run job=3', // 3 and 4 share deadline 40: lower id first
      't=4 edf run job=4',
      't=5 edf run job=1',
    ]);
    expect(e.jobs).toBe(1);
    expect(e.runningCount).toBe(1);
  });

  it('among running jobs with the same latest deadline, preempts the higher id', () => {
    expect(runScript('edf', new Edf({ cores: 2 }), [arrive(1, 50), arrive(2, 50), arrive(3, 10, 1)])).toEqual([
      't=0 edf run job=1',
      't=0 edf run job=2',
      't=1 edf preempt job=2',
      't=1 edf run job=3',
    ]);
  });

  it('throws on the completion of a job that is not running', () => {
    const e = new Edf({ cores: 1 });
    e.step(0, { kind: 'arrive', job: job(1, 0), deadline: 5 });
    e.step(0, { kind: 'arrive', job: job(2, 0), deadline: 9 });
    expect(() => e.step(1, { kind: 'complete', job: 2 })).toThrow(InvariantError);
    expect(() => e.step(1, { kind: 'complete', job: 7 })).toThrow(/edf: completion of job 7, which is not running/);
  });

  // BUG: Edf accepts a job that is already running or waiting: with a free core it emits a second
  // `run job=1` for a running job (a driver cannot carry that out), otherwise it silently moves the job's
  // deadline. Machine throws an InvariantError for the same input. Fix: at the top of the 'arrive' case,
  // `if (this.running.has(id) || this.waiting.has(id)) throw new InvariantError(`edf: job ${id} arrived twice`)`.
  it('throws on a job arriving twice, as Machine does', () => {
    const e = new Edf({ cores: 2 });
    e.step(0, { kind: 'arrive', job: job(1, 0), deadline: 5 });
    expect(() => e.step(1, { kind: 'arrive', job: job(1, 0), deadline: 3 })).toThrow(InvariantError);
  });

  it('validates cores and never asks to be woken', () => {
    expect(() => new Edf({ cores: 0 })).toThrow(/cores must be a whole number ≥ 1, got 0/);
    expect(new Edf({ cores: 1 }).nextDeadline()).toBe(Infinity);
  });
});

// Tiny instances: ≤ 6 jobs with integer arrivals, runtimes and deadlines (deadline ≥ arrival + runtime,
// so no job is infeasible on its own and the question is only how they interact).
const instanceArb = fc
  .array(
    fc.record({ arrival: fc.integer({ min: 0, max: 6 }), runtime: fc.integer({ min: 1, max: 4 }), slack: fc.integer({ min: 0, max: 6 }) }),
    { minLength: 1, maxLength: 6 },
  )
  .map((js): ExecJob[] => js.map((j, i) => ({ id: i + 1, cls: 0, arrival: j.arrival, runtime: j.runtime, deadline: j.arrival + j.runtime + j.slack })));

const runEdf = (cores: number, jobs: readonly ExecJob[]): ExecResult => execute(edfTarget(new Edf({ cores })), jobs);
const asDeadlineJobs = (jobs: readonly ExecJob[]) => jobs.map((j) => ({ id: j.id, arrival: j.arrival, runtime: j.runtime, deadline: j.deadline as number }));

describe('Edf on one core: optimal', () => {
  // Preemptive EDF on one processor meets every deadline whenever any schedule does (Dertouzos 1974).
  it('meets every deadline on every feasible instance, and misses only on infeasible ones', () => {
    let feasibleSeen = 0, infeasibleSeen = 0;
    fc.assert(
      fc.property(instanceArb, (jobs) => {
        const r = runEdf(1, jobs);
        expect(lostOrMiscounted(r)).toEqual([]);
        const ok = feasible(asDeadlineJobs(jobs), 1);
        if (ok) feasibleSeen++;
        else infeasibleSeen++;
        // ⇒ is EDF's optimality; ⇐ checks the oracle (EDF's own schedule is a witness).
        expect(deadlineMisses(r).length === 0).toBe(ok);
      }),
      { numRuns: 300 },
    );
    expect(feasibleSeen).toBeGreaterThan(30);
    expect(infeasibleSeen).toBeGreaterThan(30);
  });
});

describe('Edf on two cores: not optimal, but work-conserving and earliest-deadline-first', () => {
  // Global EDF is not optimal on several cores (Dhall's effect): it spends both cores on the two
  // earliest deadlines while a long job with a later, tight deadline needed a core of its own.
  it('misses a deadline on an instance that a smarter schedule meets', () => {
    const jobs: ExecJob[] = [
      { id: 1, cls: 0, arrival: 0, runtime: 1, deadline: 2 },
      { id: 2, cls: 0, arrival: 0, runtime: 1, deadline: 2 },
      { id: 3, cls: 0, arrival: 0, runtime: 3, deadline: 3 },
    ];
    expect(feasible(asDeadlineJobs(jobs), 2)).toBe(true); // job 3 alone on one core; 1 then 2 on the other
    expect(deadlineMisses(runEdf(2, jobs))).toEqual(['job 3 finished at 4, deadline 3']);
  });

  it('keeps both cores busy while jobs wait, and always runs the earliest deadlines', () => {
    fc.assert(
      fc.property(instanceArb, (jobs) => {
        const r = runEdf(2, jobs);
        expect(lostOrMiscounted(r)).toEqual([]);
        expect(idleWhileWaiting(r, 2)).toEqual([]);
        expect(deadlineInversions(r)).toEqual([]);
        // EDF's schedule is a witness of feasibility, so meeting every deadline implies the oracle agrees.
        if (deadlineMisses(r).length === 0) expect(feasible(asDeadlineJobs(jobs), 2)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
