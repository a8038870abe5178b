import { describe, expect, it } from 'vitest';
import { idleToSwapOut, swapOut, swapOutLru, swapOutPages } from './swapper.ts';
import { RunQueue, type Slot } from './run-queue.ts';
import { Machine } from './machine.ts';
import { Rng } from '../rng.ts';
import { runScript } from '../testkit/trace.ts';
import { job, machineConfig } from '../testkit/fixtures.ts';

/** One core, priority; jobs arrive in order with (class, MB); the first runs, the rest wait. */
function loaded(jobs: [cls: number, mb: number][], cores = 1): { rq: RunQueue; used: number; slots: Slot[] } {
  const rq = new RunQueue(cores, 'priority', 4);
  const out = { start: undefined as Slot | undefined, preempt: undefined as Slot | undefined };
  const slots = jobs.map(([cls, mb], i): Slot => ({ job: job(i + 1, cls, i), seq: i, running: false, started: false, memMB: mb, swapped: false, outMB: 0, blocked: false, blockedRunning: false, counted: true, attained: 0, since: 0, lastRan: 0 }));
  for (const s of slots) rq.arrive(s, out);
  return { rq, used: jobs.reduce((a, [, mb]) => a + mb, 0), slots };
}

/** Four jobs of 100 MB (classes 0, 0, 3, 1); job 1 runs, 2 ran until 50, 3 until 90, 4 arrived at 10 and has not run. */
function lastRanScene(): { rq: RunQueue; used: number; slots: Slot[] } {
  const scene = loaded([[0, 100], [0, 100], [3, 100], [1, 100]]);
  scene.slots.forEach((s, i) => (s.lastRan = [0, 50, 90, 10][i] as number));
  return scene;
}

const swapped = (target: number, jobs: [number, number][], cores = 1): { ids: number[]; used: number } => {
  const { rq, used } = loaded(jobs, cores);
  const ids: number[] = [];
  const after = swapOut(rq, used, target, (s) => ids.push(s.job.id));
  return { ids, used: after };
};

describe('swapOutPages (the kernel-like order at page level)', () => {
  it('takes only the memory needed, least recently run first: the last job gives part of its memory and keeps the rest', () => {
    // job 1 runs; 2 (ran until 50), 3 (ran until 90), 4 (arrived at 10, not run): 100 MB each.
    const { rq, used, slots } = lastRanScene();
    const moves: [number, number][] = [];
    // 150 MB must go: all of job 4 (oldest), then half of job 2.
    expect(swapOutPages(rq, used, 250, (s, mb) => moves.push([s.job.id, mb]))).toBe(250);
    expect(moves).toEqual([[4, 100], [2, 50]]);
    expect(slots.map((s) => [s.swapped, s.outMB])).toEqual([[false, 0], [true, 50], [false, 0], [true, 100]]);
    // More pressure: job 2 gives what it has left before job 3 gives any.
    moves.length = 0;
    expect(swapOutPages(rq, 250, 180, (s, mb) => moves.push([s.job.id, mb]))).toBe(180);
    expect(moves).toEqual([[2, 50], [3, 20]]);
    // Never a running job; within the swap space: 10 MB of space is 10 MB moved, whatever is asked.
    moves.length = 0;
    expect(swapOutPages(rq, 180, 0, (s, mb) => moves.push([s.job.id, mb]), 10)).toBe(170);
    expect(moves).toEqual([[3, 10]]);
    expect(slots[0]?.swapped).toBe(false);
  });

  it('on a machine: the part swapped out is all that is read back when the job runs again', () => {
    const m = new Machine(machineConfig({ cores: 1, memoryMB: 1000, swap: { enabled: true, targetFraction: 1, order: 'pages' } }), new Rng(1).fork('machine/0'));
    const trace = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 2, 0), memMB: 600 }],
      [1, { kind: 'arrive', job: job(2, 0, 1), memMB: 300 }],
      [2, { kind: 'stopped', job: 1, memMB: 600 }],
      [3, { kind: 'arrive', job: job(3, 0, 2), memMB: 400 }],
      [4, { kind: 'complete', job: 2, memMB: 300 }],
      [5, { kind: 'complete', job: 3, memMB: 400 }],
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=1 machine/0 preempt job=1',
      't=1 machine/0 run job=2',
      // 1,300 MB against 1,000: 300 MB of job 1, not its 600.
      't=3 machine/0 swap-out job=1 mb=300',
      't=4 machine/0 run job=3',
      't=5 machine/0 swap-in job=1 mb=300',
      't=5 machine/0 run job=1',
    ]);
  });
});

