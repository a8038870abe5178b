import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PS_QUANTUM_MS, RunQueue, type MachinePolicy, type Slot, type WithinClass } from './run-queue.ts';
import { job } from '../testkit/fixtures.ts';

/** A run queue with helpers that return job ids, so expectations read as stories. */
function rq(cores: number, policy: MachinePolicy, classes = 4, within: WithinClass = 'fcfs') {
  const q = new RunQueue(cores, policy, classes, within);
  const slots = new Map<number, Slot>();
  let seq = 0;
  const out = { start: undefined as Slot | undefined, preempt: undefined as Slot | undefined };
  return {
    q,
    /** Arrival of job `id` of class `cls` (of function `fn`): [started id, preempted id]. */
    arrive(id: number, cls: number, fn = 0): [number | undefined, number | undefined] {
      const s: Slot = { job: { ...job(id, cls, seq), fn }, seq: seq++, running: false, started: false, memMB: 0, swapped: false, outMB: 0, blocked: false, blockedRunning: false, counted: true, attained: 0, since: 0, lastRan: 0 };
      slots.set(id, s);
      q.arrive(s, out);
      return [out.start?.job.id, out.preempt?.job.id];
    },
    /** The clock moves to `t` (ms). */
    at(t: number): void {
      q.now = t;
    },
    /** Completion of job `id`: the id started in its place. */
    complete(id: number): number | undefined {
      return q.complete(slots.get(id) as Slot)?.job.id;
    },
    running: () => q.running.map((s) => s.job.id).sort((a, b) => a - b),
    waiting: () => q.waiting.map((w) => Array.from({ length: w.length }, (_, i) => (w.at(i) as Slot).job.id)),
    slot: (id: number) => slots.get(id) as Slot,
  };
}

describe('RunQueue under priority', () => {
  it('starts arrivals while cores are free, whatever their class', () => {
    const m = rq(2, 'priority');
    expect(m.arrive(1, 3)).toEqual([1, undefined]);
    expect(m.arrive(2, 0)).toEqual([2, undefined]);
    expect(m.running()).toEqual([1, 2]);
    expect(m.slot(1)).toMatchObject({ running: true, started: true });
  });

  it('preempts a lower-class running job for a higher-class arrival', () => {
    const m = rq(1, 'priority');
    m.arrive(1, 2);
    expect(m.arrive(2, 1)).toEqual([2, 1]);
    expect(m.running()).toEqual([2]);
    expect(m.waiting()).toEqual([[], [], [1], []]);
    expect(m.slot(1)).toMatchObject({ running: false, started: true });
  });

  it('chooses as victim the lowest running class, then the latest arrival within it', () => {
    const m = rq(4, 'priority');
    m.arrive(1, 3);
    m.arrive(2, 1);
    m.arrive(3, 3);
    m.arrive(4, 2);
    expect(m.q.lowestRunningClass()).toBe(3);
    expect(m.arrive(5, 0)).toEqual([5, 3]); // class 3 is lowest; job 3 arrived after job 1
    expect(m.arrive(6, 0)).toEqual([6, 1]);
    expect(m.arrive(7, 0)).toEqual([7, 4]);
    expect(m.arrive(8, 0)).toEqual([8, 2]);
    expect(m.q.lowestRunningClass()).toBe(0);
  });

  it('never preempts for an arrival of the same or a lower class', () => {
    const m = rq(1, 'priority');
    m.arrive(1, 1);
    expect(m.arrive(2, 1)).toEqual([undefined, undefined]);
    expect(m.arrive(3, 2)).toEqual([undefined, undefined]);
    expect(m.running()).toEqual([1]);
    expect(m.waiting()).toEqual([[], [2], [3], []]);
  });

  it('puts a preempted job back at the head of its class, ahead of jobs that waited there', () => {
    const m = rq(1, 'priority');
    m.arrive(1, 2);
    m.arrive(2, 2); // waits behind 1
    m.arrive(3, 0); // preempts 1, which goes before 2
    expect(m.waiting()[2]).toEqual([1, 2]);
    expect(m.complete(3)).toBe(1);
    expect(m.complete(1)).toBe(2);
  });

  it('keeps arrival order within a class when several are preempted in turn', () => {
    const m = rq(2, 'priority');
    m.arrive(1, 3);
    m.arrive(2, 3);
    m.arrive(3, 3);
    m.arrive(4, 0); // preempts 2 (latest running)
    m.arrive(5, 0); // preempts 1
    expect(m.waiting()[3]).toEqual([1, 2, 3]);
  });

  it('on completion starts the highest waiting class, first come first served within it', () => {
    const m = rq(1, 'priority');
    m.arrive(1, 0);
    m.arrive(2, 3);
    m.arrive(3, 1);
    m.arrive(4, 1);
    m.arrive(5, 2);
    expect([m.complete(1), m.complete(3), m.complete(4), m.complete(5), m.complete(2)]).toEqual([3, 4, 5, 2, undefined]);
    expect(m.q.jobs).toBe(0);
  });

  it('counts jobs running and waiting', () => {
    const m = rq(1, 'priority');
    m.arrive(1, 1);
    m.arrive(2, 1);
    m.arrive(3, 0);
    expect([m.q.jobs, m.q.waitingCount, m.q.running.length]).toEqual([3, 2, 1]);
    expect(new RunQueue(1, 'priority', 4).lowestRunningClass()).toBe(-1);
  });

  it('ignores the completion of a slot that is not running', () => {
    const m = rq(1, 'priority');
    m.arrive(1, 1);
    m.arrive(2, 1);
    expect(m.complete(2)).toBeUndefined();
    expect(m.running()).toEqual([1]);
    expect(m.q.jobs).toBe(2);
  });
});

