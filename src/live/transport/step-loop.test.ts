import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StepLoop } from './step-loop.ts';
import { VirtualClock, type Clock } from './clock.ts';

/** A virtual clock that counts the timers set and cancelled through it. */
function countingClock(): { clock: Clock & VirtualClock; set: number[]; cancelled: number } {
  const clock = new VirtualClock();
  const counts = { clock, set: [] as number[], cancelled: 0 };
  const at = clock.at.bind(clock);
  clock.at = (t, fn) => {
    counts.set.push(t);
    const cancel = at(t, fn);
    return () => {
      counts.cancelled++;
      cancel();
    };
  };
  return counts;
}

/** A fake core: records its steps, pushes what `then` says after an input, has a settable deadline. */
function harness(opts: { then?: Record<string, string[]>; idle?: () => string | undefined; clock?: Clock } = {}) {
  const clock = opts.clock ?? new VirtualClock();
  const steps: [number, string][] = [];
  let depth = 0;
  let maxDepth = 0;
  const core = { deadline: Infinity };
  const loop: StepLoop<string> = new StepLoop<string>(
    clock,
    (now, input) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      steps.push([now, input]);
      for (const x of opts.then?.[input] ?? []) {
        loop.push(x);
        // Pushed from inside a step: queued, not stepped yet.
        expect(steps.at(-1)).toEqual([now, input]);
      }
      depth--;
    },
    () => core.deadline,
    'tick',
    opts.idle,
  );
  return { loop, clock, steps, core, maxDepth: () => maxDepth, names: () => steps.map(([, x]) => x) };
}

describe('StepLoop inbox', () => {
  it('steps an input pushed from outside at once, with the clock’s time', () => {
    const clock = new VirtualClock();
    clock.fireNext(42);
    const h = harness({ clock });
    h.loop.push('a');
    expect(h.steps).toEqual([[42, 'a']]);
  });

  it('steps inputs pushed from inside a step after the current one, in order, never re-entrantly', () => {
    const h = harness({ then: { a: ['b', 'c'], b: ['d'], c: ['e', 'f'] } });
    h.loop.push('a');
    expect(h.names()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(h.maxDepth()).toBe(1);
  });

  it('keeps FIFO order and depth 1 for any tree of pushes', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 4 }), { minLength: 1, maxLength: 30 }), (children) => {
        // Input i pushes inputs `children[i]` (those in range and greater than i, so it ends).
        const then: Record<string, string[]> = {};
        children.forEach((cs, i) => {
          then[String(i)] = cs.filter((c) => c > i && c < children.length).map(String);
        });
        const h = harness({ then });
        h.loop.push('0');
        // Breadth-first order of the pushes is the order stepped.
        const expected: string[] = [];
        const queue = ['0'];
        while (queue.length > 0) {
          const x = queue.shift() as string;
          expected.push(x);
          queue.push(...(then[x] ?? []));
        }
        expect(h.names()).toEqual(expected);
        expect(h.maxDepth()).toBe(1);
      }),
      { numRuns: 200 },
    );
  });

  it('steps the idle hook’s input once the inbox is empty, and stops when the hook returns undefined', () => {
    const fresh = ['reading-1', 'reading-2'];
    const calls: string[][] = [];
    const h: ReturnType<typeof harness> = harness({
      then: { a: ['b'], 'reading-1': ['c'] },
      idle: () => {
        calls.push(h.names());
        return fresh.shift();
      },
    });
    h.loop.push('a');
    expect(h.names()).toEqual(['a', 'b', 'reading-1', 'c', 'reading-2']);
    // The hook runs only with an empty inbox: after b, after c, after reading-2 (which ends the loop).
    expect(calls).toEqual([['a', 'b'], ['a', 'b', 'reading-1', 'c'], ['a', 'b', 'reading-1', 'c', 'reading-2']]);
    // The next push calls it again (it is the end of every run).
    h.loop.push('z');
    expect(h.names().at(-1)).toBe('z');
    expect(calls).toHaveLength(4);
  });

  it('a step that throws does not wedge the loop: the next push steps what was left, in order', () => {
    const clock = new VirtualClock();
    const steps: string[] = [];
    const loop: StepLoop<string> = new StepLoop<string>(
      clock,
      (_now, x) => {
        steps.push(x);
        if (x === 'bad') {
          loop.push('after-bad');
          throw new Error('step failed');
        }
      },
      () => Infinity,
      'tick',
    );
    expect(() => loop.push('bad')).toThrow('step failed');
    loop.push('next');
    expect(steps).toEqual(['bad', 'after-bad', 'next']);
  });
});

