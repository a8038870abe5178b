// Same scenario, same decisions: each scenario runs through the simulator (zero-latency Bus) and the
// live driver (in-process Bus with JSON round trips, fake instances, virtual clock); the two
// decision logs must be equal, line for line. Then random scenarios (fast-check) the same way. Then
// the same over the NATS Bus, through a real nats-server.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { findNatsServer, startNatsServer, type NatsServer } from '../../src/live/cluster/nats-server.ts';
import fc from 'fast-check';
import { runSim } from './run-sim.ts';
import { overNats, runLive } from './run-live.ts';
import { arrivals, type Scenario, type ScenarioJob } from './scenario.ts';
import { WITHIN_CLASS, type WithinClass } from '../../src/core/machine/run-queue.ts';

const base: Omit<Scenario, 'name' | 'jobs'> = {
  seed: 1, policy: 'fare', machines: 1, cores: 1, shards: 1, k: 1, memoryMB: Infinity, idleList: false, maxOutstandingPolls: 64,
};
const job = (at: number, cls: number, runtime: number, memMB = 10, fn = 0): ScenarioJob => ({ at, cls, fn, runtime, memMB });

const SCENARIOS: readonly Scenario[] = [
  {
    ...base, name: 'class order under contention: the top class runs first, FCFS within a class',
    jobs: [job(0, 3, 50), job(1, 3, 10), job(2, 0, 10), job(3, 2, 10), job(4, 0, 10), job(5, 1, 10)],
  },
  {
    ...base, name: 'preemption and resumption: a higher class stops a lower one, which resumes where it was',
    cores: 1, jobs: [job(0, 3, 100), job(10, 1, 20), job(15, 0, 5), job(50, 2, 10)],
  },
  {
    ...base, name: 'call-chain inheritance: a low-class callee of a top-class caller runs at the top class',
    // Job 3 (its function is low) is called by job 1 (high) and inherits high: it overtakes job 2.
    cores: 1, jobs: [job(0, 0, 30), job(1, 2, 30), { ...job(2, 3, 5, 10, 1), calledBy: 1 }, { ...job(3, 3, 5, 10, 2), calledBy: 2 }],
  },
  {
    ...base, name: 'power-of-k when the idle list is empty: k polls, the least loaded answer wins',
    machines: 6, cores: 1, k: 3, idleList: false,
    jobs: Array.from({ length: 14 }, (_, i) => job(i * 2, i % 4, 15 + (i % 3) * 7)),
  },
  {
    ...base, name: 'idle-list join and leave: machines with free memory join, leave when it runs low, rejoin',
    // Runtimes differ by 1 ms: two machines finishing at the same instant are independent events the
    // two drivers may log in either order (the simulator by machine, the live driver by timer).
    machines: 3, cores: 2, shards: 2, k: 2, memoryMB: 400, idleList: true,
    jobs: Array.from({ length: 12 }, (_, i) => job(i * 3, i % 4, 40 + i, 90)),
  },
  {
    ...base, name: 'shard selection weighted by time waited: queued jobs leave by price × waited',
    // No polls: jobs wait in the shard while its only machine is off the idle list (full), and leave
    // by price × waited when it rejoins at t=30 (job 5, low, waited 26: 13 — before job 6, high, waited 5: 10).
    machines: 1, cores: 1, memoryMB: 400, idleList: true, maxOutstandingPolls: 0,
    jobs: [job(0, 3, 10, 100), job(1, 3, 10, 100), job(2, 3, 10, 100), job(3, 3, 10, 100), job(4, 3, 10, 100), job(25, 0, 10, 100), job(26, 2, 10, 100)],
  },
  {
    ...base, name: 'swapping under memory pressure: the lowest classes that wait are swapped out first, and back in to run',
    machines: 1, cores: 1, memoryMB: 250, idleList: false,
    jobs: [job(0, 3, 40, 90), job(1, 2, 40, 90), job(2, 3, 40, 90), job(3, 0, 20, 90), job(4, 1, 20, 90)],
  },
  {
    ...base, name: 'budget degrade: an over-budget tenant\'s calls run at the cheapest class and wait behind the rest',
    // Jobs 2 and 3 are a high-class function of a tenant past its allowance (30 % spent, 25 % allowed): the core's admit() degrades them.
    cores: 1, jobs: [job(0, 1, 20), { ...job(1, 0, 20), spentOfBudget: 0.3 }, { ...job(2, 0, 20), spentOfBudget: 0.3 }, job(3, 1, 20), job(4, 2, 5)],
  },
  {
    ...base, name: 'las within a class: a new call preempts the one of its class that has run longest; the least served resumes first',
    // (Past LAS's 100 ms quantum, so that the long ones may be stopped for the new.)
    within: 'las', cores: 2, jobs: [job(0, 0, 1000), job(50, 0, 800), job(300, 0, 10), job(350, 0, 10), job(360, 1, 5), job(500, 0, 30)],
  },
  {
    ...base, name: 'sef within a class: a call of a function known to be short goes ahead of its class\'s long ones',
    // Functions 1 (long) and 2 (short) are learnt from their first calls; then a short call preempts a long one.
    within: 'sef', cores: 1, jobs: [job(0, 0, 40, 10, 1), job(50, 0, 2, 10, 2), job(60, 0, 40, 10, 1), job(65, 0, 40, 10, 1), job(70, 0, 2, 10, 2)],
  },
  {
    ...base, name: 'ps within a class: a call that has run its 20 ms slice gives its core to the next of its class, on the machine\'s timer',
    // Runtimes off the slices' ends by a few ms, so that no completion falls on a slice's end.
    within: 'ps', cores: 1, jobs: [job(0, 0, 47), job(3, 0, 13), job(5, 0, 31), job(30, 1, 7), job(90, 0, 5)],
  },
  {
    ...base, name: 'concurrency limits: a function\'s shard takes its calls up to its limit and refuses the rest until one has left; 0 refuses all',
    // Function 1 at most 2 at once, function 2 none; function 0 unlimited. Job 3 finds jobs 1 and 2 in
    // flight, job 6 comes after job 2 has left (t = 13), job 7 while jobs 1 and 6 run.
    machines: 3, cores: 1, shards: 1, k: 2, limits: { 1: 2, 2: 0 },
    jobs: [job(0, 1, 30, 10, 1), job(1, 0, 12, 10, 1), job(2, 2, 10, 10, 1), job(3, 1, 5, 10, 0), job(4, 0, 5, 10, 2), job(14.5, 0, 9, 10, 1), job(15, 3, 9, 10, 1), job(40, 1, 3, 10, 1)],
  },
  {
    ...base, name: 'hermod: processor sharing, class-blind FIFO shards',
    policy: 'hermod', machines: 3, cores: 2, k: 2, jobs: Array.from({ length: 10 }, (_, i) => job(i, i % 4, 10 + i)),
  },
  {
    ...base, name: 'fifo: classes ignored on the machines',
    policy: 'fifo', machines: 2, cores: 1, k: 2, jobs: Array.from({ length: 8 }, (_, i) => job(i, 3 - (i % 4), 12)),
  },
];

