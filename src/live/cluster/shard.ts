// `fare shard --id N`: one global scheduler shard as its own process — the core Shard in real time
// (ShardHost) on the NATS Bus, placing on the workers it hears heartbeats from. Its state (queues, polls in flight, idle list) is soft: a restarted
// shard starts empty, and the gateways' lost-job sweep answers for what it held.

import type { PriceTable } from '../../core/classes.ts';
import { Rng } from '../../core/rng.ts';
import { policyPreset, shardSettings } from '../../core/presets.ts';
import { Shard } from '../../core/shard/shard.ts';
import { ShardHost } from '../shard/shard-host.ts';
import { NatsBus } from '../transport/nats.ts';
import { realClock } from '../transport/clock.ts';
import type { LivePolicy } from '../one-machine.ts';
import { connectNats, reportStatus, traceOption, type ClusterAddress } from './connect.ts';
import { Heartbeat, Membership } from './membership.ts';
import { Metrics, serveMetrics } from '../metrics.ts';

export interface ShardProcessOptions extends ClusterAddress {
  readonly id: number;
  /** Machines polled per placement (power-of-k). */
  readonly k: number;
  /**
   * Place from the idle list when it holds workers (the paper's rule), else by power-of-k. Off by
   * default: with a few workers per shard, a shard's whole load goes to the one or two workers on its
   * list (they join by free memory, not by free cores).
   */
  readonly idleLists: boolean;
  /** A poll not fully answered in this time places by the answers it has (ms). */
  readonly pollTimeoutMs: number;
  readonly policy: LivePolicy;
  readonly prices: PriceTable;
  readonly problem?: (what: string) => void;
  /** Serve this process's metrics, unauthenticated, on a listener of its own on this port (0: any free port); undefined: none. */
  readonly metricsPort?: number;
  /** Where that listener binds (default 127.0.0.1). */
  readonly metricsHost?: string;
}

export async function startShard(o: ShardProcessOptions): Promise<{ readonly metricsUrl: string | undefined; close(): Promise<void> }> {
  const nc = await connectNats(o, `fare-shard-${o.id}`);
  const bus = new NatsBus(nc, { prefix: o.prefix, ...traceOption(), ...(o.problem ? { problem: o.problem } : {}) });
  void reportStatus(nc, `fare shard ${o.id}`, (o.problem ?? ((l: string) => process.stderr.write(`${l}\n`))));
  const preset = policyPreset(o.policy, { idleList: o.idleLists });
  const shard = new Shard({
    // The workers to place on are those heard of (membership), not a fixed list.
    id: o.id, prices: o.prices, machines: 1, membership: 'dynamic', ...shardSettings(preset, { k: o.k }),
    maxOutstandingPolls: 1024, pollTimeoutMs: o.pollTimeoutMs,
  }, new Rng(o.id, `live/shard/${o.id}`));
  const metrics = o.metricsPort === undefined ? undefined : new Metrics({ prices: o.prices });
  const host = new ShardHost(shard, bus, realClock, undefined, metrics);
  const listener = metrics === undefined ? undefined : await serveMetrics(metrics, o.metricsPort ?? 0, o.metricsHost ?? '127.0.0.1');
  const workers = new Membership(nc, o.prefix, 'machine', o.memberTimeoutMs, realClock, (events, members) => host.setMembers(members, events.filter((e) => e.kind === 'leave').map((e) => e.id)));
  const beat = new Heartbeat(nc, o.prefix, 'shard', o.id, o.heartbeatMs);
  // For the operator: a line when the idle list's size changes (looked at once a second).
  let idleSize = 0;
  const say = o.problem ?? ((l: string) => process.stderr.write(`${l}\n`));
  const watch = setInterval(() => {
    if (shard.idle.size === idleSize) return;
    idleSize = shard.idle.size;
    say(`fare shard ${o.id}: idle list holds ${idleSize} worker(s)`);
  }, 1000);
  watch.unref();
  await nc.flush();
  let closing: Promise<void> | undefined;
  return {
    metricsUrl: listener?.url,
    // Once: a second stop signal asks again while the first is under way.
    close: () => (closing ??= (async () => {
      await listener?.close();
      clearInterval(watch);
      beat.stop(true);
      workers.stop();
      host.close();
      bus.close();
      await nc.drain();
    })()),
  };
}
