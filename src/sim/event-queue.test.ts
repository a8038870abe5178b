import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventQueue } from './event-queue.ts';

/** Reference: every owner's (time, sequence), the minimum found by scanning. */
class Reference {
  private readonly entries = new Map<number, { t: number; s: number }>();
  private counter = 0;
  schedule(o: number, t: number): void {
    const cur = this.entries.get(o);
    if (t === Infinity) this.entries.delete(o);
    else if (!cur || cur.t !== t) this.entries.set(o, { t, s: this.counter++ });
  }
  renew(o: number, t: number): void {
    if (t === Infinity) this.entries.delete(o);
    else this.entries.set(o, { t, s: this.counter++ });
  }
  pop(): number {
    let best = -1;
    let bt = Infinity, bs = Infinity;
    for (const [o, { t, s }] of this.entries) if (t < bt || (t === bt && s < bs)) [best, bt, bs] = [o, t, s];
    if (best >= 0) this.entries.delete(best);
    return best;
  }
  get size(): number {
    return this.entries.size;
  }
}

describe('EventQueue', () => {
  it('pops owners by time, then by the order they were scheduled', () => {
    const q = new EventQueue(5);
    q.schedule(3, 10);
    q.schedule(1, 5);
    q.schedule(4, 10);
    q.schedule(0, 7);
    expect([q.pop(), q.pop(), q.pop(), q.pop(), q.pop()]).toEqual([1, 0, 3, 4, -1]);
  });

  it('renew puts a woken owner behind others due at the same time; schedule at the same time keeps its place', () => {
    const q = new EventQueue(3);
    q.schedule(0, 1);
    q.schedule(1, 1);
    q.schedule(2, 1);
    q.schedule(0, 1);
    expect(q.peekOwner()).toBe(0);
    q.renew(0, 1);
    expect([q.pop(), q.pop(), q.pop()]).toEqual([1, 2, 0]);
  });

  it('agrees with a reference model on random schedules, renewals, cancellations and pops', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('schedule' as const), o: fc.nat(40), t: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constant(Infinity)) }),
      fc.record({ k: fc.constant('renew' as const), o: fc.nat(40), t: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constant(Infinity)) }),
      fc.record({ k: fc.constant('pop' as const), o: fc.constant(0), t: fc.constant(0) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const q = new EventQueue(41);
      const ref = new Reference();
      for (const { k, o, t } of ops) {
        if (k === 'pop') expect(q.pop()).toBe(ref.pop());
        else if (k === 'schedule') {
          q.schedule(o, t);
          ref.schedule(o, t);
        } else {
          q.renew(o, t);
          ref.renew(o, t);
        }
        expect(q.size).toBe(ref.size);
      }
      while (ref.size > 0) expect(q.pop()).toBe(ref.pop());
      expect(q.pop()).toBe(-1);
    }), { numRuns: 300 });
  });
});
