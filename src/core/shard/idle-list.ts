// A shard's idle list: machines with much free memory, each with (free memory, jobs on machine).
// Placement takes the entry with the fewest jobs; ties are broken by a random key drawn from the
// shard's seeded stream whenever an entry's job count changes.

import type { MachineId } from '../types.ts';
import type { Rng } from '../rng.ts';
import { IndexedHeap } from '../util/indexed-heap.ts';

export interface IdleEntry {
  readonly machine: MachineId;
  readonly freeMB: number;
  readonly jobs: number;
}

export class IdleList {
  private readonly heap = new IndexedHeap();
  private readonly free = new Map<MachineId, number>();

  constructor(private readonly rng: Rng) {}

  get size(): number {
    return this.heap.size;
  }

  has(machine: MachineId): boolean {
    return this.heap.has(machine);
  }

  /** Adds or refreshes an entry. */
  set(machine: MachineId, freeMB: number, jobs: number): void {
    this.free.set(machine, freeMB);
    this.heap.set(machine, jobs, this.rng.next());
  }

  remove(machine: MachineId): void {
    this.heap.remove(machine);
    this.free.delete(machine);
  }

  /** The machine with the fewest jobs, or -1 when the list is empty. */
  best(): MachineId {
    return this.heap.peek();
  }

  /** Counts a placement against the entry until the machine reports again. */
  addJob(machine: MachineId): void {
    const jobs = this.heap.key(machine);
    if (jobs !== undefined) this.heap.set(machine, jobs + 1, this.rng.next());
  }

  /** Entries sorted by (jobs, machine), for inspection and tests. */
  entries(): IdleEntry[] {
    return [...this.heap.entries()]
      .map(([machine, jobs]) => ({ machine, jobs, freeMB: this.free.get(machine) ?? 0 }))
      .sort((a, b) => a.jobs - b.jobs || a.machine - b.machine);
  }
}
