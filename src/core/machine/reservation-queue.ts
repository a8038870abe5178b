// Sparrow's late binding, the machine's side (Ousterhout et al., SOSP 2013): reservations (probes)
// from the shards wait in one FCFS queue, classes ignored. While the machine has a core that is
// neither running a job nor promised to a claim, it takes the reservation at the head and claims its
// job from the shard that holds it; the job comes back as a `place` (it then has its core), or the
// answer is `taken` (another machine claimed it first) and the core is free for the next reservation.

import type { JobId, Mutable, ShardId } from '../types.ts';
import { shardAddress, type Address, type ClaimMsg } from '../protocol.ts';
import { Queue } from '../util/queue.ts';

export class ReservationQueue {
  /** Reservations, oldest first: the shard that holds the job, and the job. */
  private readonly shards = new Queue<ShardId>();
  private readonly jobs = new Queue<JobId>();
  /** Jobs claimed and not yet answered (few: at most the machine's cores). */
  private readonly claims: JobId[] = [];
  /** Claim messages, reused after the machine's `advance()`. */
  private readonly msgs: Mutable<ClaimMsg>[] = [];
  private nMsgs = 0;

  constructor(private readonly address: Address & { readonly part: 'machine' }) {}

  /** Reservations waiting to be claimed. */
  get waiting(): number {
    return this.jobs.length;
  }

  /** Claims in flight: each holds a core until it is answered. */
  get claiming(): number {
    return this.claims.length;
  }

  reserve(shard: ShardId, job: JobId): void {
    this.shards.push(shard);
    this.jobs.push(job);
  }

  /** A job arrived: if it answers a claim, the claim is over (the job now has the core) — returns whether it did. */
  granted(job: JobId): boolean {
    return this.settle(job);
  }

  /** Another machine got `job`: the claim is over, its core free again. */
  taken(job: JobId): void {
    this.settle(job);
  }

  /** Claims the jobs of the reservations at the head while `freeCores` exceed the claims in flight; writes the claims into `out`. */
  claim(freeCores: number, out: { push(m: ClaimMsg): unknown }): void {
    while (this.jobs.length > 0 && freeCores > this.claims.length) {
      const shard = this.shards.shift() as ShardId;
      const job = this.jobs.shift() as JobId;
      this.claims.push(job);
      let m = this.msgs[this.nMsgs];
      if (m === undefined) {
        m = { kind: 'claim', from: this.address, to: shardAddress(shard), job };
        this.msgs.push(m);
      } else {
        m.to = shardAddress(shard);
        m.job = job;
      }
      this.nMsgs++;
      out.push(m);
    }
  }

  /** The machine's decisions were carried out: the claim messages may be reused. */
  reset(): void {
    this.nMsgs = 0;
  }

  private settle(job: JobId): boolean {
    const at = this.claims.indexOf(job);
    if (at < 0) return false;
    this.claims[at] = this.claims[this.claims.length - 1] as JobId;
    this.claims.pop();
    return true;
  }
}
