// `fare worker --id N`: one machine of the cluster — the dispatcher and machine scheduler (the core
// Machine in real time, MachineDriver) on the NATS Bus, over real instances on this host. A
// function's code comes from the cluster's object store the first time this machine runs it. The
// gateways' control messages (a function changed or was deleted) retire old instances here.

import { mkdirSync } from 'node:fs';
import type { Subscription } from '@nats-io/transport-node';
import type { PriceTable } from '../../core/classes.ts';
import { Rng } from '../../core/rng.ts';
import { LIVE_KEEP_FUNCTION_ORDER, LIVE_WITHIN_DEFAULT, policyPreset } from '../../core/presets.ts';
import type { WithinClass } from '../../core/machine/run-queue.ts';
import { Machine } from '../../core/machine/machine.ts';
import type { Mutable } from '../../core/types.ts';
import { MachineDriver, type Executor, type MemoryProbe } from '../worker/machine-driver.ts';
import { followMemory, idleSwapLine, planMemory, swapLine, SWAP_TARGET } from '../worker/memory.ts';
import type { InstancePool } from '../runtime/pool.ts';
import { localExecutor } from '../worker/local-executor.ts';
import { keepStemCells, stemCellsOption } from '../worker/stem-upkeep.ts';
import { isolatesTenants } from '../runtime/capabilities.ts';
import { NatsBus } from '../transport/nats.ts';
import { realClock } from '../transport/clock.ts';
import { describeIoWaits, describeWithin, prepareHost } from '../assembly.ts';
import type { FunctionSpec, InvokeRequest } from '../types.ts';
import type { LivePolicy } from '../one-machine.ts';
import { CodeCache } from './code.ts';
import { codeStore, connectNats, reportStatus, traceOption, type ClusterAddress } from './connect.ts';
import { retireSubject, type RetireNotice } from './control.ts';
import { Heartbeat, Membership } from './membership.ts';
import { Metrics, serveMetrics, type MetricsListener } from '../metrics.ts';

export interface WorkerProcessOptions extends ClusterAddress {
  readonly id: number;
  /** Where this worker keeps the code it fetched and its instances' files. */
  readonly dataDir: string;
  readonly cores?: number;
  readonly policy: LivePolicy;
  readonly prices: PriceTable;
  readonly replicas: number;
  readonly strictPriorities: boolean;
  /** Order within a class under the fare policy (default: LIVE_WITHIN_DEFAULT, las, as fare up). */
  readonly within?: WithinClass | undefined;
  /** Run tenants' code even where this host cannot keep tenants apart (no sandbox). */
  readonly insecureSingleTenant: boolean;
  /** On stop, how long to wait for the jobs placed here to finish (ms; default 30 s, as `fare worker --shutdown-grace`). */
  readonly drainMs?: number;
  /**
   * The cluster's shards (ids 0 … shards − 1), whose idle lists this worker joins by its free
   * memory (`--shards`). Undefined: it joins none (the shards place on it by power-of-k only).
   */
  readonly shards?: number;
  /** Manage this much memory (MB) instead of the machine's (see MemoryOptions.memoryMB). */
  readonly memoryMB?: number;
  /** Swap out idle instances, then the lowest classes' preempted ones, under memory pressure (default true where possible). */
  readonly swapping?: boolean;
  /** Where functions reach the gateways (FARE_ENDPOINT, AWS_ENDPOINT_URL_LAMBDA); none: not told. */
  readonly endpoint?: string;
  /** Given to functions as AWS_REGION (default us-east-1). */
  readonly region?: string;
  readonly warn: (line: string) => void;
  /** Serve this process's metrics, unauthenticated, on a listener of its own on this port (0: any free port); undefined: none. */
  readonly metricsPort?: number;
  /** Where that listener binds (default 127.0.0.1). */
  readonly metricsHost?: string;
  /** Keep stem cells, runtimes started ahead for cold starts (default true where the host allows them; runtime/stem-cells.ts), as `fare up` does. */
  readonly stemCells?: boolean;
}

export interface WorkerProcess {
  /** What this host can do, for the start-up report. */
  readonly report: readonly string[];
  readonly cores: number;
  /** The metrics listener's URL, when `metricsPort` was given. */
  readonly metricsUrl: string | undefined;
  /** Drains (no new work; the jobs here finish, up to `drainMs`), then stops; `now`: without waiting for the jobs (again during a drain, it ends it). */
  close(now?: boolean): Promise<void>;
}