const scenario = fc.record({
  seed: fc.integer({ min: 0, max: 1000 }),
  policy: fc.constantFrom<'fare' | 'fifo' | 'hermod'>('fare', 'fifo', 'hermod'),
  within: fc.constantFrom<WithinClass>(...WITHIN_CLASS),
  machines: fc.integer({ min: 1, max: 4 }),
  cores: fc.integer({ min: 1, max: 3 }),
  shards: fc.integer({ min: 1, max: 3 }),
  k: fc.integer({ min: 1, max: 3 }),
  memoryMB: fc.constantFrom(Infinity, 300, 600),
  idleList: fc.boolean(),
  maxOutstandingPolls: fc.integer({ min: 1, max: 8 }),
  // Concurrency limits of some functions (none, or a few; 0 refuses every call).
  limits: fc.constantFrom<Readonly<Record<number, number>>>({}, {}, { 0: 1 }, { 0: 2, 1: 0 }, { 1: 3, 2: 1 }),
  // Arrival times and runtimes drawn as doubles, all distinct: two events never fall at the same
  // moment (the drivers break such ties by different, equally valid orders: the simulator by
  // when a machine's wake-up was last renewed, the virtual clock by when a timer was set).
  jobs: fc.array(fc.record({
    at: fc.double({ min: 0, max: 100, noNaN: true }),
    cls: fc.integer({ min: 0, max: 3 }),
    fn: fc.integer({ min: 0, max: 5 }),
    // Up to 400 ms: past LAS's quantum (100 ms), so that calls are stopped for newer ones of their class.
    runtime: fc.double({ min: 0.05, max: 400, noNaN: true }),
    memMB: fc.integer({ min: 1, max: 100 }),
  }), { minLength: 1, maxLength: 25 })
    .filter((js) => new Set(js.map((j) => j.at)).size === js.length && new Set(js.map((j) => j.runtime)).size === js.length),
});

