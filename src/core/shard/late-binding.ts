// Sparrow's late binding, the shard's side (Ousterhout et al., SOSP 2013, batch sampling with d
// probes): a job waits here while a reservation for it sits in the queues of d machines drawn at
// random; the first machine to claim it gets it (a `place`, sent by the shard), and a claim for a job
// that is no longer here — another machine got it — is answered `taken`. Job ids are minted once, so a
// job that left is never confused with another. Messages are reused after the shard's `advance()`.

import type { Job, JobId, MachineId, Mutable } from '../types.ts';
import { machineAddress, type Address, type ReserveMsg, type TakenMsg } from '../protocol.ts';
import { ChurnMap } from '../util/churn-map.ts';

/** Where the messages go: the shard's decisions. */
interface Sink {
  push(m: ReserveMsg | TakenMsg): unknown;
}

export class LateBinding {
  /** Jobs reserved and not yet claimed, by id. */
  private readonly held = new ChurnMap<JobId, Job>();
  private readonly reserves: Mutable<ReserveMsg>[] = [];
  private nReserves = 0;
  private readonly takens: Mutable<TakenMsg>[] = [];
  private nTakens = 0;

  constructor(private readonly address: Address & { readonly part: 'shard' }) {}

  /** Jobs waiting for their first claim. */
  get size(): number {
    return this.held.size;
  }

  /** Holds `job` and writes a reservation for it to each of `machines` into `out`. */
  reserve(job: Job, machines: readonly MachineId[], out: Sink): void {
    this.held.set(job.id, job);
    for (const m of machines) {
      let r = this.reserves[this.nReserves];
      if (r === undefined) {
        r = { kind: 'reserve', from: this.address, to: machineAddress(m), job: job.id };
        this.reserves.push(r);
      } else {
        r.to = machineAddress(m);
        r.job = job.id;
      }
      this.nReserves++;
      out.push(r);
    }
  }

  /**
   * A machine claims `job`: returns the job if it is still here (it leaves: the claimant gets it),
   * else writes the `taken` answer to the claimant into `out` and returns undefined.
   */
  claim(job: JobId, by: Address & { readonly part: 'machine' }, out: Sink): Job | undefined {
    const j = this.held.get(job);
    if (j !== undefined) {
      this.held.delete(job);
      return j;
    }
    let t = this.takens[this.nTakens];
    if (t === undefined) {
      t = { kind: 'taken', from: this.address, to: by, job };
      this.takens.push(t);
    } else {
      t.to = by;
      t.job = job;
    }
    this.nTakens++;
    out.push(t);
    return undefined;
  }

  /** The shard's decisions were carried out: the messages may be reused. */
  reset(): void {
    this.nReserves = 0;
    this.nTakens = 0;
  }
}
