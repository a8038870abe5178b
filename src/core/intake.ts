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

  /**
   * The shard for an invocation of function `fn` among the shards alive now (`live`, not empty):
   * rendezvous hashing, so every gateway with the same view picks the same shard, and when a shard
   * leaves only its functions move. (The cluster's gateways; `by-function` with every shard alive.)
   */
  static pickLive(fn: number, live: readonly ShardId[]): ShardId {
    let best = live[0] as ShardId;
    let bestW = -1;
    for (const s of live) {
      const w = mix(fn, s);
      if (w > bestW || (w === bestW && s < best)) {
        best = s;
        bestW = w;
      }
    }
    return best;
  }

  /** The shard for the next job, an invocation of function `fn`. */
  pick(fn: number): ShardId {
    if (this.rule === 'by-function') return ((fn % this.shards) + this.shards) % this.shards;
    const s = this.next;
    this.next = s + 1 === this.shards ? 0 : s + 1;
    return s;
  }
}

/** A 32-bit hash of the pair (murmur3's finaliser over both words). */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
