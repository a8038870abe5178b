import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IndexedHeap } from './indexed-heap.ts';

describe('IndexedHeap', () => {
  it('peeks the smallest key, ties by the smaller tie', () => {
    const h = new IndexedHeap();
    expect(h.peek()).toBe(-1);
    expect(h.peekKey()).toBe(Infinity);
    h.set(1, 5, 0);
    h.set(2, 3, 9);
    h.set(3, 3, 1);
    expect(h.peek()).toBe(3);
    expect(h.peekKey()).toBe(3);
    expect([h.pop(), h.pop(), h.pop(), h.pop()]).toEqual([3, 2, 1, -1]);
  });

  it('moves an id when set again, and removes by id', () => {
    const h = new IndexedHeap();
    for (let i = 0; i < 5; i++) h.set(i, i, 0);
    h.set(4, -1, 0);
    expect(h.peek()).toBe(4);
    expect(h.key(4)).toBe(-1);
    expect(h.remove(4)).toBe(true);
    expect(h.remove(4)).toBe(false);
    expect(h.has(4)).toBe(false);
    expect(h.key(4)).toBeUndefined();
    h.set(0, 10, 0);
    expect(h.peek()).toBe(1);
    expect(h.size).toBe(4);
    expect([...h.entries()].map(([id]) => id).sort()).toEqual([0, 1, 2, 3]);
  });

  // Dense ids (machines) keep positions in an array, and a few far ones in a Map: both kinds mixed here.
  const anyId = fc.oneof(fc.nat(15), fc.integer({ min: 1 << 20, max: (1 << 20) + 3 }));
  it.each(['sparse', 'dense'] as const)('pops in (key, tie) order under any mix of set and remove (%s ids)', (space) => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('set' as const), id: anyId, key: fc.integer({ min: -5, max: 5 }), tie: fc.nat(3) }),
      fc.record({ op: fc.constant('remove' as const), id: anyId }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
        const h = new IndexedHeap(space);
        const model = new Map<number, [number, number]>();
        for (const o of ops) {
          if (o.op === 'set') {
            h.set(o.id, o.key, o.tie);
            model.set(o.id, [o.key, o.tie]);
          } else if (h.remove(o.id) !== model.delete(o.id)) return false;
          if (h.has(o.id) !== model.has(o.id) || h.key(o.id) !== model.get(o.id)?.[0]) return false;
        }
        const expected = [...model].sort(([ia, [ka, ta]], [ib, [kb, tb]]) => ka - kb || ta - tb || ia - ib);
        const got: [number, number, number][] = [];
        while (h.size > 0) {
          const id = h.peek();
          const [k, t] = model.get(id) as [number, number];
          got.push([id, k, t]);
          h.pop();
        }
        // Equal (key, tie) pairs may come in any order; compare the (key, tie) sequence and the id set.
        return (
          got.length === expected.length &&
          got.every(([, k, t], i) => { const e = expected[i] as [number, [number, number]]; return e[1][0] === k && e[1][1] === t; }) &&
          new Set(got.map(([id]) => id)).size === got.length
        );
      }),
    );
  });
});
