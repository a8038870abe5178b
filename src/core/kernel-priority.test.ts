import { describe, expect, it } from 'vitest';
import { kernelPriority, partPriority, waitingKernelPriority, type KernelPriority } from './kernel-priority.ts';

const table = (classes: number, strict: boolean, canRaise: boolean): KernelPriority[] =>
  Array.from({ length: classes }, (_, cls) => kernelPriority(cls, classes, { strict, canRaise }));

describe('kernelPriority', () => {
  it('gives the top class the lowest nice value, rising to 0 just above the lowest class, which runs SCHED_IDLE', () => {
    expect(table(4, false, true)).toEqual([
      { kind: 'nice', nice: -5 },
      { kind: 'nice', nice: -3 },
      { kind: 'nice', nice: 0 },
      { kind: 'idle' },
    ]);
    expect(table(2, false, true)).toEqual([{ kind: 'nice', nice: -5 }, { kind: 'idle' }]);
    expect(table(6, false, true).map((p) => (p.kind === 'nice' ? p.nice : p.kind))).toEqual([-5, -4, -3, -1, 0, 'idle']);
  });

  it('leaves the classes above the lowest alone when it may not lower a nice value', () => {
    expect(table(4, false, false)).toEqual([{ kind: 'none' }, { kind: 'none' }, { kind: 'none' }, { kind: 'idle' }]);
  });

  it('runs a single class SCHED_IDLE: it is the lowest', () => {
    expect(table(1, false, true)).toEqual([{ kind: 'idle' }]);
  });

  it('in strict mode puts every class under SCHED_FIFO, 10 per class above the lowest, whatever it may raise', () => {
    for (const canRaise of [false, true]) {
      expect(table(4, true, canRaise)).toEqual([40, 30, 20, 10].map((priority) => ({ kind: 'fifo', priority })));
    }
    expect(kernelPriority(0, 1, { strict: true, canRaise: true })).toEqual({ kind: 'fifo', priority: 10 });
    // Never below 1 (a class index past the table is the driver's bug, but still a valid priority).
    expect(kernelPriority(5, 4, { strict: true, canRaise: true })).toEqual({ kind: 'fifo', priority: 1 });
  });

  it('never answers nice −0', () => {
    for (const p of table(7, false, true)) if (p.kind === 'nice') expect(Object.is(p.nice, -0)).toBe(false);
  });

  it('while a job waits on I/O: SCHED_IDLE for all but the top class, which keeps its own; nothing changes where the priority could not be given back', () => {
    const waiting = (classes: number, strict: boolean, canRaise: boolean): KernelPriority[] =>
      Array.from({ length: classes }, (_, cls) => waitingKernelPriority(cls, classes, { strict, canRaise }));
    expect(waiting(3, false, true)).toEqual([{ kind: 'nice', nice: -5 }, { kind: 'idle' }, { kind: 'idle' }]);
    expect(waiting(3, true, false)).toEqual([{ kind: 'fifo', priority: 30 }, { kind: 'idle' }, { kind: 'idle' }]);
    expect(waiting(3, false, false)).toEqual(table(3, false, false));
  });
});

describe('partPriority', () => {
  it("puts Fare's parts under SCHED_RR above every instance's priority, in every mode", () => {
    for (const classes of [1, 2, 3, 4, 8]) {
      const part = partPriority(classes);
      expect(part.kind).toBe('rr');
      for (let cls = 0; cls < classes; cls++) {
        for (const strict of [false, true]) {
          const p = kernelPriority(cls, classes, { strict, canRaise: true });
          // A nice value or SCHED_IDLE is below any real-time priority.
          if (p.kind === 'fifo') expect(part.priority).toBeGreaterThan(p.priority);
        }
      }
    }
    expect(partPriority(3)).toEqual({ kind: 'rr', priority: 40 });
  });

  it('stays within the priorities Linux gives (1…99)', () => {
    expect(partPriority(20).priority).toBe(99);
  });
});