describe('RunQueue under fcfs', () => {
  it('never preempts, and runs waiting jobs in arrival order whatever their class', () => {
    const m = rq(1, 'fcfs');
    m.arrive(1, 3);
    expect(m.arrive(2, 0)).toEqual([undefined, undefined]);
    m.arrive(3, 2);
    m.arrive(4, 0);
    expect(m.waiting()).toEqual([[2, 3, 4]]);
    expect([m.complete(1), m.complete(2), m.complete(3), m.complete(4)]).toEqual([2, 3, 4, undefined]);
  });
});

describe('RunQueue under ps', () => {
  it('runs every job at once, beyond the number of cores, and starts nobody on completion', () => {
    const m = rq(2, 'ps');
    for (let i = 1; i <= 5; i++) expect(m.arrive(i, i % 4)).toEqual([i, undefined]);
    expect(m.running()).toEqual([1, 2, 3, 4, 5]);
    expect(m.q.waitingCount).toBe(0);
    expect(m.complete(3)).toBeUndefined();
    expect(m.running()).toEqual([1, 2, 4, 5]);
  });
});

describe('RunQueue within a class by a key', () => {
  it('fcfs (the paper\'s): an arrival of the running class waits, whatever ran how long', () => {
    const m = rq(1, 'priority', 2, 'fcfs');
    m.arrive(1, 0);
    m.at(5000);
    expect(m.arrive(2, 0)).toEqual([undefined, undefined]);
  });

  it('las: a new call of the class preempts the one of its class that has run longest; the least served waiting goes first', () => {
    const m = rq(2, 'priority', 2, 'las');
    m.arrive(1, 0);
    m.at(100);
    m.arrive(2, 0);
    m.at(1000);
    // Job 1 has run 1,000 ms, job 2 900 ms: the new job 3 takes job 1's core.
    expect(m.arrive(3, 0)).toEqual([3, 1]);
    expect(m.slot(1).attained).toBe(1000);
    // Job 4 takes job 2's core (900 ms); job 5 finds jobs 3 and 4, which have run no longer than it: it waits.
    expect(m.arrive(4, 0)).toEqual([4, 2]);
    expect(m.arrive(5, 0)).toEqual([undefined, undefined]);
    // Waiting by attained service: 5 (0 ms), 2 (900 ms), 1 (1,000 ms).
    expect(m.waiting()).toEqual([[5, 2, 1], []]);
    m.at(1010);
    expect(m.complete(3)).toBe(5);
    expect(m.complete(4)).toBe(2);
    // A lower class is still preempted first, and never preempts a higher one.
    m.at(1020);
    expect(m.arrive(6, 1)).toEqual([undefined, undefined]);
    expect(m.waiting()).toEqual([[1], [6]]);
  });

  it('las: a call that has run under the quantum (100 ms) keeps its core; past the cap (1 s) long calls keep their arrival order', () => {
    const m = rq(1, 'priority', 2, 'las');
    m.arrive(1, 0);
    m.at(50);
    // Job 1 has had 50 ms: a new call of its class waits.
    expect(m.arrive(2, 0)).toEqual([undefined, undefined]);
    m.at(150);
    // Job 1 has had 150 ms, job 2 none: job 3 takes the core and job 1 waits, behind job 2 (0 ms).
    expect(m.arrive(3, 0)).toEqual([3, 1]);
    expect(m.waiting()).toEqual([[2, 1], []]);
    // Long calls past the cap wait in arrival order, not by what they had (pure LAS: job 2 first).
    const l = rq(1, 'priority', 2, 'las');
    l.arrive(1, 0);
    l.at(3000);
    expect(l.arrive(2, 0)).toEqual([2, 1]);
    l.at(5000);
    expect(l.arrive(3, 0)).toEqual([3, 2]);
    expect(l.slot(1).attained).toBe(3000);
    expect(l.slot(2).attained).toBe(2000);
    expect(l.waiting()).toEqual([[1, 2], []]);
    l.at(5010);
    expect(l.complete(3)).toBe(1);
  });

  it('las: a preempted lower class goes back in order of its attained service', () => {
    const m = rq(1, 'priority', 2, 'las');
    m.arrive(1, 1);
    m.at(50);
    expect(m.arrive(2, 0)).toEqual([2, 1]);
    m.arrive(3, 1);
    // Job 3 (0 ms) before job 1 (50 ms).
    expect(m.waiting()).toEqual([[], [3, 1]]);
    m.at(60);
    expect(m.complete(2)).toBe(3);
  });

  it('las keeping function order (live): a call preempts none of its own function, and waits behind those of its function that have run', () => {
    const m = rq(1, 'priority', 2, 'las');
    m.q.keepFunctionOrder = true;
    m.arrive(1, 0, 7);
    m.at(500);
    // Job 2 is a call of job 1's function: it does not take job 1's core (its instance is job 1's).
    expect(m.arrive(2, 0, 7)).toEqual([undefined, undefined]);
    // Job 3, of another function, does: job 1 waits, having run, and job 2 (0 ms) stays behind it.
    expect(m.arrive(3, 0, 8)).toEqual([3, 1]);
    expect(m.waiting()).toEqual([[1, 2], []]);
    // A later call of function 7 also goes behind job 1; one of function 8 by its key, ahead of job 1.
    m.arrive(4, 0, 7);
    m.arrive(5, 0, 8);
    expect(m.waiting()).toEqual([[5, 1, 2, 4], []]);
    m.at(510);
    expect(m.complete(3)).toBe(5);
    expect(m.complete(5)).toBe(1);
    // Without it (the simulator's default), job 2 preempts job 1 of its own function.
    const s = rq(1, 'priority', 2, 'las');
    s.arrive(1, 0, 7);
    s.at(500);
    expect(s.arrive(2, 0, 7)).toEqual([2, 1]);
  });

  it('sef: ordered by expected remaining time; an arrival preempts its class\'s longest expected remaining, if longer than its own', () => {
    const m = rq(1, 'priority', 2, 'sef');
    const expected = new Map([[1, 10_000], [2, 50], [3, 20_000]]);
    m.q.expected = (s) => expected.get(s.job.fn) ?? 0;
    m.arrive(1, 0, 1);
    m.at(100);
    // Job 1 expects 9,900 ms more; job 2 (function 2) expects 50.
    expect(m.arrive(2, 0, 2)).toEqual([2, 1]);
    // Job 3 expects 20,000: it waits, behind job 1 (9,900 left).
    expect(m.arrive(3, 0, 3)).toEqual([undefined, undefined]);
    expect(m.waiting()).toEqual([[1, 3], []]);
    m.at(150);
    expect(m.complete(2)).toBe(1);
    // Job 1 ran 100 ms, then 0 ms more so far: 9,900 left is what it is ordered by.
    expect(m.slot(1).attained).toBe(100);
  });
});

