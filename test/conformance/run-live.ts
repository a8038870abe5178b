// A scenario through the live driver: the gateway's SchedulerClient, ShardHosts and workers'
// MachineDrivers on the in-process Bus (every message through a JSON round trip), over fake
// instances, in virtual time. Returns the decision log.

import { DEFAULT_PRICE_TABLE } from '../../src/core/classes.ts';
import { Rng } from '../../src/core/rng.ts';
import { policyPreset } from '../../src/core/presets.ts';
import { Shard } from '../../src/core/shard/shard.ts';
import { Machine } from '../../src/core/machine/machine.ts';
import type { MachinePolicy } from '../../src/core/machine/run-queue.ts';
import type { SelectionRule } from '../../src/core/shard/multi-queue.ts';
import { InProcessBus } from '../../src/live/transport/in-process.ts';
import { VirtualClock } from '../../src/live/transport/clock.ts';
import { ShardHost } from '../../src/live/shard/shard-host.ts';
import { MachineDriver } from '../../src/live/worker/machine-driver.ts';
import { SchedulerClient } from '../../src/live/gateway/scheduler-client.ts';
import type { FunctionSpec } from '../../src/live/types.ts';
import { FakeInstances } from './fake-executor.ts';
import { arrivals, CLUSTER_FRACTIONS, type Scenario } from './scenario.ts';

/** Lets every delivery, step and promise settle (the in-process Bus delivers from microtasks). */
async function settle(bus: InProcessBus): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    await new Promise<void>((r) => setImmediate(r));
    if (bus.pending === 0) return;
  }
  throw new Error('the bus never went quiet');
}

/** A decision rule changed in the live driver only (to show that the suite notices). */
export interface Tamper {
  readonly selection?: SelectionRule;
  readonly machinePolicy?: MachinePolicy;
}

export async function runLive(s: Scenario, tamper: Tamper = {}): Promise<string[]> {
  const lines: string[] = [];
  const log = (line: string): void => {
    lines.push(line);
  };
  const clock = new VirtualClock();
  const bus = new InProcessBus({ clock, serialize: true });
  const jobs = arrivals(s);
  const prices = DEFAULT_PRICE_TABLE;
  // The same streams as the simulator's (`policy/<name>`, forked per part).
  const root = new Rng(s.seed, `policy/${s.policy}`);
  const preset = policyPreset(s.policy, { idleList: s.idleList });
  const mem = s.memoryMB;
  const hosts: { close(): void }[] = [];
  for (let i = 0; i < s.shards; i++) {
    hosts.push(new ShardHost(new Shard({
      id: i, prices, selection: tamper.selection ?? preset.selection, machines: s.machines, k: s.k, useIdleList: preset.idleList,
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
      id: i, cores: s.cores, policy: tamper.machinePolicy ?? preset.machine, classes: prices.classes.length, memoryMB: mem,
      swap: { enabled: Number.isFinite(mem) && preset.swapping, targetFraction: CLUSTER_FRACTIONS.swapTarget },
      dispatcher: preset.idleList
        ? { shards: s.shards, k: Math.min(s.k, s.shards), joinFreeMB: CLUSTER_FRACTIONS.joinFree * mem, leaveFreeMB: CLUSTER_FRACTIONS.leaveFree * mem, updateDeltaMB: CLUSTER_FRACTIONS.updateDelta * mem, pollTimeoutMs: Infinity }
        : undefined,
    }, root.fork(`machine/${i}`));
    workers.push(new MachineDriver(machine, fake, bus, clock, log, Number.isFinite(mem) ? fake : undefined));
  }
  const gateway = new SchedulerClient(bus, clock, { id: 0, shards: s.shards, shardChoice: 'round-robin', log });
  for (const w of workers) w.start();
  await settle(bus);

  const done: Promise<unknown>[] = [];
  let next = 0;
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
      done.push(gateway.invoke({ fn, requestId: `job-${next}`, payload: Buffer.from('{}'), cls: j.cls }, j.fn));
    } else {
      break;
    }
    await settle(bus);
  }
  await Promise.all(done);
  gateway.close();
  for (const h of hosts) h.close();
  for (const w of workers) w.close();
  return lines;
}

/** Moves the virtual clock to `t` (no timer is due before it). */
function advance(clock: VirtualClock, t: number): void {
  if (clock.fireNext(t)) throw new Error(`a timer was due before ${t}`);
}
