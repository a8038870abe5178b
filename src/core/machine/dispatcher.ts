// The dispatcher's idle-list membership: when the machine's free memory is high it joins the idle list
// of the emptiest of k randomly chosen shards (power-of-k over shards); while a member it updates its
// entry when free memory moves by more than a set amount (or jobs finish), and it leaves when memory runs low.

import type { Rng } from '../rng.ts';
import type { ShardId } from '../types.ts';

export interface DispatcherConfig {
  /** Number of scheduler shards. */
  readonly shards: number;
  /** Shards compared when choosing an idle list to join. */
  readonly k: number;
  /** Join when free memory > this (MB). */
  readonly joinFreeMB: number;
  /** Leave when free memory < this (MB); below joinFreeMB for hysteresis. */
  readonly leaveFreeMB: number;
  /** Update the entry when free memory differs from the last report by more than this (MB). */
  readonly updateDeltaMB: number;
}

export type DispatcherDecision =
  | { readonly kind: 'poll-shards'; readonly poll: number; readonly shards: readonly ShardId[] }
  | { readonly kind: 'idle-join'; readonly shard: ShardId; readonly freeMB: number; readonly jobs: number }
  | { readonly kind: 'idle-update'; readonly shard: ShardId; readonly freeMB: number; readonly jobs: number }
  | { readonly kind: 'idle-leave'; readonly shard: ShardId };

export class Dispatcher {
  /** Shard whose idle list holds this machine, or -1. */
  member: ShardId = -1;
  private lastFree = 0;
  private pollOut: { id: number; shards: ShardId[] } | undefined;
  private nextPoll = 0;

  constructor(readonly cfg: Readonly<DispatcherConfig>, private readonly rng: Rng) {
    if (!Number.isInteger(cfg.shards) || cfg.shards < 1 || !Number.isInteger(cfg.k) || cfg.k < 1) {
      throw new RangeError(`dispatcher: shards and k must be whole numbers ≥ 1, got shards=${cfg.shards} k=${cfg.k}`);
    }
    if (cfg.leaveFreeMB > cfg.joinFreeMB) {
      throw new RangeError(`dispatcher: leaveFreeMB (${cfg.leaveFreeMB}) must not exceed joinFreeMB (${cfg.joinFreeMB})`);
    }
  }

  get polling(): boolean {
    return this.pollOut !== undefined;
  }

  /**
   * Looks at the machine's state after a change. `jobsFell` is true when jobs completed since the
   * last look, which makes the shard's job count stale.
   */
  check(freeMB: number, jobs: number, jobsFell: boolean, out: DispatcherDecision[]): void {
    if (this.member >= 0) {
      if (freeMB < this.cfg.leaveFreeMB) {
        out.push({ kind: 'idle-leave', shard: this.member });
        this.member = -1;
      } else if (jobsFell || Math.abs(freeMB - this.lastFree) > this.cfg.updateDeltaMB) {
        this.lastFree = freeMB;
        out.push({ kind: 'idle-update', shard: this.member, freeMB, jobs });
      }
      return;
    }
    if (this.pollOut === undefined && freeMB > this.cfg.joinFreeMB) {
      const shards = this.rng.sample(this.cfg.shards, this.cfg.k, []);
      this.pollOut = { id: this.nextPoll++, shards };
      out.push({ kind: 'poll-shards', poll: this.pollOut.id, shards });
    }
  }

  /** Answer to a poll: idle-list sizes of the polled shards, in order. */
  answered(poll: number, sizes: readonly number[], freeMB: number, jobs: number, out: DispatcherDecision[]): void {
    const p = this.pollOut;
    if (!p || p.id !== poll) return; // a stale answer: ignore
    this.pollOut = undefined;
    if (freeMB <= this.cfg.joinFreeMB || this.member >= 0) return;
    let best = p.shards[0] as ShardId;
    let bestSize = sizes[0] ?? Infinity;
    let ties = 1;
    for (let i = 1; i < p.shards.length; i++) {
      const s = sizes[i] ?? Infinity;
      if (s < bestSize) {
        best = p.shards[i] as ShardId;
        bestSize = s;
        ties = 1;
      } else if (s === bestSize && this.rng.int(++ties) === 0) {
        best = p.shards[i] as ShardId;
      }
    }
    this.member = best;
    this.lastFree = freeMB;
    out.push({ kind: 'idle-join', shard: best, freeMB, jobs });
  }

  /** The band of used memory (MB, for a machine of `capacityMB`) inside which nothing needs doing. */
  band(capacityMB: number): { low: number; high: number } {
    if (this.member >= 0) {
      return {
        low: capacityMB - (this.lastFree + this.cfg.updateDeltaMB),
        high: Math.min(capacityMB - this.cfg.leaveFreeMB, capacityMB - (this.lastFree - this.cfg.updateDeltaMB)),
      };
    }
    if (this.pollOut) return { low: -Infinity, high: Infinity };
    return { low: capacityMB - this.cfg.joinFreeMB, high: Infinity };
  }
}