describe('RunQueue within a class by round robin (ps)', () => {
  /** Rotates at the queue's time: the [stopped, started] pairs. */
  const rotate = (m: ReturnType<typeof rq>): number[][] => {
    const pairs: number[][] = [];
    m.q.rotate((a, b) => pairs.push([a.job.id, b.job.id]));
    return pairs;
  };

  it('gives each waiting job of the running class a slice in turn, the stopped one going to the back', () => {
    const m = rq(1, 'priority', 2, 'ps');
    m.arrive(1, 0);
    m.arrive(2, 0);
    m.arrive(3, 0);
    expect(m.running()).toEqual([1]);
    expect(m.q.nextSlice()).toBe(PS_QUANTUM_MS);
    m.at(PS_QUANTUM_MS - 1);
    expect(rotate(m)).toEqual([]); // too early: nothing moves
    m.at(PS_QUANTUM_MS);
    expect(rotate(m)).toEqual([[1, 2]]);
    expect(m.waiting()).toEqual([[3, 1], []]);
    expect(m.q.nextSlice()).toBe(2 * PS_QUANTUM_MS);
    m.at(2 * PS_QUANTUM_MS);
    expect(rotate(m)).toEqual([[2, 3]]);
    m.at(3 * PS_QUANTUM_MS);
    expect(rotate(m)).toEqual([[3, 1]]);
    // A completion starts the next in the list, whose slice starts then.
    m.at(3 * PS_QUANTUM_MS + 5);
    expect(m.complete(1)).toBe(2);
    expect(m.q.nextSlice()).toBe(4 * PS_QUANTUM_MS + 5);
    // Alone, a job is never stopped: no deadline.
    m.at(4 * PS_QUANTUM_MS + 6);
    expect(m.complete(2)).toBe(3);
    expect(m.q.nextSlice()).toBe(Infinity);
  });

  it('slices only within a class: a lower class waits for its turn, a higher one still preempts at once', () => {
    const m = rq(2, 'priority', 3, 'ps');
    m.arrive(1, 1);
    m.arrive(2, 1);
    m.arrive(3, 2);
    // Class 1 holds both cores; class 2 waiting is no reason to stop it.
    expect(m.q.nextSlice()).toBe(Infinity);
    m.at(5);
    expect(m.arrive(4, 0)).toEqual([4, 2]);
    // Job 2 (class 1) now waits beside running job 1: job 1's slice, from 0, ends at the quantum.
    expect(m.q.nextSlice()).toBe(PS_QUANTUM_MS);
    m.at(PS_QUANTUM_MS);
    expect(rotate(m)).toEqual([[1, 2]]);
    expect(m.running()).toEqual([2, 4]);
    expect(m.waiting()).toEqual([[], [1], [3]]);
  });

  it('stops several jobs whose slices end together, one waiting job for each', () => {
    const m = rq(2, 'priority', 2, 'ps');
    for (const id of [1, 2, 3]) m.arrive(id, 0);
    m.at(PS_QUANTUM_MS);
    // Job 3 takes the first core to come free; job 2 keeps its core for a new slice, as nobody else
    // waits for it (job 1 has just had its slice).
    expect(rotate(m)).toEqual([[1, 3]]);
    expect(m.q.nextSlice()).toBe(2 * PS_QUANTUM_MS);
    m.arrive(4, 0);
    m.at(PS_QUANTUM_MS + 1);
    expect(rotate(m)).toEqual([]);
    m.at(2 * PS_QUANTUM_MS);
    expect(rotate(m)).toEqual([[2, 1], [3, 4]]);
    expect(m.waiting()).toEqual([[2, 3], []]);
  });

  it('keeping function order (live): a call that has not started waits while one of its function has', () => {
    const m = rq(1, 'priority', 1, 'ps');
    m.q.keepFunctionOrder = true;
    m.arrive(1, 0, 7);
    m.arrive(2, 0, 7);
    m.arrive(3, 0, 8);
    m.at(PS_QUANTUM_MS);
    // Job 2 would need an instance of its own beside job 1's: job 3 (function 8) takes the slice.
    expect(rotate(m)).toEqual([[1, 3]]);
    // Job 1 goes back ahead of job 2, so that a core that comes free takes job 1 first.
    expect(m.waiting()).toEqual([[1, 2]]);
    m.at(2 * PS_QUANTUM_MS);
    // Job 1, started, comes back before job 2.
    expect(rotate(m)).toEqual([[3, 1]]);
    expect(m.waiting()).toEqual([[2, 3]]);
    // With only job 2 of function 7 waiting beside running job 1, there is no slice to end.
    m.at(2 * PS_QUANTUM_MS + 1);
    expect(m.q.complete(m.slot(1))?.job.id).toBe(2);
    m.q.rotate(() => undefined);
    expect(m.q.nextSlice()).toBe(2 * PS_QUANTUM_MS + 1 + PS_QUANTUM_MS);
    const n = rq(1, 'priority', 1, 'ps');
    n.q.keepFunctionOrder = true;
    n.arrive(1, 0, 7);
    n.arrive(2, 0, 7);
    expect(n.q.nextSlice()).toBe(Infinity);
  });
});

