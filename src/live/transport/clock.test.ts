import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtualClock, realClock } from './clock.ts';

describe('VirtualClock', () => {
  it('starts at 0 and moves only when told', () => {
    const c = new VirtualClock();
    expect(c.now()).toBe(0);
    c.at(10, () => {});
    expect(c.now()).toBe(0);
    expect(c.nextTimer()).toBe(10);
  });

  it('fires timers in (time, order set) order, moving time to each', () => {
    const c = new VirtualClock();
    const fired: [string, number][] = [];
    const rec = (name: string) => (): void => {
      fired.push([name, c.now()]);
    };
    c.at(30, rec('c'));
    c.at(10, rec('a1'));
    c.at(20, rec('b'));
    c.at(10, rec('a2'));
    while (c.fireNext(100));
    expect(fired).toEqual([['a1', 10], ['a2', 10], ['b', 20], ['c', 30]]);
    // No timer left: time moves to the target.
    expect(c.now()).toBe(100);
  });

  it('fires in (time, order set) order for any set of timers, including ones set while firing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined })), { maxLength: 40 }),
        (plan) => {
          const c = new VirtualClock();
          const fired: { t: number; name: string; at: number }[] = [];
          let order = 0;
          // Every timer ever set, with the time it was set for (clamped to now) and the order set.
          const set: { t: number; name: string; seq: number }[] = [];
          const arm = (t: number, name: string, child: number | undefined): void => {
            set.push({ t: Math.max(t, c.now()), name, seq: order++ });
            c.at(t, () => {
              fired.push({ t, name, at: c.now() });
              if (child !== undefined) arm(c.now() + child - 25, `${name}.child`, undefined);
            });
          };
          plan.forEach(([t, child], i) => arm(t, String(i), child));
          while (c.fireNext(1000));
          // Each fired once, at its (clamped) time, and time never went back.
          expect(fired).toHaveLength(set.length);
          const times = fired.map((f) => f.at);
          expect(times).toEqual([...times].sort((a, b) => a - b));
          const byName = new Map(set.map((s) => [s.name, s]));
          for (const f of fired) expect(f.at).toBe(byName.get(f.name)?.t);
          // Among timers due at the same time, the one set first fires first.
          for (let k = 1; k < fired.length; k++) {
            const a = byName.get((fired[k - 1] as { name: string }).name) as { t: number; seq: number };
            const b = byName.get((fired[k] as { name: string }).name) as { t: number; seq: number };
            if (a.t === b.t) expect(a.seq).toBeLessThan(b.seq);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('fires one timer per fireNext, and only timers due by the given time', () => {
    const c = new VirtualClock();
    const fired: string[] = [];
    c.at(5, () => fired.push('a'));
    c.at(5, () => fired.push('b'));
    c.at(9, () => fired.push('c'));
    expect(c.fireNext(7)).toBe(true);
    expect(fired).toEqual(['a']);
    expect(c.now()).toBe(5);
    expect(c.fireNext(7)).toBe(true);
    expect(fired).toEqual(['a', 'b']);
    expect(c.fireNext(7)).toBe(false);
    expect(fired).toEqual(['a', 'b']);
    expect(c.now()).toBe(7);
    expect(c.nextTimer()).toBe(9);
  });

  it('fireNext returns false and moves time to t when nothing is due, never backwards', () => {
    const c = new VirtualClock();
    expect(c.fireNext(12.5)).toBe(false);
    expect(c.now()).toBe(12.5);
    expect(c.fireNext(3)).toBe(false);
    expect(c.now()).toBe(12.5);
  });

  it('fires a timer set in the past at the current time, not earlier', () => {
    const c = new VirtualClock();
    c.fireNext(50);
    let when = -1;
    c.at(10, () => {
      when = c.now();
    });
    expect(c.nextTimer()).toBe(50);
    expect(c.fireNext(50)).toBe(true);
    expect(when).toBe(50);
    expect(c.now()).toBe(50);
  });

  it('treats a timer set in the past as due now: fireNext before now leaves it, fireNext at now fires it', () => {
    const c = new VirtualClock();
    c.fireNext(50);
    let fired = false;
    c.at(10, () => {
      fired = true;
    });
    // Due "at once": any fireNext at or after now fires it; one before now moves nothing.
    expect(c.fireNext(40)).toBe(false);
    expect(fired).toBe(false);
    expect(c.now()).toBe(50);
    expect(c.fireNext(50)).toBe(true);
    expect(fired).toBe(true);
  });

  it('a cancelled timer never fires and is not the next timer; cancelling twice or after firing is harmless', () => {
    const c = new VirtualClock();
    const fired: string[] = [];
    const cancelA = c.at(5, () => fired.push('a'));
    const cancelB = c.at(8, () => fired.push('b'));
    c.at(9, () => fired.push('c'));
    expect(c.nextTimer()).toBe(5);
    cancelA();
    cancelA();
    expect(c.nextTimer()).toBe(8);
    expect(c.fireNext(8)).toBe(true);
    cancelB();
    expect(c.fireNext(20)).toBe(true);
    expect(c.fireNext(20)).toBe(false);
    expect(fired).toEqual(['b', 'c']);
    expect(c.nextTimer()).toBe(Infinity);
  });

  it('a timer can cancel another due at the same time before it fires', () => {
    const c = new VirtualClock();
    const fired: string[] = [];
    let cancelSecond = (): void => {};
    c.at(5, () => {
      fired.push('first');
      cancelSecond();
    });
    cancelSecond = c.at(5, () => fired.push('second'));
    while (c.fireNext(10));
    expect(fired).toEqual(['first']);
  });

  it('a timer set while firing for the current time fires after those already due then', () => {
    const c = new VirtualClock();
    const fired: string[] = [];
    c.at(5, () => {
      fired.push('a');
      c.at(5, () => fired.push('a.child'));
    });
    c.at(5, () => fired.push('b'));
    c.at(6, () => fired.push('c'));
    while (c.fireNext(10));
    expect(fired).toEqual(['a', 'b', 'a.child', 'c']);
  });

  it('nextTimer is Infinity with no timers, and the earliest live timer otherwise', () => {
    const c = new VirtualClock();
    expect(c.nextTimer()).toBe(Infinity);
    const cancel = c.at(3, () => {});
    c.at(7, () => {});
    expect(c.nextTimer()).toBe(3);
    cancel();
    expect(c.nextTimer()).toBe(7);
  });
});

describe('realClock', () => {
  it('tells monotonic time and fires a timer at (not before) its time', async () => {
    const t0 = realClock.now();
    const fired = await new Promise<number>((resolve) => {
      realClock.at(t0 + 20, () => resolve(realClock.now()));
    });
    // setTimeout may fire a hair early by the performance clock's reckoning: allow 2 ms.
    expect(fired).toBeGreaterThanOrEqual(t0 + 18);
    expect(realClock.now()).toBeGreaterThanOrEqual(t0);
  });

  it('fires a timer set in the past soon, asynchronously, and cancel stops one', async () => {
    let pastFired = false;
    realClock.at(realClock.now() - 1000, () => {
      pastFired = true;
    });
    expect(pastFired).toBe(false);
    let cancelledFired = false;
    const cancel = realClock.at(realClock.now() + 5, () => {
      cancelledFired = true;
    });
    cancel();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(pastFired).toBe(true);
    expect(cancelledFired).toBe(false);
  });
});
