// The dispatcher's idle-list membership: when the machine's free memory is high it joins the idle list
// of the emptiest of k randomly chosen shards (power-of-k over shards, asked by `idle-poll` messages);
// while a member it updates its entry when free memory moves by more than a set amount (or jobs
// finish), and it leaves when memory runs low. Its decisions are messages to the shards.
// `joinWhen: 'idle'` is Join-Idle-Queue's (Lu et al. 2011, JIQ-Random): an idle machine on no list
// joins the list of one shard drawn at random, asking nothing; it never updates or leaves — the shard
// takes it off when it places a job from the list (`taken`), and it joins again once idle again.

import type { Rng } from '../rng.ts';
import type { Millis, ShardId } from '../types.ts';
import { shardAddress, type Address, type IdleJoinMsg, type IdleLeaveMsg, type IdlePollMsg } from '../protocol.ts';

export interface DispatcherConfig {
  /** Number of scheduler shards. */
  readonly shards: number;
  /** Shards compared when choosing an idle list to join (1 under `joinWhen: 'idle'`). */
  readonly k: number;
  /**
   * What puts the machine on an idle list: `memory` (the default: free memory over `joinFreeMB`,
   * above) or `idle` (JIQ: the machine is idle, `checkIdle`; the memory thresholds are not read).
   */
  readonly joinWhen?: 'memory' | 'idle';
  /** Join when free memory > this (MB). */
  readonly joinFreeMB: number;
  /** Leave when free memory < this (MB); below joinFreeMB for hysteresis. */
  readonly leaveFreeMB: number;
  /** Update the entry when free memory differs from the last report by more than this (MB). */
  readonly updateDeltaMB: number;
  /**
   * How long a poll of the shards waits for every answer (ms; default Infinity: forever). Past it,
   * the emptiest shard that answered is joined, or, if none did, the shards are polled again.
   */
  readonly pollTimeoutMs?: number;
}

/** Each decision is a fresh object, never reused: a driver may send it without copying. */
export type DispatcherDecision = IdlePollMsg | IdleJoinMsg | IdleLeaveMsg;

export class Dispatcher {
  /** Shard whose idle list holds this machine, or -1. */
  member: ShardId = -1;
  private lastFree = 0;
  /** The poll of the shards in flight: who was asked, their idle lists' sizes as they answer. */
  private pollOut: { id: number; shards: ShardId[]; sizes: number[]; count: number; sentAt: Millis } | undefined;
  private nextPoll = 0;
  private readonly timeout: number;
  /** The shards' addresses, by id (looked up on every update). */
  private readonly shardAddr: (Address & { readonly part: 'shard' })[] = [];

  /** `cores`: the machine's, told to the shard it joins (undefined: not told). */
  constructor(readonly cfg: Readonly<DispatcherConfig>, private readonly rng: Rng, private readonly address: Address & { readonly part: 'machine' }, private readonly cores?: number) {
    this.timeout = cfg.pollTimeoutMs ?? Infinity;
    if (!(this.timeout > 0)) throw new RangeError(`dispatcher: pollTimeoutMs must be above 0 (or Infinity), got ${this.timeout}`);
    if (!Number.isInteger(cfg.shards) || cfg.shards < 1 || !Number.isInteger(cfg.k) || cfg.k < 1) {
      throw new RangeError(`dispatcher: shards and k must be whole numbers ≥ 1, got shards=${cfg.shards} k=${cfg.k}`);
    }
    if (cfg.joinWhen === 'idle' && cfg.k !== 1) throw new RangeError(`dispatcher: JIQ joins one shard drawn at random (k = 1), got k=${cfg.k}`);
    if (cfg.leaveFreeMB > cfg.joinFreeMB) {
      throw new RangeError(`dispatcher: leaveFreeMB (${cfg.leaveFreeMB}) must not exceed joinFreeMB (${cfg.joinFreeMB})`);
    }
    for (let s = 0; s < cfg.shards; s++) this.shardAddr.push(shardAddress(s));
  }

  private shard(s: ShardId): Address & { readonly part: 'shard' } {
    return this.shardAddr[s] ?? shardAddress(s);
  }

  /** A join of shard `s`'s list: one shape whether the cores are told or not (undefined: not told). */
  private join(s: ShardId, freeMB: number, jobs: number): IdleJoinMsg {
    return { kind: 'idle-join', from: this.address, to: this.shard(s), freeMB, jobs, cores: this.cores };
  }