describe('RunQueue keeping function order (property)', () => {
  it('under las, sef and ps: no call preempts one of its function and class, none starts first while one of them that ran waits, and no job is lost', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('arrive' as const), cls: fc.integer({ min: 0, max: 1 }), fn: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ k: fc.constant('complete' as const), pick: fc.nat(10) }),
      fc.record({ k: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 300 }) }),
    );
    fc.assert(fc.property(fc.constantFrom<WithinClass>('las', 'sef', 'ps'), fc.integer({ min: 1, max: 3 }), fc.array(op, { maxLength: 60 }), (within, cores, ops) => {
      const m = rq(cores, 'priority', 2, within);
      m.q.keepFunctionOrder = true;
      m.q.expected = (s) => 100 * (s.job.fn + 1);
      let now = 0;
      let id = 0;
      let live = 0;
      const startedFirst = (started: Slot | undefined, before: Set<number>): void => {
        if (started === undefined || before.has(started.job.id)) return;
        // A first start: no call of its function and class that has run may be waiting (a higher
        // class preempts a lower one whatever the function: that order is the class's).
        for (const w of m.q.waiting) for (let i = 0; i < w.length; i++) {
          const o = w.at(i) as Slot;
          expect(o.job.fn === started.job.fn && o.job.cls === started.job.cls && o.started, `job ${started.job.id} started ahead of job ${o.job.id} of its function, which had run`).toBe(false);
        }
      };
      const ran = new Set<number>();
      for (const o of ops) {
        if (o.k === 'wait') {
          // Under ps the slices that end meanwhile end at their time, as a machine's deadline would have them.
          const end = now + o.ms;
          for (let t = m.q.nextSlice(); t <= end; t = m.q.nextSlice()) {
            // Each turn moves the next slice's end past it: the deadline never stays in the past.
            expect(t).toBeGreaterThanOrEqual(now);
            m.at(t);
            const before = new Set(ran);
            m.q.rotate((stopped, started) => {
              expect(stopped.job.cls, `a slice passed from job ${stopped.job.id} to job ${started.job.id}, of another class`).toBe(started.job.cls);
              startedFirst(started, before);
            });
            for (const r of m.q.running) ran.add(r.job.id);
            expect(m.q.nextSlice()).toBeGreaterThan(t);
            now = t;
          }
          now = end;
          m.at(now);
        } else if (o.k === 'arrive') {
          const me = id++;
          const [started, preempted] = m.arrive(me, o.cls, o.fn);
          live++;
          if (preempted !== undefined) expect(m.slot(preempted).job.fn === o.fn && m.slot(preempted).job.cls === o.cls, `job ${me} preempted job ${preempted} of its own function`).toBe(false);
          startedFirst(started === undefined ? undefined : m.slot(started), ran);
        } else {
          const running = m.q.running;
          const victim = running[o.pick % Math.max(1, running.length)];
          if (victim === undefined) continue;
          const next = m.complete(victim.job.id);
          live--;
          startedFirst(next === undefined ? undefined : m.slot(next), ran);
        }
        for (const r of m.q.running) ran.add(r.job.id);
        expect(m.q.runningCount).toBeLessThanOrEqual(cores);
        expect(m.q.jobs).toBe(live);
        // Work-conserving: a core idles only when nothing waits.
        if (m.q.runningCount < cores) expect(m.q.waitingCount).toBe(0);
      }
    }), { numRuns: 300, seed: 20_261_206 });
  });
});