export async function startWorker(o: WorkerProcessOptions): Promise<WorkerProcess> {
  process.umask(0o077);
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const host = await prepareHost(o.cores);
  if (!isolatesTenants(host.caps) && !o.insecureSingleTenant) {
    throw Object.assign(new Error(
      `this host cannot keep tenants apart (${host.caps.sandbox.why}), and a worker runs any tenant's code: run it as root on Linux with a C compiler for Fare's sandbox helper, or pass --insecure-single-tenant if this cluster serves one tenant`,
    ), { code: 'FARE_E_SINGLE_TENANT' });
  }
  const nc = await connectNats(o, `fare-worker-${o.id}`);
  const bus = new NatsBus(nc, { prefix: o.prefix, ...traceOption(), problem: (what) => o.warn(`fare worker ${o.id}: ${what}`) });
  void reportStatus(nc, `fare worker ${o.id}`, o.warn);
  const cache = new CodeCache(await codeStore(nc, o.prefix, o.replicas), o.dataDir);
  // LAS within a class unless asked (LIVE_WITHIN_DEFAULT, as fare up). A synchronous call made
  // through another gateway than its caller's gives the caller's core back too (that gateway tells the
  // caller's, which blocks it: SchedulerClient.callStarted), so the callee never waits behind its caller.
  const preset = policyPreset(o.policy, { idleList: o.shards !== undefined, within: o.within ?? (o.policy === 'fare' ? LIVE_WITHIN_DEFAULT : undefined) });
  const late: { pool?: InstancePool; leaving?: () => number; relieveIdle?: (usedMB: number, targetMB: number) => number } = {};
  const memory = await planMemory({
    pool: () => late.pool as InstancePool, leaving: () => late.leaving?.() ?? 0, relieveIdle: (u, t) => late.relieveIdle?.(u, t) ?? 0, accounting: host.caps.mechanisms.memory === 'proc' ? 'their processes\' resident memory' : 'their cgroups',
    ...(o.memoryMB !== undefined ? { memoryMB: o.memoryMB } : {}), ...(o.swapping !== undefined ? { swapping: o.swapping } : {}),
  });
  const region = o.region ?? 'us-east-1';
  const env: Readonly<Record<string, string>> = {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    ...(o.endpoint !== undefined ? { FARE_ENDPOINT: o.endpoint, AWS_ENDPOINT_URL_LAMBDA: o.endpoint } : {}),
  };
  const { pool, exec: local, leaving, relieveIdle, stems, stemLine } = localExecutor({
    platformEnv: () => env,
    stemCells: stemCellsOption(memory, o.stemCells === false),
    cores: host.cores, prices: o.prices, classAware: preset.classAware, strictPriorities: o.strictPriorities, canRaise: host.nice, warn: o.warn,
    ...(memory.pager !== undefined ? { pager: memory.pager, onSwap: swapLine(o.warn), onIdleSwap: idleSwapLine(o.warn) } : {}),
    ...(host.cpuset !== undefined ? { cpuset: host.cpuset.procsFile } : {}),
  });
  late.pool = pool;
  late.leaving = leaving;
  late.relieveIdle = relieveIdle;
  const metrics = o.metricsPort === undefined ? undefined : new Metrics({ prices: o.prices });
  metrics?.watchWorker(o.id, () => pool.census());
  // Stem cells follow memory and let their number fall back once cold starts stop.
  const stemUpkeep = keepStemCells(stems, { machine: o.id, metrics });
  // The parts started from here on, stopped in order (also when the start fails part-way: the stem
  // cells' processes, started above, must not keep this process alive after the error is told).
  const parts: {
    driver?: MachineDriver; reading?: { stop(): void }; shardWatch?: Membership; retire?: Subscription;
    reaper?: NodeJS.Timeout; listener?: MetricsListener; beat?: Heartbeat;
  } = {};
  const stopParts = async (): Promise<void> => {
    await parts.listener?.close();
    parts.beat?.stop(true);
    parts.reading?.stop();
    parts.shardWatch?.stop();
    clearInterval(parts.reaper);
    parts.retire?.unsubscribe();
    parts.driver?.close();
    bus.close();
    await stemUpkeep.stop();
    await pool.close();
    host.cpuset?.close();
    await nc.drain();
  };
  try {
    if (host.cpuset !== undefined && memory.pager !== undefined && !(await memory.pager.pin(host.cpuset.cpus))) o.warn(`fare worker ${o.id}: the pager could not be moved to the functions' CPUs: it pages from any CPU`);
    const exec: Executor = {
      // The job runs this host's copy of its code.
      run: async (req) => {
        const codeDir = await cache.resolve(req.fn);
        const fn: Mutable<FunctionSpec> = Object.assign({}, req.fn);
        fn.codeDir = codeDir;
        const r: Mutable<InvokeRequest> = Object.assign({}, req);
        r.fn = fn;
        return local.run(r);
      },
      pause: (id) => local.pause(id),
      resume: (id) => local.resume(id),
      // I/O waits (machine-driver.ts), as in fare up.
      cpuMs: (id) => local.cpuMs?.(id),
      sleepsOnIo: (id) => local.sleepsOnIo?.(id),
      ioWait: (id, waiting) => local.ioWait?.(id, waiting),
      ...(memory.pager !== undefined ? { swapOut: (id: string) => local.swapOut?.(id), swapIn: (id: string) => local.swapIn?.(id) } : {}),
    };
    // The dispatcher joins the emptiest of k shards' idle lists while over half the machine's memory is
    // available, leaves below a quarter, and updates its entry on a change of a tenth (the paper's
    // marks, as in the simulator). The machine's memory comes from the kernel (MemAvailable).
    const report: string[] = [...memory.report];
    if (stemLine !== undefined) report.push(stemLine);
    if (preset.machine === 'priority') report.push(describeWithin(preset.within));
    report.push(describeIoWaits(preset.classAware && (o.strictPriorities || host.nice)));
    const managed = Number.isFinite(memory.capacityMB);
    const memoryMB = memory.capacityMB;
    if (managed && o.shards !== undefined && preset.idleList) {
      report.push(`idle lists: joins the emptiest of ${Math.min(2, o.shards)} shards' when over ${Math.round(memoryMB / 2)} MB of its ${Math.round(memoryMB)} MB are free, leaves under ${Math.round(memoryMB / 4)} MB`);
    } else {
      report.push(o.shards === undefined ? 'idle lists: none joined (no --shards, or --no-idle-lists): shards place on this worker by power-of-k' : preset.idleList ? 'idle lists: none joined (/proc/meminfo unreadable): shards place on this worker by power-of-k' : `idle lists: none (policy ${o.policy})`);
    }
    const probe: MemoryProbe | undefined = memory.probe;
    const machine = new Machine({
      id: o.id, cores: host.cores, policy: preset.machine, within: preset.within, keepFunctionOrder: LIVE_KEEP_FUNCTION_ORDER, classes: o.prices.classes.length, memoryMB,
      swap: { enabled: memory.swap, targetFraction: SWAP_TARGET },
      dispatcher: managed && o.shards !== undefined && preset.idleList
        ? { shards: o.shards, k: Math.min(2, o.shards), joinFreeMB: 0.5 * memoryMB, leaveFreeMB: 0.25 * memoryMB, updateDeltaMB: 0.1 * memoryMB, pollTimeoutMs: 200 }
        : undefined,
    }, new Rng(o.id, `live/machine/${o.id}`));
    const driver = (parts.driver = new MachineDriver(machine, exec, bus, realClock, undefined, probe, true, metrics));
    driver.start();
    const reading = (parts.reading = await followMemory(() => driver.readMemory(), 500, 1000));
    report.push(reading.line);
    // A shard that dies or restarts forgets its idle list: the worker joins one again.
    parts.shardWatch = new Membership(nc, o.prefix, 'shard', o.memberTimeoutMs, realClock, (events) => {
      for (const e of events) if (e.kind === 'leave') driver.shardLost(e.id);
    });
    parts.retire = nc.subscribe(retireSubject(o.prefix), {
      callback: (err, m) => {
        if (err) return;
        let n: RetireNotice;
        try {
          n = m.json<RetireNotice>();
        } catch {
          return;
        }
        if (typeof n.tenant !== 'string' || typeof n.name !== 'string') return;
        if (n.version === null) pool.retireAll(n.tenant, n.name);
        else if (typeof n.version === 'number') pool.retire(n.tenant, n.name, n.version);
      },
    });
    parts.reaper = setInterval(() => pool.reap(), 30_000);
    parts.reaper.unref();
    // Announced once it can take jobs: the shards place on it from its first beat.
    if (metrics !== undefined) parts.listener = await serveMetrics(metrics, o.metricsPort ?? 0, o.metricsHost ?? '127.0.0.1');
    const beat = (parts.beat = new Heartbeat(nc, o.prefix, 'machine', o.id, o.heartbeatMs));
    await nc.flush();
    let closing: Promise<void> | undefined;
    let cut = false;
    return {
      report: [...host.lines, ...host.after, ...report],
      cores: host.cores,
      metricsUrl: parts.listener?.url,
      close: (now = false) => {
        if (now) cut = true;
        return (closing ??= (async () => {
          await parts.listener?.close();
          delete parts.listener;
          // Drain: no new work from now on (the shards drop it from their members), the jobs here finish.
          beat.drain();
          const until = performance.now() + (o.drainMs ?? 30_000);
          while (driver.jobs > 0 && !cut && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
          await stopParts();
        })());
      },
    };
  } catch (e) {
    await stopParts();
    throw e;
  }
}
