// A shard's idle list: machines with much free memory, each with (free memory, jobs on machine).
// Placement takes the entry with the fewest jobs; ties are broken by a random key drawn from the
// shard's seeded stream whenever an entry's job count changes. In `fifo` order (JIQ's I-queue) it is
// a queue instead: the entry that joined first comes first, whatever its counts (no draws).

import type { MachineId } from '../types.ts';
import type { Rng } from '../rng.ts';
import { IndexedHeap } from '../util/indexed-heap.ts';
import { DenseMap } from '../util/dense-map.ts';

export interface IdleEntry {
  readonly machine: MachineId;
  readonly freeMB: number;
  readonly jobs: number;
}

/** Which entry comes first: `fewest-jobs` (Fare's, ties at random) or `fifo` (the first to join). */
export type IdleOrder = 'fewest-jobs' | 'fifo';

export class IdleList {
  private readonly heap = new IndexedHeap('dense');
  // By machine id (machines are numbered densely).
  private readonly free = new DenseMap();
  /** In `fifo` order the heap's key is the order of joining, and the job counts are kept here. */
  private readonly jobs = new DenseMap();
  /** Each entry's cores, where its machine told them. */
  private readonly cores = new DenseMap();
  private joined = 0;

  constructor(private readonly rng: Rng, private readonly order: IdleOrder = 'fewest-jobs') {}

  get size(): number {
    return this.heap.size;
  }

  has(machine: MachineId): boolean {
    return this.heap.has(machine);
  }

  /** Adds or refreshes an entry (in `fifo` order a refreshed entry keeps its place; `cores` absent: kept). */
  set(machine: MachineId, freeMB: number, jobs: number, cores?: number): void {
    this.free.set(machine, freeMB);
    if (cores !== undefined) this.cores.set(machine, cores);
    if (this.order === 'fifo') {
      this.jobs.set(machine, jobs);
      if (!this.heap.has(machine)) this.heap.set(machine, this.joined++, 0);
      return;
    }
    this.heap.set(machine, jobs, this.rng.next());
  }

  remove(machine: MachineId): void {
    this.heap.remove(machine);
    this.free.delete(machine);
    this.jobs.delete(machine);
    this.cores.delete(machine);
  }

  /** The machine with the fewest jobs (in `fifo` order: the first to join), or -1 when the list is empty. */
  best(): MachineId {
    return this.heap.peek();
  }

  /**
   * Whether the entry `best()` returns has a free core as far as the shard knows: fewer jobs (as
   * reported, plus placements since) than its cores. True where the cores were not told; false when empty.
   */
  bestHasCore(): boolean {
    const m = this.heap.peek();
    if (m < 0) return false;
    const cores = this.cores.get(m);
    if (cores === undefined) return true;
    const jobs = this.order === 'fifo' ? this.jobs.get(m) : this.heap.key(m);
    return (jobs ?? 0) < cores;
  }

  /** Counts a placement against the entry until the machine reports again. */
  addJob(machine: MachineId): void {
    if (this.order === 'fifo') {
      const jobs = this.jobs.get(machine);
      if (jobs !== undefined) this.jobs.set(machine, jobs + 1);
      return;
    }
    const jobs = this.heap.key(machine);
    if (jobs !== undefined) this.heap.set(machine, jobs + 1, this.rng.next());
  }

  /** Entries sorted by (jobs, machine) — in `fifo` order, first to join first — for inspection and tests. */
  entries(): IdleEntry[] {
    if (this.order === 'fifo') {
      return [...this.heap.entries()]
        .sort((a, b) => a[1] - b[1])
        .map(([machine]) => ({ machine, jobs: this.jobs.get(machine) ?? 0, freeMB: this.free.get(machine) ?? 0 }));
    }
    return [...this.heap.entries()]
      .map(([machine, jobs]) => ({ machine, jobs, freeMB: this.free.get(machine) ?? 0 }))
      .sort((a, b) => a.jobs - b.jobs || a.machine - b.machine);
  }
}
