// A scenario through the live driver: the gateway's SchedulerClient, ShardHosts and workers'
// MachineDrivers on a Bus (in-process, every message through a JSON round trip, or NATS), over fake
// instances, in virtual time. Returns the decision log.

import { DEFAULT_PRICE_TABLE } from '../../src/core/classes.ts';
import { Rng } from '../../src/core/rng.ts';
import { policyPreset, shardSettings } from '../../src/core/presets.ts';
import { Shard } from '../../src/core/shard/shard.ts';
import { Machine } from '../../src/core/machine/machine.ts';
import type { MachinePolicy } from '../../src/core/machine/run-queue.ts';
import type { SelectionRule } from '../../src/core/shard/multi-queue.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Bus } from '../../src/core/bus.ts';
import { InProcessBus } from '../../src/live/transport/in-process.ts';
import { NatsBus } from '../../src/live/transport/nats.ts';
import { VirtualClock } from '../../src/live/transport/clock.ts';
import { ShardHost } from '../../src/live/shard/shard-host.ts';
import { MachineDriver } from '../../src/live/worker/machine-driver.ts';
import { SchedulerClient } from '../../src/live/gateway/scheduler-client.ts';
import type { FunctionSpec } from '../../src/live/types.ts';
import { simFunctionKey } from '../../src/sim/config.ts';
import { FakeInstances } from './fake-executor.ts';
import { arrivals, CLUSTER_FRACTIONS, type Scenario } from './scenario.ts';

/** The Bus a live run uses, and how to wait until it is quiet (nothing sent is still undelivered). */
export interface Transport {
  readonly bus: Bus;
  settle(): Promise<void>;
  close(): void;
}

/** The in-process Bus, every message through a JSON round trip (it delivers from microtasks). */
export function inProcess(clock: VirtualClock): Transport {
  const bus = new InProcessBus({ clock, serialize: true });
  return {
    bus,
    async settle() {
      for (let i = 0; i < 1000; i++) {
        await new Promise<void>((r) => setImmediate(r));
        if (bus.pending === 0) return;
      }
      throw new Error('the bus never went quiet');
    },
    close() {},
  };
}

/**
 * The NATS Bus on one connection to a real server: one connection keeps the order of every message
 * (NATS orders one connection's messages to one subscriber), as the simulator's mailbox does.
 */
export function overNats(nc: NatsConnection, prefix: string): (clock: VirtualClock) => Transport {
  return (clock) => {
    const problems: string[] = [];
    const bus = new NatsBus(nc, { clock, prefix, problem: (what) => problems.push(what) });
    return {
      bus,
      async settle() {
        // Every part listens in this process: the Bus is quiet when all it published has arrived
        // and nothing new was sent while the last arrivals were stepped.
        for (let i = 0; i < 10_000; i++) {
          await bus.flush();
          await new Promise<void>((r) => setImmediate(r));
          if (problems.length > 0) throw new Error(`the NATS bus lost messages: ${problems.join('; ')}`);
          if (bus.arrived === bus.published) return;
        }
        throw new Error(`the NATS bus never went quiet (${bus.published} published, ${bus.arrived} arrived)`);
      },
      close: () => bus.close(),
    };
  };
}

/** A decision rule changed in the live driver only (to show that the suite notices). */
export interface Tamper {
  readonly selection?: SelectionRule;
  readonly machinePolicy?: MachinePolicy;
}

