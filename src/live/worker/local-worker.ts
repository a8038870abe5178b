// Worker 0 of `fare up`, assembled the same way on the main thread and on a thread of its own
// (`--worker-thread`, thread-entry.ts): the memory plan, the executor of real instances with its
// stem cells, the core Machine driven in real time on a Bus (MachineDriver), the memory readings
// between its steps and the reaping of idle instances. What it counts goes to `metrics` (on the main
// thread) or to `events` (its thread sends them on).

import type { Bus } from '../../core/bus.ts';
import type { PriceTable } from '../../core/classes.ts';
import { Machine } from '../../core/machine/machine.ts';
import type { MachinePolicy, WithinClass } from '../../core/machine/run-queue.ts';
import { LIVE_KEEP_FUNCTION_ORDER } from '../../core/presets.ts';
import { Rng } from '../../core/rng.ts';
import type { Metrics, InstanceCensus, StemCount } from '../metrics.ts';
import { capabilities } from '../runtime/capabilities.ts';
import type { InstancePool } from '../runtime/pool.ts';
import { realClock } from '../transport/clock.ts';
import { localExecutor } from './local-executor.ts';
import { MachineDriver, type WorkerEvents } from './machine-driver.ts';
import { followMemory, idleSwapLine, planMemory, swapLine, SWAP_TARGET } from './memory.ts';
import { keepStemCells, stemCellsOption } from './stem-upkeep.ts';

/** A worker's settings, as plain data (what a worker thread is started with: a structured clone). */
export interface LocalWorkerSettings {
  readonly cores: number;
  readonly prices: PriceTable;
  readonly machine: MachinePolicy;
  readonly within: WithinClass;
  readonly classAware: boolean;
  readonly strictPriorities: boolean;
  /** Instances may run at a lower nice value than Fare (the host's report). */
  readonly canRaise: boolean;
  /** Keep stem cells (false: `--no-stem-cells`). */
  readonly stemCells: boolean;
  readonly region: string;
  readonly memoryMB?: number;
  readonly swapping?: boolean;
  /** The functions' cpuset (its cgroup.procs file and CPUs), where they are kept to their cores. */
  readonly cpuset?: { readonly procsFile: string; readonly cpus: readonly number[] };
}

export interface LocalWorkerOptions extends LocalWorkerSettings {
  /** Where functions reach Fare, read at each launch (undefined until the gateway listens). */
  readonly endpoint: () => string | undefined;
  readonly warn: (line: string) => void;
  /** The process's metrics, on the main thread: the worker's census and stem cells are read from it at scrape. */
  readonly metrics?: Metrics;
  /** Where preemptions, I/O waits and swaps are counted (default: `metrics`). */
  readonly events?: WorkerEvents;
}

/** A worker's instances and stem cells now (`null`: it keeps no stem cells). */
export interface WorkerCensus {
  readonly census: readonly InstanceCensus[];
  readonly stems: readonly StemCount[] | null;
}

export interface LocalWorker {
  /** Start-up lines: memory, stem cells, memory readings. */
  readonly report: readonly string[];
  /** The memory its machine scheduler manages (MB; Infinity: not managed). */
  readonly capacityMB: number;
  readonly pool: InstancePool;
  /** Its instances and stem cells now (for a thread's census). */
  census(): WorkerCensus;
  /** A function changed or was deleted (`version` null): its older instances are retired. */
  retire(tenant: string, name: string, version: number | null): void;
  /** Stops adjusting the stem cells and kills those not taken. */
  stopStems(): Promise<void>;
  /** Closes the instances (calls still running are cut; their outcomes are sent). */
  closeInstances(): Promise<void>;
  /** Stops the machine scheduler's driver and the worker's timers. */
  close(): void;
}

/** Starts worker 0 on `bus` (machine/0). */
export async function startLocalWorker(o: LocalWorkerOptions, bus: Bus): Promise<LocalWorker> {
  const caps = capabilities();
  const late: { pool?: InstancePool; leaving?: () => number; relieveIdle?: (usedMB: number, targetMB: number) => number } = {};
  const memory = await planMemory({
    pool: () => late.pool as InstancePool, leaving: () => late.leaving?.() ?? 0, relieveIdle: (u, t) => late.relieveIdle?.(u, t) ?? 0,
    accounting: caps.mechanisms.memory === 'proc' ? 'their processes\' resident memory' : 'their cgroups',
    ...(o.memoryMB !== undefined ? { memoryMB: o.memoryMB } : {}), ...(o.swapping !== undefined ? { swapping: o.swapping } : {}),
  });
  const report: string[] = [...memory.report];
  // Every function is told the region and where Fare answers, so the AWS SDK inside it calls Fare
  // with the invocation's own credentials and no set-up.
  const platformEnv = (): Readonly<Record<string, string>> => {
    const endpoint = o.endpoint();
    return { AWS_REGION: o.region, AWS_DEFAULT_REGION: o.region, ...(endpoint !== undefined ? { FARE_ENDPOINT: endpoint, AWS_ENDPOINT_URL_LAMBDA: endpoint } : {}) };
  };
  const warn = o.warn;
  const { pool, exec, leaving, relieveIdle, stems, stemLine } = localExecutor({
    platformEnv,
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
  o.metrics?.watchWorker(0, () => pool.census());
  // Stem cells follow memory and let their number fall back once cold starts stop.
  const stemUpkeep = keepStemCells(stems, { machine: 0, metrics: o.metrics });
  const machine = new Machine({
    id: 0, cores: o.cores, policy: o.machine, within: o.within, keepFunctionOrder: LIVE_KEEP_FUNCTION_ORDER, classes: o.prices.classes.length, memoryMB: memory.capacityMB,
    swap: { enabled: memory.swap, targetFraction: SWAP_TARGET }, dispatcher: undefined,
  }, new Rng(0, 'live').fork('machine/0'));
  // FARE_TRACE_MACHINE=1: the machine scheduler's inputs and decisions, one line each, on stderr.
  const trace = process.env.FARE_TRACE_MACHINE === '1' ? (line: string): void => void process.stderr.write(`machine ${line}\n`) : undefined;
  const driver = new MachineDriver(machine, exec, bus, realClock, trace, memory.probe, false, o.events ?? o.metrics);
  driver.start();
  const reaper = setInterval(() => pool.reap(), 30_000);
  reaper.unref();
  // Memory changes while instances run: read it between the scheduler's steps too (only where managed with swapping).
  const reading = memory.swap ? await followMemory(() => driver.readMemory(), 100, 500) : undefined;
  if (reading !== undefined) report.push(reading.line);
  return {
    report,
    capacityMB: memory.capacityMB,
    pool,
    census: () => ({ census: pool.census(), stems: stems === null ? null : stems.stats() }),
    retire: (tenant, name, version) => {
      if (version === null) pool.retireAll(tenant, name);
      else pool.retire(tenant, name, version);
    },
    stopStems: () => stemUpkeep.stop(),
    closeInstances: () => pool.close(),
    close: () => {
      clearInterval(reaper);
      reading?.stop();
      driver.close();
    },
  };
}