describe('conformance: the simulator and the live driver decide the same', () => {
  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const sim = runSim(s);
      const live = await runLive(s);
      expect(sim.length).toBeGreaterThan(s.jobs.length);
      expect(live.join('\n')).toBe(sim.join('\n'));
    });
  }

  it('scenarios mean what they say: inherited and degraded classes come from the core', () => {
    const classes = (prefix: string): number[] => arrivals(SCENARIOS.find((x) => x.name.startsWith(prefix)) as Scenario).map((j) => j.cls);
    expect(classes('call-chain')).toEqual([0, 2, 0, 2]);
    expect(classes('budget degrade')).toEqual([1, 3, 3, 1, 2]);
  });

  it('scenarios mean what they say: the limited functions\' calls past their limits are refused, the others placed', () => {
    const log = runSim(SCENARIOS.find((x) => x.name.startsWith('concurrency limits')) as Scenario).join('\n');
    expect([...log.matchAll(/refused job=(\d+) limit=(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])])).toEqual([[3, 2], [5, 0], [7, 2]]);
    expect([...log.matchAll(/ place job=(\d+)/g)].map((m) => Number(m[1]))).toEqual([1, 2, 4, 6, 8]);
  });

  it('scenarios mean what they say: under las, sef and ps a job is preempted by one of its own class', () => {
    for (const prefix of ['las within', 'sef within', 'ps within']) {
      const s = SCENARIOS.find((x) => x.name.startsWith(prefix)) as Scenario;
      const log = runSim(s).join('\n');
      // Every job of these scenarios but one is of class 0: a preemption of a class-0 job is by its own class.
      const cls = new Map(arrivals(s).map((j, i) => [i + 1, j.cls]));
      const preempted = [...log.matchAll(/machine\/\d+ preempt job=(\d+)/g)].map((m) => Number(m[1]));
      expect(preempted.filter((j) => cls.get(j) === 0).length, log).toBeGreaterThan(0);
      expect(runSim({ ...s, within: 'fcfs' }).join('\n')).not.toMatch(/preempt job=/);
    }
  });

  it('notices a decision changed in one driver only', async () => {
    const byName = (prefix: string): Scenario => SCENARIOS.find((x) => x.name.startsWith(prefix)) as Scenario;
    // The live shards pick by strict class order instead of price × waited ...
    const queued = byName('shard selection');
    expect((await runLive(queued, { selection: 'strict' })).join('\n')).not.toBe(runSim(queued).join('\n'));
    // ... or the live machine runs first come, first served instead of by class.
    const contention = byName('class order');
    expect((await runLive(contention, { machinePolicy: 'fcfs' })).join('\n')).not.toBe(runSim(contention).join('\n'));
  });

  it('for random scenarios (property)', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (x) => {
      const s: Scenario = { name: 'random', ...x };
      const sim = runSim(s);
      const live = await runLive(s);
      expect(live.join('\n')).toBe(sim.join('\n'));
    }), { numRuns: 200 });
  });
});

const nats = findNatsServer();
if (!nats.ok) process.stderr.write(`SKIPPED conformance over NATS: ${nats.why}\n`);

describe.skipIf(!nats.ok)('conformance over the NATS Bus (a real nats-server)', () => {
  let dir = '';
  let server: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  let runs = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-conformance-nats-'));
    server = await startNatsServer({ dir, name: 'conformance' });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // Each run on its own subjects: a late message of one run never reaches the next.
  const live = (s: Scenario): Promise<string[]> => runLive(s, {}, overNats(nc as NatsConnection, `conf.r${runs++}`));

  for (const s of SCENARIOS) {
    it(s.name, async () => {
      const before = (nc as NatsConnection).stats();
      expect((await live(s)).join('\n')).toBe(runSim(s).join('\n'));
      // The messages really went through the server.
      const after = (nc as NatsConnection).stats();
      expect(after.outMsgs - before.outMsgs).toBeGreaterThan(s.jobs.length);
      expect(after.inMsgs - before.inMsgs).toBe(after.outMsgs - before.outMsgs);
    });
  }

  it('notices a decision changed in one driver only', async () => {
    const queued = SCENARIOS.find((x) => x.name.startsWith('shard selection')) as Scenario;
    const tampered = await runLive(queued, { selection: 'strict' }, overNats(nc as NatsConnection, `conf.r${runs++}`));
    expect(tampered.join('\n')).not.toBe(runSim(queued).join('\n'));
  });

  it('for random scenarios (property)', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (x) => {
      const s: Scenario = { name: 'random', ...x };
      expect((await live(s)).join('\n')).toBe(runSim(s).join('\n'));
    }), { numRuns: 40 });
  });
});