describe('StepLoop deadline', () => {
  it('arms a timer at the deadline that steps `tick` at that time', () => {
    const h = harness();
    h.core.deadline = 50;
    h.loop.push('a');
    expect(h.clock instanceof VirtualClock && h.clock.nextTimer()).toBe(50);
    const clock = h.clock as VirtualClock;
    expect(clock.fireNext(49)).toBe(false);
    expect(h.names()).toEqual(['a']);
    h.core.deadline = 120; // the tick moves the core's deadline on
    expect(clock.fireNext(1000)).toBe(true);
    expect(h.steps).toEqual([[0, 'a'], [50, 'tick']]);
    // Re-armed at the new deadline after the tick's run.
    expect(clock.nextTimer()).toBe(120);
    h.core.deadline = Infinity;
    expect(clock.fireNext(1000)).toBe(true);
    expect(h.steps.at(-1)).toEqual([120, 'tick']);
    expect(clock.nextTimer()).toBe(Infinity);
  });

  it('arms after the whole run (inputs pushed inside it included), not after each step', () => {
    const c = countingClock();
    const h = harness({ clock: c.clock, then: { a: ['b', 'c'] } });
    h.core.deadline = 10;
    h.loop.push('a');
    expect(h.names()).toEqual(['a', 'b', 'c']);
    expect(c.set).toEqual([10]);
  });

  it('re-arms only when the deadline changes', () => {
    const c = countingClock();
    const h = harness({ clock: c.clock });
    h.core.deadline = 30;
    h.loop.push('a');
    h.loop.push('b');
    h.loop.push('c');
    expect(c.set).toEqual([30]);
    expect(c.cancelled).toBe(0);

    h.core.deadline = 20;
    h.loop.push('d');
    expect(c.set).toEqual([30, 20]);
    expect(c.cancelled).toBe(1);
    expect(c.clock.nextTimer()).toBe(20);

    // Deadline gone: the timer is cancelled and none is set.
    h.core.deadline = Infinity;
    h.loop.push('e');
    expect(c.set).toEqual([30, 20]);
    expect(c.cancelled).toBe(2);
    expect(c.clock.nextTimer()).toBe(Infinity);
    expect(c.clock.fireNext(100)).toBe(false);
    expect(h.names()).toEqual(['a', 'b', 'c', 'd', 'e']);

    // And back.
    h.core.deadline = 200;
    h.loop.push('f');
    expect(c.set).toEqual([30, 20, 200]);
  });

  it('the old timer does not fire after the deadline moved later', () => {
    const h = harness();
    const clock = h.clock as VirtualClock;
    h.core.deadline = 10;
    h.loop.push('a');
    h.core.deadline = 40;
    h.loop.push('b');
    expect(clock.fireNext(30)).toBe(false);
    expect(h.names()).toEqual(['a', 'b']);
    h.core.deadline = Infinity;
    expect(clock.fireNext(40)).toBe(true);
    expect(h.steps.at(-1)).toEqual([40, 'tick']);
  });

  it('arms again at the same time after a tick if the deadline is still there', () => {
    const c = countingClock();
    const h = harness({ clock: c.clock });
    h.core.deadline = 10;
    h.loop.push('a');
    expect(c.clock.fireNext(10)).toBe(true);
    // The core did not move its deadline: the loop must not forget it (its timer has fired).
    expect(c.set).toEqual([10, 10]);
    h.core.deadline = Infinity;
    expect(c.clock.fireNext(10)).toBe(true);
    expect(h.names()).toEqual(['a', 'tick', 'tick']);
  });

  it('a deadline already past steps tick at the next chance, at the current time', () => {
    const clock = new VirtualClock();
    clock.fireNext(100);
    const h = harness({ clock });
    h.core.deadline = 20;
    h.loop.push('a');
    h.core.deadline = Infinity;
    expect(clock.nextTimer()).toBe(100);
    expect(clock.fireNext(100)).toBe(true);
    expect(h.steps).toEqual([[100, 'a'], [100, 'tick']]);
  });

  it('stop() cancels the deadline timer', () => {
    const c = countingClock();
    const h = harness({ clock: c.clock });
    h.core.deadline = 10;
    h.loop.push('a');
    h.loop.stop();
    expect(c.cancelled).toBe(1);
    expect(c.clock.nextTimer()).toBe(Infinity);
    expect(c.clock.fireNext(1000)).toBe(false);
    expect(h.names()).toEqual(['a']);
  });

  it('a run started by the timer is a run like any other: inputs the tick pushes and the idle hook are stepped in it', () => {
    const clock = new VirtualClock();
    const steps: [number, string][] = [];
    let deadline = 5;
    let readings = 0;
    const loop: StepLoop<string> = new StepLoop<string>(
      clock,
      (now, x) => {
        steps.push([now, x]);
        if (x === 'tick') {
          deadline = Infinity;
          loop.push('from-tick');
        }
      },
      () => deadline,
      'tick',
      () => (steps.at(-1)?.[1] === 'from-tick' && readings++ === 0 ? 'reading' : undefined),
    );
    loop.push('a');
    expect(clock.fireNext(5)).toBe(true);
    expect(steps).toEqual([[0, 'a'], [5, 'tick'], [5, 'from-tick'], [5, 'reading']]);
    expect(clock.nextTimer()).toBe(Infinity);
  });
});