describe('swapOutLru (the kernel-like order, blind to classes)', () => {
  it('swaps the job that ran least recently first, whatever its class; never a running one; within the swap space', () => {
    // job 1 runs; 2 (class 0, ran until 50), 3 (class 3, ran until 90), 4 (class 1, arrived at 10, not run).
    const { rq, used, slots } = lastRanScene();
    const ids: number[] = [];
    expect(swapOutLru(rq, used, 200, (s) => ids.push(s.job.id))).toBe(200);
    // Class order would have taken 3 then 4; the kernel's order takes 4 (oldest), then the top class's 2.
    expect(ids).toEqual([4, 2]);
    expect(slots.map((s) => s.swapped)).toEqual([false, true, false, true]);
    // Swap space for one job only: the next in order that fits.
    const b = loaded([[0, 100], [0, 300], [3, 100]]);
    (b.slots[1] as Slot).lastRan = 1;
    (b.slots[2] as Slot).lastRan = 2;
    const got: number[] = [];
    expect(swapOutLru(b.rq, b.used, 0, (s) => got.push(s.job.id), 150)).toBe(400);
    expect(got).toEqual([3]);
  });

  it('in a machine: the swap order is a setting; lru takes the waiting job that ran least recently, top class or not', () => {
    // One core, 1000 MB. Job 1 (top class) runs, is preempted by nothing, so the others wait in
    // arrival order: 2 (top, arrived at 1), 3 (low, at 2), 4 (low, at 3) overfills: 1150 > 1000.
    const run = (order: 'class' | 'lru'): string[] => runScript('machine/0', new Machine(machineConfig({ memoryMB: 1000, swap: { enabled: true, targetFraction: 0.8, order } }), new Rng(1)), [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 400 }],
      [1, { kind: 'arrive', job: job(2, 0, 1), memMB: 300 }],
      [2, { kind: 'arrive', job: job(3, 3, 2), memMB: 200 }],
      [3, { kind: 'arrive', job: job(4, 3, 3), memMB: 250 }],
    ]);
    // Class order: the low class, latest first (4, then 3 to get under 800).
    expect(run('class')).toEqual(['t=0 machine/0 run job=1', 't=3 machine/0 swap-out job=4 mb=250', 't=3 machine/0 swap-out job=3 mb=200']);
    // The kernel's order: the job waiting longest without running, the top class's 2.
    expect(run('lru')).toEqual(['t=0 machine/0 run job=1', 't=3 machine/0 swap-out job=2 mb=300', 't=3 machine/0 swap-out job=3 mb=200']);
  });
});

