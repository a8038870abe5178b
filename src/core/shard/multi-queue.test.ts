import { describe, expect, it } from 'vitest';
import { MultiQueue } from './multi-queue.ts';
import { job } from '../testkit/fixtures.ts';

// The default table's prices: class 0 = 2, 1 = 1.5, 2 = 1, 3 = 0.5 (µ¢ per CPU-second).
const PRICES = [2, 1.5, 1, 0.5];

const drain = (q: MultiQueue, now: number): number[] => {
  const ids: number[] = [];
  for (let j = q.pop(now); j; j = q.pop(now)) ids.push(j.id);
  return ids;
};

describe('MultiQueue bookkeeping', () => {
  it('counts jobs in all and per class, and pops undefined when empty', () => {
    const q = new MultiQueue(PRICES, 'price-wait');
    expect(q.pop(0)).toBeUndefined();
    q.push(job(1, 0));
    q.push(job(2, 3));
    q.push(job(3, 3));
    expect(q.length).toBe(3);
    expect([q.lengthOf(0), q.lengthOf(1), q.lengthOf(3), q.lengthOf(9)]).toEqual([1, 0, 2, 0]);
    q.pop(0);
    expect(q.length).toBe(2);
  });

  it('rejects a job whose class the shard does not have, saying how many it has', () => {
    const q = new MultiQueue(PRICES, 'strict');
    expect(() => q.push(job(7, 4))).toThrow(new RangeError('job 7 has class 4, but the shard has 4 classes'));
    expect(q.length).toBe(0);
  });

  it('keeps each class first in, first out: only heads compete', () => {
    for (const rule of ['price-wait', 'strict', 'fifo'] as const) {
      const q = new MultiQueue(PRICES, rule);
      q.push(job(1, 2, 0));
      q.push(job(2, 2, 5));
      q.push(job(3, 2, 1)); // out of arrival order inside the class: still behind job 2
      expect(drain(q, 10)).toEqual([1, 2, 3]);
    }
  });
});

describe('price-wait rule', () => {
  it('picks the head with the largest price × time waited', () => {
    const q = new MultiQueue(PRICES, 'price-wait');
    q.push(job(1, 0, 90)); // 2 × 10 = 20
    q.push(job(2, 3, 0)); // 0.5 × 100 = 50
    q.push(job(3, 1, 80)); // 1.5 × 20 = 30
    expect(q.pop(100)?.id).toBe(2);
    expect(q.pop(100)?.id).toBe(3);
    expect(q.pop(100)?.id).toBe(1);
  });

  it('lets a high class overtake a low one that has waited less than price ratio × its own wait', () => {
    const q = new MultiQueue(PRICES, 'price-wait');
    q.push(job(1, 3, 61)); // low: 0.5 × 39 = 19.5
    q.push(job(2, 0, 90)); // high: 2 × 10 = 20
    expect(q.pop(100)?.id).toBe(2);
  });

  it('breaks ties toward the higher class', () => {
    const q = new MultiQueue(PRICES, 'price-wait');
    q.push(job(1, 3, 60)); // 0.5 × 40 = 20
    q.push(job(2, 0, 90)); // 2 × 10 = 20
    expect(q.pop(100)?.id).toBe(2);
    const fresh = new MultiQueue(PRICES, 'price-wait');
    fresh.push(job(3, 2, 5));
    fresh.push(job(4, 1, 5)); // both waited 0: score 0
    expect(fresh.pop(5)?.id).toBe(4);
  });

  it('scores by the time of the pop, so the same queue can answer differently later', () => {
    const q = new MultiQueue(PRICES, 'price-wait');
    q.push(job(1, 3, 0));
    q.push(job(2, 0, 10));
    expect(q.pop(12)?.id).toBe(1); // 0.5 × 12 = 6 > 2 × 2 = 4
    const r = new MultiQueue(PRICES, 'price-wait');
    r.push(job(1, 3, 0));
    r.push(job(2, 0, 10));
    expect(r.pop(30)?.id).toBe(2); // 0.5 × 30 = 15 < 2 × 20 = 40
  });
});

describe('strict rule', () => {
  it('always picks the highest non-empty class, however long others waited', () => {
    const q = new MultiQueue(PRICES, 'strict');
    q.push(job(1, 3, 0));
    q.push(job(2, 1, 1000));
    q.push(job(3, 2, 0));
    q.push(job(4, 1, 1001));
    expect(drain(q, 1_000_000)).toEqual([2, 4, 3, 1]);
  });
});

describe('fifo rule', () => {
  it('picks the earliest arrival regardless of class', () => {
    const q = new MultiQueue(PRICES, 'fifo');
    q.push(job(1, 0, 30));
    q.push(job(2, 3, 10));
    q.push(job(3, 2, 20));
    expect(drain(q, 100)).toEqual([2, 3, 1]);
  });

  it('breaks equal arrivals by the lower job id', () => {
    const q = new MultiQueue(PRICES, 'fifo');
    q.push(job(5, 0, 7));
    q.push(job(2, 3, 7));
    expect(drain(q, 10)).toEqual([2, 5]);
  });

  // BUG: the fifo score folds the id into the arrival as `arrival + id × 1e-12`, which a double cannot
  // hold once arrivals are large (at 1e6 ms one ulp is ~1.2e-10), so the id tie-break silently vanishes
  // (ties then go to the higher class), and with ids ≥ 1e12 it can even reorder distinct arrivals.
  // The tie-break should not depend on the clock's magnitude. Fix: compare (arrival, id) lexicographically,
  // e.g. keep `bestArrival`/`bestId` and take a head when `arrival < bestArrival || (arrival === bestArrival && id < bestId)`.
  it('breaks equal arrivals by the lower job id late in a run too', () => {
    const q = new MultiQueue(PRICES, 'fifo');
    q.push(job(5, 0, 1_000_000));
    q.push(job(2, 3, 1_000_000));
    expect(drain(q, 2_000_000)).toEqual([2, 5]);
  });
});

describe('MultiQueue within a class: shortest expected first (sef)', () => {
  it('takes the job expected shortest first, the earliest of equals; a class competes by its oldest job', () => {
    const q = new MultiQueue(PRICES, 'price-wait', 'sef');
    q.push(job(1, 2, 0), 900);
    q.push(job(2, 2, 1), 50);
    q.push(job(3, 2, 2), 50);
    q.push(job(4, 2, 3)); // not known: expected 0, goes first
    // Class 0's one job arrived at 9 (2 × 1 = 2); class 2's oldest at 0 (1 × 10 = 10): class 2 goes.
    q.push(job(5, 0, 9), 5000);
    expect(q.lengthOf(2)).toBe(4);
    expect(q.pop(10)?.id).toBe(4);
    // Class 2's oldest (job 1, arrived at 0) still waits: 1 × 30 against class 0's 2 × 21.
    expect(q.pop(30)?.id).toBe(5);
    expect(drain(q, 30)).toEqual([2, 3, 1]);
    expect(q.length).toBe(0);
  });

  it('under fifo (class-blind), the class of the oldest job goes, and within it the shortest', () => {
    const q = new MultiQueue(PRICES, 'fifo', 'sef');
    q.push(job(1, 3, 0), 100);
    q.push(job(2, 0, 1), 10);
    q.push(job(3, 3, 2), 1);
    expect(drain(q, 5)).toEqual([3, 1, 2]);
  });

  it('fcfs (the default) ignores the expectation', () => {
    const q = new MultiQueue(PRICES, 'strict');
    q.push(job(1, 1, 0), 900);
    q.push(job(2, 1, 1), 1);
    expect(drain(q, 5)).toEqual([1, 2]);
  });
});