export async function runLive(s: Scenario, tamper: Tamper = {}, transport: (clock: VirtualClock) => Transport = inProcess): Promise<string[]> {
  const lines: string[] = [];
  const log = (line: string): void => {
    lines.push(line);
  };
  const clock = new VirtualClock();
  const t = transport(clock);
  const bus = t.bus;
  const settle = (): Promise<void> => t.settle();
  const jobs = arrivals(s);
  const prices = DEFAULT_PRICE_TABLE;
  // The same streams as the simulator's (`policy/<name>`, forked per part).
  const root = new Rng(s.seed, `policy/${s.policy}`);
  const preset = policyPreset(s.policy, { idleList: s.idleList, within: s.within });
  const mem = s.memoryMB;
  const hosts: { close(): void }[] = [];
  for (let i = 0; i < s.shards; i++) {
    hosts.push(new ShardHost(new Shard({
      id: i, prices, machines: s.machines, ...shardSettings(preset, s), selection: tamper.selection ?? preset.selection,
      maxOutstandingPolls: s.maxOutstandingPolls, pollTimeoutMs: Infinity,
    }, root.fork(`shard/${i}`)), bus, clock, log));
  }
  const work = (requestId: string): { runtime: number; memMB: number } => {
    const j = jobs[Number(requestId.slice(4)) - 1];
    if (j === undefined) throw new Error(`no scripted job for ${requestId}`);
    return { runtime: j.runtime, memMB: j.memMB };
  };
  const workers: MachineDriver[] = [];
  for (let i = 0; i < s.machines; i++) {
    const fake = new FakeInstances(clock, work, preset.machine === 'ps' ? { cores: s.cores } : undefined);
    const machine = new Machine({
      id: i, cores: s.cores, policy: tamper.machinePolicy ?? preset.machine, within: preset.within, classes: prices.classes.length, memoryMB: mem,
      swap: { enabled: Number.isFinite(mem) && preset.swapping, targetFraction: CLUSTER_FRACTIONS.swapTarget },
      dispatcher: preset.idleList
        ? { shards: s.shards, k: Math.min(s.k, s.shards), joinFreeMB: CLUSTER_FRACTIONS.joinFree * mem, leaveFreeMB: CLUSTER_FRACTIONS.leaveFree * mem, updateDeltaMB: CLUSTER_FRACTIONS.updateDelta * mem, pollTimeoutMs: Infinity }
        : undefined,
    }, root.fork(`machine/${i}`));
    workers.push(new MachineDriver(machine, fake, bus, clock, log, Number.isFinite(mem) ? fake : undefined));
  }
  const gateway = new SchedulerClient(bus, clock, { id: 0, shards: s.shards, shardChoice: 'round-robin', log });
  for (const w of workers) w.start();
  await settle();

  const done: Promise<unknown>[] = [];
  let next = 0;
  // Quiet with jobs in flight and nothing due: a message may still be on its way (NATS); looked again a few times.
  let idleLooks = 0;
  for (;;) {
    const arrival = next < jobs.length ? (jobs[next] as (typeof jobs)[number]).at : Infinity;
    const timer = clock.nextTimer();
    // Completions due at an arrival's time come first, as in the simulator.
    if (timer <= arrival && timer !== Infinity && (next < jobs.length || gateway.inFlight > 0)) {
      clock.fireNext(timer);
    } else if (next < jobs.length) {
      advance(clock, arrival);
      const j = jobs[next] as (typeof jobs)[number];
      next++;
      const fn: FunctionSpec = { tenant: 't', name: `f${j.fn}`, runtime: 'nodejs', handler: 'index.handler', cls: prices.classes[j.cls]?.name ?? 'c', codeDir: '/nonexistent', version: 1, timeoutMs: 1e9, env: {} };
      const limit = s.limits?.[j.fn];
      const cap = limit === undefined ? undefined : { key: simFunctionKey(j.fn), limit };
      // A call refused for its function's concurrency limit ends there (the simulator drops it too).
      done.push(gateway.invoke({ fn, requestId: `job-${next}`, payload: Buffer.from('{}'), cls: j.cls }, j.fn, cap).catch((e: unknown) => {
        if ((e as { code?: string }).code !== 'FARE_E_CONCURRENCY_LIMIT') throw e;
      }));
    } else if (gateway.inFlight > 0 && idleLooks++ < 50) {
      await new Promise((r) => setTimeout(r, idleLooks));
    } else {
      break;
    }
    await settle();
  }
  // A run that cannot end says which scenario it was (a test's timeout would not).
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(done),
    new Promise((_, fail) => {
      deadline = setTimeout(() => fail(new Error(`the live run did not end: ${gateway.inFlight} invocations in flight, no timer due; scenario ${JSON.stringify(s)}`)), 20_000);
    }),
  ]).finally(() => clearTimeout(deadline));
  gateway.close();
  for (const h of hosts) h.close();
  for (const w of workers) w.close();
  t.close();
  return lines;
}

/** Moves the virtual clock to `t` (no timer is due before it). */
function advance(clock: VirtualClock, t: number): void {
  if (clock.fireNext(t)) throw new Error(`a timer was due before ${t}`);
}