describe('swapOut (class-based swapping)', () => {
  it('swaps the lowest class first', () => {
    // job 1 runs; 2 (class 1), 3 (class 3), 4 (class 2) wait.
    expect(swapped(350, [[0, 100], [1, 100], [3, 100], [2, 100]])).toEqual({ ids: [3], used: 300 });
    expect(swapped(200, [[0, 100], [1, 100], [3, 100], [2, 100]])).toEqual({ ids: [3, 4], used: 200 });
  });

  it('making room for the first job of a class: lower classes, then the later jobs of that class, never the job itself nor a higher class', () => {
    // job 1 (class 0) runs; 2 and 3 (class 1), 4 (class 2), 5 (class 0) wait; the room is for job 2.
    const { rq, used } = loaded([[0, 100], [1, 300], [1, 300], [2, 300], [0, 300]]);
    const ids: number[] = [];
    expect(swapOut(rq, used, 0, (s) => ids.push(s.job.id), Infinity, 0, 1, 1)).toBe(700); // for job 2 (seq 1)
    expect(ids).toEqual([4, 3]);
    // Not started yet (with memory admission): holds no memory, nothing to swap.
    const b = loaded([[0, 100], [1, 300], [3, 300]]);
    (b.slots[2] as Slot).counted = false;
    const none: number[] = [];
    swapOut(b.rq, b.used, 0, (s) => none.push(s.job.id));
    expect(none).toEqual([2]);
  });

  it('within a class, swaps the latest arrival first (it runs last)', () => {
    expect(swapped(250, [[0, 100], [3, 100], [3, 100], [3, 100]]).ids).toEqual([4, 3]);
  });

  it('swaps only jobs that are not running, even if that leaves memory above target', () => {
    const r = swapped(0, [[3, 500], [3, 100], [0, 200]], 2);
    expect(r.ids).toEqual([2]); // 1 and 3 run on the two cores
    expect(r.used).toBe(700);
  });

  it('stops as soon as memory is at or under the target', () => {
    expect(swapped(400, [[0, 100], [3, 100], [3, 100], [3, 100]])).toEqual({ ids: [], used: 400 });
    expect(swapped(399, [[0, 100], [3, 100], [3, 100], [3, 100]])).toEqual({ ids: [4], used: 300 });
  });

  it('swaps no more than the swap space holds: a job too large for what is left stays, a smaller one after it goes', () => {
    const { rq } = loaded([[0, 100], [3, 50], [3, 70], [3, 300]]);
    const ids: number[] = [];
    const used = swapOut(rq, 520, 0, (s) => ids.push(s.job.id), 150);
    expect(ids).toEqual([3, 2]); // 4 (300 MB) does not fit in 150 MB; 3 (70) and 2 (50) do
    expect(used).toBe(400);
  });

  it('looks at nothing once the space left is under the smallest job the machine has had', () => {
    const { rq } = loaded([[0, 100], [3, 50], [3, 70]]);
    const ids: number[] = [];
    expect(swapOut(rq, 220, 0, (s) => ids.push(s.job.id), 49, 50)).toBe(220);
    expect(ids).toEqual([]);
    expect(swapOut(rq, 220, 0, (s) => ids.push(s.job.id), 50, 50)).toBe(170);
    expect(ids).toEqual([2]);
  });

  it('skips jobs already swapped and jobs with no resident memory, and marks the ones it swaps', () => {
    const { rq, slots } = loaded([[0, 100], [3, 0], [3, 50], [3, 70]]);
    (slots[3] as Slot).swapped = true;
    const ids: number[] = [];
    const used = swapOut(rq, 150, 0, (s) => ids.push(s.job.id));
    expect(ids).toEqual([3]);
    expect(used).toBe(100);
    expect(slots.map((s) => s.swapped)).toEqual([false, false, true, true]);
  });
});

