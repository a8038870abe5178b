import { describe, expect, it } from 'vitest';
import { IdleList } from './idle-list.ts';
import { Rng } from '../rng.ts';

const list = (seed: number | string = 1) => new IdleList(new Rng(seed, 'idle-list'));

describe('IdleList', () => {
  it('is empty at first: best is -1', () => {
    const l = list();
    expect(l.size).toBe(0);
    expect(l.best()).toBe(-1);
  });

  it('offers the machine with the fewest jobs first', () => {
    const l = list();
    l.set(4, 1000, 3);
    l.set(7, 200, 1);
    l.set(2, 5000, 2);
    expect(l.best()).toBe(7); // fewest jobs wins, not most free memory
  });

  it('counts a placement against the entry, so the next placement may go elsewhere', () => {
    const l = list();
    l.set(1, 1000, 0);
    l.set(2, 1000, 1);
    expect(l.best()).toBe(1);
    l.addJob(1);
    l.addJob(1);
    expect(l.best()).toBe(2);
    expect(l.entries()).toEqual([{ machine: 2, freeMB: 1000, jobs: 1 }, { machine: 1, freeMB: 1000, jobs: 2 }]);
  });

  it('ignores addJob for a machine not on the list', () => {
    const l = list();
    l.addJob(3);
    expect(l.size).toBe(0);
    expect(l.has(3)).toBe(false);
  });

  it('refreshes an entry on set: the machine’s report replaces the placements counted since', () => {
    const l = list();
    l.set(1, 1000, 0);
    l.addJob(1);
    l.addJob(1);
    l.set(1, 800, 1);
    expect(l.size).toBe(1);
    expect(l.entries()).toEqual([{ machine: 1, freeMB: 800, jobs: 1 }]);
  });

  it('removes an entry, and removing an absent one is harmless', () => {
    const l = list();
    l.set(1, 1000, 0);
    l.set(2, 1000, 5);
    l.remove(1);
    l.remove(9);
    expect(l.has(1)).toBe(false);
    expect(l.best()).toBe(2);
    expect(l.entries()).toEqual([{ machine: 2, freeMB: 1000, jobs: 5 }]);
  });

  it('lists entries sorted by (jobs, machine) for inspection', () => {
    const l = list();
    l.set(9, 1, 0);
    l.set(3, 2, 0);
    l.set(5, 3, 0);
    expect(l.entries().map((e) => e.machine)).toEqual([3, 5, 9]);
  });
});

describe('IdleList: does its emptiest entry have a free core?', () => {
  it('compares the best entry\'s jobs, counted placements included, with the cores its machine told; an update keeps them', () => {
    const l = list();
    expect(l.bestHasCore()).toBe(false); // empty
    l.set(1, 1000, 1, 2);
    expect(l.bestHasCore()).toBe(true);
    l.addJob(1);
    expect(l.bestHasCore()).toBe(false);
    l.set(1, 1000, 0); // an update: no cores in it
    expect(l.bestHasCore()).toBe(true);
    l.remove(1);
    l.set(1, 1000, 7); // joins again without telling its cores: no limit
    expect(l.bestHasCore()).toBe(true);
  });

  it('in fifo order, looks at the entry that joined first', () => {
    const l = new IdleList(new Rng(1, 'idle-list'), 'fifo');
    l.set(4, 1000, 1, 1);
    l.set(5, 1000, 0, 8);
    expect(l.best()).toBe(4);
    expect(l.bestHasCore()).toBe(false);
  });
});

describe('IdleList tie-breaks', () => {
  const pickSequence = (seed: number | string): number[] => {
    const l = list(seed);
    for (let m = 0; m < 6; m++) l.set(m, 1000, 0);
    const picks: number[] = [];
    for (let i = 0; i < 12; i++) {
      const m = l.best();
      picks.push(m);
      l.addJob(m);
    }
    return picks;
  };

  it('are the same for the same seed', () => {
    expect(pickSequence(3)).toEqual(pickSequence(3));
  });

  it('spread placements over tied machines: each gets one before any gets two', () => {
    const picks = pickSequence(3);
    expect(new Set(picks.slice(0, 6)).size).toBe(6);
    expect(new Set(picks.slice(6)).size).toBe(6);
  });

  it('do not follow machine ids: over seeds, every tied machine is sometimes first', () => {
    const first = new Set<number>();
    for (let seed = 0; seed < 100; seed++) first.add(pickSequence(seed)[0] as number);
    expect(first).toEqual(new Set([0, 1, 2, 3, 4, 5]));
  });
});

describe('IdleList in fifo order (JIQ’s I-queue)', () => {
  const queue = () => new IdleList(new Rng(1, 'idle-list'), 'fifo');

  it('offers the machine that joined first, whatever its jobs or memory', () => {
    const l = queue();
    l.set(4, 100, 3);
    l.set(7, 9000, 0);
    l.set(2, 5000, 1);
    expect(l.best()).toBe(4);
    l.remove(4);
    expect(l.best()).toBe(7);
    expect(l.entries().map((e) => e.machine)).toEqual([7, 2]);
  });

  it('keeps an entry’s place when it is refreshed or counted, and puts a machine that joins again at the back', () => {
    const l = queue();
    l.set(1, 1000, 0);
    l.set(2, 1000, 0);
    l.set(1, 800, 1);
    l.addJob(1);
    expect(l.entries()).toEqual([{ machine: 1, freeMB: 800, jobs: 2 }, { machine: 2, freeMB: 1000, jobs: 0 }]);
    l.remove(1);
    l.set(1, 700, 0);
    expect(l.entries().map((e) => e.machine)).toEqual([2, 1]);
  });

  it('draws nothing from its stream', () => {
    const rng = new Rng(1, 'idle-list');
    const l = new IdleList(rng, 'fifo');
    for (let m = 0; m < 5; m++) l.set(m, 1000, 0);
    l.addJob(3);
    expect(rng.next()).toBe(new Rng(1, 'idle-list').next());
  });
});
