import { describe, expect, it } from 'vitest';
import { ARRIVAL, ID, JobTable, MEM_INIT, MEM_NOW, MEM_TOTAL, RUNTIME } from './job-table.ts';

describe('JobTable', () => {
  it('reads back what a row was given, through its accessors and through the exported offsets alike', () => {
    const t = new JobTable();
    const k = t.add(42, 3, 1500.5, 12.25, 100, 740, true);
    expect([t.id(k), t.cls(k), t.arrival(k), t.runtime(k), t.memInit(k), t.memTotal(k), t.isMeasured(k)]).toEqual([42, 3, 1500.5, 12.25, 100, 740, true]);
    expect([t.memNow(k), t.done(k), t.runStart(k), t.pos(k), t.isRunning(k)]).toEqual([100, 0, 0, -1, false]);
    expect([t.d[k + ID], t.d[k + ARRIVAL], t.d[k + RUNTIME], t.d[k + MEM_INIT], t.d[k + MEM_TOTAL], t.d[k + MEM_NOW]]).toEqual([42, 1500.5, 12.25, 100, 740, 100]);
  });

  it('takes ids up to 2^31 - 1 and refuses a larger one with what to do, rather than wrap it', () => {
    const t = new JobTable();
    const k = t.add(0x7fffffff, 0, 0, 1, 1, 1, true);
    expect(t.id(k)).toBe(0x7fffffff);
    expect(() => t.add(0x80000000, 0, 0, 1, 1, 1, true)).toThrow(/job id 2147483648 is above 2147483647.*split the workload/);
  });

  it("keeps the hardware's bookkeeping apart from the class and measurement flags", () => {
    const t = new JobTable();
    const k = t.add(1, 2, 0, 10, 50, 60, false);
    t.setRunning(k, true);
    t.setDone(k, 4);
    t.setRunStart(k, 7.5);
    t.setPos(k, 3);
    t.setMemNow(k, 55);
    expect([t.isRunning(k), t.done(k), t.runStart(k), t.pos(k), t.memNow(k), t.cls(k), t.isMeasured(k)]).toEqual([true, 4, 7.5, 3, 55, 2, false]);
    t.setRunning(k, false);
    expect([t.isRunning(k), t.cls(k)]).toEqual([false, 2]);
  });

  it('reuses released rows, numbers rows densely, and keeps every row when it grows', () => {
    const t = new JobTable();
    const ks = Array.from({ length: 3000 }, (_, i) => t.add(i, i % 4, i, i + 1, 1, 2, i % 2 === 0));
    expect(ks.map((k) => t.row(k))).toEqual(ks.map((_, i) => i));
    expect(ks.every((k, i) => t.id(k) === i && t.runtime(k) === i + 1 && t.cls(k) === i % 4 && t.isMeasured(k) === (i % 2 === 0))).toBe(true);
    t.release(ks[7] as number);
    const again = t.add(9999, 1, 5, 6, 7, 8, false);
    expect(again).toBe(ks[7]);
    expect([t.id(again), t.pos(again), t.done(again), t.isRunning(again)]).toEqual([9999, -1, 0, false]);
  });
});
