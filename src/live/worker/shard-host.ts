// A global scheduler shard, live: the core Shard in real time, placing invocations on the machines
// it can reach (here, in-process MachineDrivers). Its polls are answered from the machines' job counts.

import type { Millis } from '../../core/types.ts';
import { unreachable } from '../../core/types.ts';
import type { Shard, ShardDecision, ShardInput } from '../../core/shard/shard.ts';
import type { InvokeOutcome, InvokeRequest } from '../types.ts';
import type { MachineDriver } from './machine-driver.ts';

interface Pending {
  readonly req: InvokeRequest;
  readonly fn: number;
  readonly done: (o: InvokeOutcome) => void;
  readonly fail: (e: unknown) => void;
}

export class ShardHost {
  private readonly pending = new Map<number, Pending>();
  private nextJob = 1;
  private readonly mail: ShardInput[] = [];
  private busy = false;

  constructor(private readonly shard: Shard, private readonly machines: readonly MachineDriver[], private readonly clock: () => Millis) {}

  /** Queues an invocation in the shard's multi-queue; resolves when it has run. */
  submit(req: InvokeRequest, fn: number): Promise<InvokeOutcome> {
    return new Promise<InvokeOutcome>((done, fail) => {
      const id = this.nextJob++;
      this.pending.set(id, { req, fn, done, fail });
      this.deliver({ kind: 'arrive', job: { id, cls: req.cls, arrival: this.clock(), fn } });
    });
  }

  private deliver(input: ShardInput): void {
    this.mail.push(input);
    if (this.busy) return;
    this.busy = true;
    try {
      for (let m = this.mail.shift(); m !== undefined; m = this.mail.shift()) {
        this.shard.step(this.clock(), m);
        // Copies: the decision objects are the shard's and are reused after its advance().
        const ds = this.shard.ready().map((d) => ({ ...d }));
        this.shard.advance();
        for (const d of ds) this.apply(d);
      }
    } finally {
      this.busy = false;
    }
  }

  private apply(d: ShardDecision): void {
    switch (d.kind) {
      case 'poll':
        this.mail.push({ kind: 'polled', poll: d.poll, loads: d.machines.map((m) => this.machines[m]?.jobs ?? Infinity) });
        break;
      case 'place': {
        const p = this.pending.get(d.job.id);
        const machine = this.machines[d.machine];
        if (!p || !machine) return;
        this.pending.delete(d.job.id);
        machine.submit(p.req, d.job.arrival, p.fn).then(p.done, p.fail);
        break;
      }
      default:
        unreachable(d, 'shard decision');
    }
  }
}
