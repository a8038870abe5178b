// One simulator benchmark run in its own process (so its peak memory is its own): prints one JSON line.
// Usage: node --import tsx bench/sim-one.ts POLICY MACHINES JOBS LOAD [IDLE_LIST] [MEMORY_GB]

import { Rng } from '../src/core/rng.ts';
import { DEFAULT_PRICE_TABLE } from '../src/core/classes.ts';
import { Simulation, type PolicyKind } from '../src/sim/engine.ts';
import { DEFAULT_CLUSTER } from '../src/sim/experiment.ts';
import { makeJobSource, validateWorkload } from '../src/sim/workload/index.ts';

const [policy = 'fare', machinesText = '100', jobsText = '1000000', loadText = '0.9', idleText = 'false', memText = ''] = process.argv.slice(2);
const machines = Number(machinesText);
const jobs = Number(jobsText);
const load = Number(loadText);
const cluster = {
  ...DEFAULT_CLUSTER,
  machines,
  shards: Number(process.env.SHARDS ?? Math.max(4, Math.round(machines / 250))),
  idleList: idleText === 'true',
  memoryMB: memText ? Number(memText) * 1024 : Infinity,
};
const wl = validateWorkload({ kind: 'synthetic', jobs, load }, DEFAULT_PRICE_TABLE);
if (!wl.ok) throw new Error(wl.error);
const source = makeJobSource(wl.value, DEFAULT_PRICE_TABLE, cluster.machines * cluster.cores, new Rng(1, `workload/load=${load}`));
const span = source.info.spanMs;
const sim = new Simulation({
  cluster,
  policy: { name: policy, kind: policy as PolicyKind },
  prices: DEFAULT_PRICE_TABLE,
  seed: 1,
  measureFrom: span * 0.1,
  measureTo: span,
  horizon: span * 1.25,
  samples: 20,
}, source);
const cpu0 = process.cpuUsage();
const r = sim.run();
const cpu = process.cpuUsage(cpu0);
let completed = 0;
for (const c of r.classes) completed += c.completed;
const maxRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ policy, machines, cores: cluster.cores, shards: cluster.shards, jobs, load, idleList: cluster.idleList, wallMs: r.wallMs, cpuMs: (cpu.user + cpu.system) / 1000, jobsPerSec: jobs / (r.wallMs / 1000), events: r.events, preemptions: r.preemptions, completedMeasured: completed, maxRssMB })}\n`);
