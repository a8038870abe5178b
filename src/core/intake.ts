// Where a job enters the system: which shard queues it. `round-robin` spreads one gateway's jobs
// evenly (the simulator's gateway, the paper's setting); `by-function` sends every invocation of a
// function to the same shard from any gateway (the cluster's, where gateways share nothing).

import type { ShardId } from './types.ts';

export type ShardChoice = 'round-robin' | 'by-function';

export class ShardPicker {
  private next = 0;

  constructor(private readonly shards: number, private readonly rule: ShardChoice) {
    if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shard picker: shards must be a whole number ≥ 1, got ${shards}`);
  }

  /** The shard for the next job, an invocation of function `fn`. */
  pick(fn: number): ShardId {
    if (this.rule === 'by-function') return ((fn % this.shards) + this.shards) % this.shards;
    const s = this.next;
    this.next = s + 1 === this.shards ? 0 : s + 1;
    return s;
  }
}
