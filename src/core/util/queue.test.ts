import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Queue } from './queue.ts';

const items = <T>(q: Queue<T>): (T | undefined)[] => Array.from({ length: q.length }, (_, i) => q.at(i));

describe('Queue', () => {
  it('is first in, first out', () => {
    const q = new Queue<number>();
    q.push(1);
    q.push(2);
    q.push(3);
    expect(q.peek()).toBe(1);
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([1, 2, 3, undefined]);
    expect(q.length).toBe(0);
    expect(q.peek()).toBeUndefined();
  });

  it('puts an unshifted item at the front', () => {
    const q = new Queue<string>(2);
    q.push('b');
    q.unshift('a');
    q.push('c');
    expect(items(q)).toEqual(['a', 'b', 'c']);
  });

  it('grows past its capacity across the wrap-around, keeping order', () => {
    const q = new Queue<number>(2);
    q.push(1);
    q.shift();
    for (let i = 0; i < 10; i++) q.push(i);
    q.unshift(-1);
    expect(items(q)).toEqual([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(q.at(-1)).toBeUndefined();
    expect(q.at(11)).toBeUndefined();
  });

  it('behaves like an array under any sequence of push, unshift and shift', () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('push' as const), x: fc.integer() }),
      fc.record({ op: fc.constant('unshift' as const), x: fc.integer() }),
      fc.record({ op: fc.constant('shift' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new Queue<number>(2);
        const model: number[] = [];
        for (const o of ops) {
          if (o.op === 'push') {
            q.push(o.x);
            model.push(o.x);
          } else if (o.op === 'unshift') {
            q.unshift(o.x);
            model.unshift(o.x);
          } else if (q.shift() !== model.shift()) return false;
        }
        return q.length === model.length && items(q).every((x, i) => x === model[i]);
      }),
    );
  });
});
