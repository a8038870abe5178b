// A global scheduler shard, live: the core Shard in real time behind one address on the Bus. Its
// inputs are the messages addressed to it (arrivals, poll answers, idle-list changes); its decisions
// are messages it sends (placements, polls, answers to dispatchers). One step loop; its deadline
// (a poll not answered in time) arms a timer.

import type { Millis } from '../../core/types.ts';
import type { Bus } from '../../core/bus.ts';
import { formatDecisionLine, formatTime, type ShardMessage } from '../../core/protocol.ts';
import type { Shard, ShardInput } from '../../core/shard/shard.ts';
import type { Clock } from '../transport/clock.ts';
import { StepLoop } from '../transport/step-loop.ts';
import type { Metrics } from '../metrics.ts';

export class ShardHost {
  private readonly loop: StepLoop<ShardInput>;
  private readonly unlisten: () => void;

  constructor(
    private readonly shard: Shard,
    private readonly bus: Bus,
    clock: Clock,
    /** Each decision as a line (the conformance suite's decision log). */
    private readonly log?: (line: string) => void,
    /** Arrivals are counted, and the queues read at each scrape. */
    metrics?: Metrics,
  ) {
    this.loop = new StepLoop<ShardInput>(clock, (now, input) => this.stepOne(now, input), () => shard.nextDeadline(), { kind: 'tick' });
    const id = shard.cfg.id;
    // Its idle list is read too where the shard keeps one (`fare up` places on its one machine without).
    metrics?.watchShard(id, shard.cfg.useIdleList ? shard : { waitingIn: (c) => shard.waitingIn(c) });
    this.unlisten = bus.listen(shard.address, metrics === undefined
      ? (m) => this.loop.push(m as ShardMessage)
      : (m) => {
        if (m.kind === 'arrive') metrics.arrived(id, m.job.cls);
        this.loop.push(m as ShardMessage);
      });
  }

  /**
   * The machines there are now (the cluster's membership, as this shard's process sees it), and
   * those among them that restarted since it was last told (they lost what they ran).
   */
  setMembers(machines: readonly number[], lost: readonly number[] = []): void {
    this.loop.push(lost.length === 0 ? { kind: 'members', machines: [...machines] } : { kind: 'members', machines: [...machines], lost: [...lost] });
  }

  close(): void {
    this.unlisten();
    this.loop.stop();
  }

  private stepOne(now: Millis, input: ShardInput): void {
    const s = this.shard;
    s.step(now, input);
    // The Bus copies what it sends: the shard may reuse its decision objects after advance().
    for (const d of s.ready()) {
      this.log?.(`t=${formatTime(now)} ${formatDecisionLine(s.address, d)}`);
      this.bus.send(d);
    }
    s.advance();
  }
}
