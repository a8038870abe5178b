// The worker of `fare up --worker-thread` on a thread of its own (on-thread.ts starts it): the
// machine scheduler (the core Machine in real time, MachineDriver) over real instances, with their
// memory management, stem cells and Runtime APIs — what `fare up` otherwise runs on its event loop
// beside the gateway and the shard. It talks to them only through the protocol's messages, carried
// over the thread's MessagePort; the rest of what crosses (start-up report, warnings, metrics
// events and census, retire notices, stop) is the small `ToThread` / `FromThread` vocabulary below.

import { parentPort, workerData } from 'node:worker_threads';
import { Rng } from '../../core/rng.ts';
import { Machine } from '../../core/machine/machine.ts';
import { LIVE_KEEP_FUNCTION_ORDER } from '../../core/presets.ts';
import { MachineDriver, type WorkerEvents } from './machine-driver.ts';
import { followMemory, idleSwapLine, planMemory, swapLine, SWAP_TARGET } from './memory.ts';
import type { InstancePool } from '../runtime/pool.ts';
import { localExecutor } from './local-executor.ts';
import { keepStemCells, stemCellsOption } from './stem-upkeep.ts';
import { InProcessBus } from '../transport/in-process.ts';
import { realClock } from '../transport/clock.ts';
import { capabilities } from '../runtime/capabilities.ts';
import { startLauncher } from '../runtime/launcher.ts';
import { Outbox, type FromThread, type ThreadInit, type ToThread } from './on-thread.ts';

/** How often the instances' census and the stem cells' counts go to the main thread's metrics (also before each scrape). */
const CENSUS_MS = 500;

const port = parentPort;
if (port === null) throw new Error('thread-entry.ts runs as the worker thread of fare up --worker-thread');
const o = workerData as ThreadInit;
const outbox = new Outbox<FromThread>((m) => port.postMessage(m));
const post = (m: FromThread): void => outbox.post(m);
const warn = (line: string): void => post({ warn: line });

const report: string[] = [startLauncher()];
const caps = capabilities();
const late: { pool?: InstancePool; leaving?: () => number; relieveIdle?: (usedMB: number, targetMB: number) => number } = {};
const memory = await planMemory({
  pool: () => late.pool as InstancePool, leaving: () => late.leaving?.() ?? 0, relieveIdle: (u, t) => late.relieveIdle?.(u, t) ?? 0,
  accounting: caps.mechanisms.memory === 'proc' ? 'their processes\' resident memory' : 'their cgroups',
  ...(o.memoryMB !== undefined ? { memoryMB: o.memoryMB } : {}), ...(o.swapping !== undefined ? { swapping: o.swapping } : {}),
});
report.push(...memory.report);
const reach: { endpoint?: string } = {};
const { pool, exec, leaving, relieveIdle, stems, stemLine } = localExecutor({
  platformEnv: () => ({
    AWS_REGION: o.region,
    AWS_DEFAULT_REGION: o.region,
    ...(reach.endpoint !== undefined ? { FARE_ENDPOINT: reach.endpoint, AWS_ENDPOINT_URL_LAMBDA: reach.endpoint } : {}),
  }),
  stemCells: stemCellsOption(memory, !o.stemCells),
  cores: o.cores, prices: o.prices, classAware: o.classAware, strictPriorities: o.strictPriorities, canRaise: o.canRaise, warn,
  ...(memory.pager !== undefined ? { pager: memory.pager, onSwap: swapLine(warn), onIdleSwap: idleSwapLine(warn) } : {}),
  ...(o.cpuset !== undefined ? { cpuset: o.cpuset.procsFile } : {}),
});
late.pool = pool;
late.leaving = leaving;
late.relieveIdle = relieveIdle;
if (o.cpuset !== undefined && memory.pager !== undefined && !(await memory.pager.pin(o.cpuset.cpus))) warn('fare: the pager could not be moved to the functions\' CPUs: it pages from any CPU');
if (stemLine !== undefined) report.push(stemLine);

const census = (): FromThread => ({ census: pool.census(), stems: stems === null ? null : stems.stats() });
const censusTimer = setInterval(() => post(census()), CENSUS_MS);
censusTimer.unref();
// Their counts reach the metrics with the census (the main thread keeps the metrics).
const stemUpkeep = keepStemCells(stems, { machine: 0 });

// Messages for the gateway and the shard go to the main thread, in the order sent.
const bus = new InProcessBus({ clock: realClock, undeliverable: (m) => outbox.push(m) });
const events: WorkerEvents = {
  preempted: (machine, cls, by) => post({ event: ['preempted', machine, cls, by ?? null] }),
  ioWaited: (machine, cls) => post({ event: ['ioWaited', machine, cls] }),
  swapped: (machine, cls, direction) => post({ event: ['swapped', machine, cls, direction] }),
};
const machine = new Machine({
  id: 0, cores: o.cores, policy: o.machine, within: o.within, keepFunctionOrder: LIVE_KEEP_FUNCTION_ORDER, classes: o.prices.classes.length, memoryMB: memory.capacityMB,
  swap: { enabled: memory.swap, targetFraction: SWAP_TARGET }, dispatcher: undefined,
}, new Rng(0, 'live').fork('machine/0'));
const trace = process.env.FARE_TRACE_MACHINE === '1' ? (line: string): void => void process.stderr.write(`machine ${line}\n`) : undefined;
const worker = new MachineDriver(machine, exec, bus, realClock, trace, memory.probe, false, events);
worker.start();
const reaper = setInterval(() => pool.reap(), 30_000);
reaper.unref();
const reading = memory.swap ? await followMemory(() => worker.readMemory(), 100, 500) : undefined;
if (reading !== undefined) report.push(reading.line);

let stopping: Promise<void> | undefined;
port.on('message', (d: ToThread) => {
  if ('msgs' in d) for (const m of d.msgs) bus.sendOwned(m);
  else if ('endpoint' in d) reach.endpoint = d.endpoint;
  else if ('retire' in d) {
    if (d.retire.version === null) pool.retireAll(d.retire.tenant, d.retire.name);
    else pool.retire(d.retire.tenant, d.retire.name, d.retire.version);
  } else if ('census' in d) post(census());
  else if ('stopStems' in d) void stemUpkeep.stop().then(() => post({ stemsStopped: true }));
  else if ('stop' in d) {
    stopping ??= (async () => {
      clearInterval(reaper);
      clearInterval(censusTimer);
      reading?.stop();
      await stemUpkeep.stop();
      // Calls still running are cut: their answers and outcomes reach the main thread before `stopped`.
      await pool.close();
      worker.close();
      bus.flush();
      post({ stopped: true });
    })();
  }
});
// Infinity (memory not managed) does not survive JSON, but a structured clone keeps it.
post({ ready: report, capacityMB: memory.capacityMB, census: pool.census(), stems: stems === null ? null : stems.stats() });