describe('swapping on a Machine', () => {
  const machine = () => new Machine(machineConfig({ memoryMB: 1000, swap: { enabled: true, targetFraction: 0.8 } }), new Rng(1));

  it('swaps out under pressure, records the MB, and swaps a job back in just before it runs', () => {
    const m = machine();
    const trace = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 400 }],
      [1, { kind: 'arrive', job: job(2, 3, 1), memMB: 300 }],
      [2, { kind: 'arrive', job: job(3, 2, 2), memMB: 200 }],
      [3, { kind: 'arrive', job: job(4, 3, 3), memMB: 250 }], // 1150 > 1000: swap to ≤ 800
      [9, { kind: 'complete', job: 1, memMB: 400 }],
      [12, { kind: 'complete', job: 3, memMB: 200 }],
      [15, { kind: 'complete', job: 2, memMB: 300 }],
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=3 machine/0 swap-out job=4 mb=250', // class 3, latest arrival first
      't=3 machine/0 swap-out job=2 mb=300', // 900 is still above 800
      't=9 machine/0 run job=3', // job 3 was never swapped: no swap-in
      't=12 machine/0 swap-in job=2 mb=300',
      't=12 machine/0 run job=2',
      't=15 machine/0 swap-in job=4 mb=250',
      't=15 machine/0 run job=4',
    ]);
    expect(m.usedMB).toBe(250);
  });

  it('swaps out with the memory a preempted job reported when it stopped', () => {
    const m = machine();
    const trace = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 3, 0), memMB: 100 }],
      [1, { kind: 'arrive', job: job(2, 0, 1), memMB: 100 }],
      [1, { kind: 'stopped', job: 1, memMB: 600 }], // it grew while running
      [2, { kind: 'memory', usedMB: 1100 }],
    ]);
    expect(trace).toEqual(['t=0 machine/0 run job=1', 't=1 machine/0 preempt job=1', 't=1 machine/0 run job=2', 't=2 machine/0 swap-out job=1 mb=600']);
    expect(m.usedMB).toBe(500);
    expect(m.slot(1)).toMatchObject({ swapped: true, running: false });
  });

  it('keeps what it swapped out within the swap space, and has it back once swapped in', () => {
    const m = new Machine(machineConfig({ memoryMB: 1000, swap: { enabled: true, targetFraction: 0.8, spaceMB: 300 } }), new Rng(1));
    const trace = runScript('machine/0', m, [
      [0, { kind: 'arrive', job: job(1, 0, 0), memMB: 400 }],
      [1, { kind: 'arrive', job: job(2, 3, 1), memMB: 300 }],
      [2, { kind: 'arrive', job: job(3, 2, 2), memMB: 200 }],
      [3, { kind: 'arrive', job: job(4, 3, 3), memMB: 250 }], // 1150 > 1000: 250 out; then 50 MB of space is left, too little for 2 or 3
      [9, { kind: 'complete', job: 1, memMB: 400 }],
      [11, { kind: 'complete', job: 3, memMB: 200 }],
      [12, { kind: 'complete', job: 2, memMB: 300 }], // job 4 comes back in: the space is free again
      [13, { kind: 'arrive', job: job(5, 3, 13), memMB: 280 }],
      [14, { kind: 'arrive', job: job(6, 1, 14), memMB: 900 }], // 1430: job 5 (280) fits in the space now
    ]);
    expect(trace).toEqual([
      't=0 machine/0 run job=1',
      't=3 machine/0 swap-out job=4 mb=250',
      't=9 machine/0 run job=3',
      't=11 machine/0 run job=2',
      't=12 machine/0 swap-in job=4 mb=250',
      't=12 machine/0 run job=4',
      't=14 machine/0 preempt job=4',
      't=14 machine/0 run job=6',
      't=14 machine/0 swap-out job=5 mb=280',
    ]);
    expect(m.usedMB).toBe(1150);
  });

  it('does nothing when swapping is disabled', () => {
    const m = new Machine(machineConfig({ memoryMB: 100, swap: { enabled: false, targetFraction: 0.5 } }), new Rng(1));
    const trace = runScript('m', m, [
      [0, { kind: 'arrive', job: job(1, 0), memMB: 100 }],
      [0, { kind: 'arrive', job: job(2, 3), memMB: 100 }],
    ]);
    expect(trace).toEqual(['t=0 m run job=1']);
    expect(m.usedMB).toBe(200);
  });
});

describe('idleToSwapOut (idle instances, before waiting jobs)', () => {
  const idle = [
    { id: 1, cls: 0, mb: 500, idleSince: 10 },
    { id: 2, cls: 3, mb: 200, idleSince: 50 },
    { id: 3, cls: 3, mb: 300, idleSince: 20 },
    { id: 4, cls: 2, mb: 400, idleSince: 0 },
  ];

  it('takes the lowest class first, the one idle longest first within a class, until memory is at the target', () => {
    expect(idleToSwapOut(idle, 2000, 1700)).toEqual([3]);
    expect(idleToSwapOut(idle, 2000, 1600)).toEqual([3, 2]);
    expect(idleToSwapOut(idle, 2000, 1200)).toEqual([3, 2, 4]);
    expect(idleToSwapOut(idle, 2000, 0)).toEqual([3, 2, 4, 1]);
  });

  it('takes nothing at or under the target, and nothing that does not fit in the swap space', () => {
    expect(idleToSwapOut(idle, 1000, 1000)).toEqual([]);
    expect(idleToSwapOut(idle, 2000, 0, 450)).toEqual([3]); // 200 no longer fits after 300; 400 and 500 never
    expect(idleToSwapOut([{ id: 9, cls: 3, mb: 0, idleSince: 0 }], 2000, 0)).toEqual([]);
  });
});