  get polling(): boolean {
    return this.pollOut !== undefined;
  }

  /**
   * Looks at the machine's state after a change. `jobsFell` is true when jobs completed since the
   * last look, which makes the shard's job count stale.
   */
  check(now: Millis, freeMB: number, jobs: number, jobsFell: boolean, out: DispatcherDecision[]): void {
    if (this.cfg.joinWhen === 'idle') return; // JIQ: `checkIdle`
    if (this.member >= 0) {
      if (freeMB < this.cfg.leaveFreeMB) {
        out.push({ kind: 'idle-leave', from: this.address, to: this.shard(this.member) });
        this.member = -1;
      } else if (jobsFell || Math.abs(freeMB - this.lastFree) > this.cfg.updateDeltaMB) {
        this.lastFree = freeMB;
        out.push({ kind: 'idle-update', from: this.address, to: this.shard(this.member), freeMB, jobs });
      }
      return;
    }
    if (this.pollOut === undefined && freeMB > this.cfg.joinFreeMB) {
      const shards = this.rng.sample(this.cfg.shards, this.cfg.k, []);
      const poll = this.nextPoll++;
      this.pollOut = { id: poll, shards, sizes: shards.map(() => Infinity), count: 0, sentAt: now };
      for (const s of shards) out.push({ kind: 'idle-poll', from: this.address, to: this.shard(s), poll });
    }
  }

  /**
   * JIQ: looks at the machine after a change. Idle and on no list, it joins the list of one shard
   * drawn at random (its entry's job count and free memory — 0 when unlimited — are for the record:
   * a JIQ shard reads neither).
   */
  checkIdle(idle: boolean, freeMB: number, jobs: number, out: DispatcherDecision[]): void {
    if (!idle || this.member >= 0) return;
    const s = this.rng.int(this.cfg.shards);
    this.member = s;
    out.push(this.join(s, Number.isFinite(freeMB) ? freeMB : 0, jobs));
  }

  /** JIQ: shard `shard` placed a job here from its idle list, which took this machine off it. */
  taken(shard: ShardId): void {
    if (this.cfg.joinWhen === 'idle' && this.member === shard) this.member = -1;
  }

  /** Shard `shard` lost its idle list (it died or restarted): off it, this machine may join again. */
  lost(shard: ShardId): void {
    if (this.member === shard) this.member = -1;
  }

  /** When the poll in flight times out (Infinity: no poll, or no timeout). */
  deadline(): Millis {
    return this.pollOut === undefined ? Infinity : this.pollOut.sentAt + this.timeout;
  }

  /** A shard's answer to a poll: the size of its idle list. Decides once every shard asked has answered. */
  answered(poll: number, shard: ShardId, size: number, freeMB: number, jobs: number, out: DispatcherDecision[]): void {
    const p = this.pollOut;
    if (!p || p.id !== poll) return; // a stale answer: ignore
    const i = p.shards.indexOf(shard);
    if (i < 0 || p.sizes[i] !== Infinity) return; // not asked, or a duplicate
    p.sizes[i] = size;
    if (++p.count === p.shards.length) this.decide(freeMB, jobs, out);
  }

  /** The poll timed out (`deadline()` has passed): decides on the answers it has, or gives it up. */
  expire(now: Millis, freeMB: number, jobs: number, out: DispatcherDecision[]): void {
    const p = this.pollOut;
    if (!p || p.sentAt + this.timeout > now) return;
    if (p.count > 0) this.decide(freeMB, jobs, out);
    else this.pollOut = undefined;
  }

  private decide(freeMB: number, jobs: number, out: DispatcherDecision[]): void {
    const p = this.pollOut;
    if (!p) return;
    this.pollOut = undefined;
    if (freeMB <= this.cfg.joinFreeMB || this.member >= 0) return;
    const sizes = p.sizes;
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
    if (bestSize === Infinity) return; // nobody answered
    this.member = best;
    this.lastFree = freeMB;
    out.push(this.join(best, freeMB, jobs));
  }

  /** The band of used memory (MB, for a machine of `capacityMB`) inside which nothing needs doing. */
  band(capacityMB: number): { low: number; high: number } {
    if (this.cfg.joinWhen === 'idle') return { low: -Infinity, high: Infinity };
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
