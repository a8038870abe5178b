// The Executor of a worker whose instances are real processes on this machine: the warm pool (with
// stem cells for its cold starts, where asked and possible), with kernel priorities by class as an
// assist to the machine scheduler. Shared by `fare up` (worker 0 of a
// cluster of one) and `fare worker` (one per machine of a cluster).

import { getPriority, setPriority } from 'node:os';
import type { PriceTable } from '../../core/classes.ts';
import { kernelPriority, waitingKernelPriority, type KernelPriority } from '../../core/kernel-priority.ts';
import { LOG_TEXT_MAX_BYTES } from '../store/log-text.ts';
import { InstancePool } from '../runtime/pool.ts';
import type { Instance } from '../runtime/instance.ts';
import { idleToSwapOut } from '../../core/machine/swapper.ts';
import type { Executor } from './machine-driver.ts';
import type { PageResult, Pager } from '../runtime/pager.ts';
import { capabilities } from '../runtime/capabilities.ts';
import type { RefusedRequest } from '../runtime/runtime-api.ts';
import type { StemCell } from '../runtime/stem-cell.ts';
import { machineStemCells, type StemCells } from '../runtime/stem-cells.ts';
import { ChurnMap, ChurnSet } from '../../core/util/churn-map.ts';

/** May this process give its instances a lower nice value (root or CAP_SYS_NICE)? Tries one step on itself and undoes it. */
export function canRaisePriority(): boolean {
  const own = getPriority(0);
  try {
    setPriority(0, own - 1);
  } catch {
    return false;
  }
  setPriority(0, own);
  return true;
}

export interface LocalExecutorOptions {
  readonly cores: number;
  readonly prices: PriceTable;
  /** Kernel priorities by class (false for class-blind policies). */
  readonly classAware: boolean;
  /** SCHED_FIFO by class instead of SCHED_IDLE for the cheapest class only. */
  readonly strictPriorities: boolean;
  /** Instances may get a lower nice value than Fare's (see canRaisePriority). */
  readonly canRaise: boolean;
  /** Security events worth an operator's attention. */
  readonly warn: (line: string) => void;
  /** Carries out the machine scheduler's swap decisions (none: they are only counted). */
  readonly pager?: Pager;
  /** Each page-out or page-in done, with what moved. */
  readonly onSwap?: (dir: 'out' | 'in', requestId: string, r: PageResult) => void;
  /** Each page-out or page-in of an idle instance (`what` names its function). */
  readonly onIdleSwap?: (dir: 'out' | 'in', what: string, r: PageResult) => void;
  /** The functions' cpuset (`cgroup.procs`), which every instance joins; none: they run on any CPU. */
  readonly cpuset?: string;
  /** Variables of the platform every function gets (AWS_REGION, FARE_ENDPOINT, …), read at each launch. */
  readonly platformEnv?: () => Readonly<Record<string, string>>;
  /**
   * Keep stem cells (runtime/stem-cells.ts) where the machine allows them: `memoryFree` is the
   * fraction of the managed memory free now; `off` turns them off (`--no-stem-cells`). None: no stem cells.
   */
  readonly stemCells?: { readonly memoryFree?: () => number; readonly off?: boolean };
}

/**
 * The pool and an Executor over it; `leaving()`: memory (MB) of instances being paged out now — still
 * resident, but on its way to swap (a reading of the machine's memory counts it until it is gone).
 */
export function localExecutor(opts: LocalExecutorOptions): {
  pool: InstancePool;
  exec: Executor;
  leaving: () => number;
  relieveIdle: (usedMB: number, targetMB: number) => number;
  /** The stem cells, when kept (the owner calls `adjust()` every second or so), and the start-up line about them. */
  stems: StemCells<StemCell> | null;
  stemLine: string | undefined;
} {
  const classOf = new ChurnMap<string, number>();
  const pager = opts.pager;
  let leavingMB = 0;
  // One paging at a time per instance, in the order decided (a swap-in after its swap-out).
  const idleChains = new Map<Instance, Promise<void>>();
  const pageIdle = (dir: 'out' | 'in', instance: Instance, what: string, mb: number): Promise<void> => {
    if (pager === undefined) return Promise.resolve();
    instance.swappedOut = dir === 'out';
    leavingMB += mb;
    const next = (idleChains.get(instance) ?? Promise.resolve()).then(async () => {
      const pids = instance.processes();
      if (pids.length === 0 || instance.state === 'dead') return;
      const r = dir === 'out' ? await pager.pageOut(pids) : await pager.pageIn(pids);
      opts.onIdleSwap?.(dir, what, r);
    }).finally(() => {
      leavingMB -= mb;
    }).catch((e: unknown) => opts.warn(`fare: paging ${dir} an idle instance of ${what} failed: ${(e as Error).message}`)).finally(() => {
      if (idleChains.get(instance) === next) idleChains.delete(instance);
    });
    idleChains.set(instance, next);
    return next;
  };
  const late: { pool?: InstancePool } = {};
  const onRefused = (instance: string, r: RefusedRequest): void => opts.warn(`fare: refused ${r.method} ${r.path} on the Runtime API of instance ${instance} (${r.reason}; peer ${r.remoteAddress}:${r.remotePort}, found by ${r.mechanism})`);
  const { stems, line: stemLine } = opts.stemCells === undefined
    ? { stems: null, line: undefined }
    : machineStemCells({
      caps: capabilities(), onRefused,
      lastActivity: () => late.pool?.lastActivity ?? -Infinity,
      ...(opts.cpuset !== undefined ? { sharedGroups: [opts.cpuset] } : {}),
      ...(opts.stemCells.memoryFree !== undefined ? { memoryFree: opts.stemCells.memoryFree } : {}),
      ...(opts.stemCells.off !== undefined ? { off: opts.stemCells.off } : {}),
    });
  const priorityOpts = { strict: opts.strictPriorities, canRaise: opts.canRaise };
  /** Invocations waiting on I/O at a lowered kernel priority, and their instances; instances so lowered until their class's priority is back. */
  const lowered = new ChurnMap<string, Instance>();
  const loweredInstances = new ChurnSet<Instance>();
  const pool = new InstancePool({
    ...(stems !== null ? { stems } : {}),
    ...(pager !== undefined ? { swapIn: (instance: Instance) => pageIdle('in', instance, `${instance.fn.tenant}/${instance.fn.name} (class ${instance.fn.cls})`, 0) } : {}),
    maxInstances: Math.max(64, opts.cores * 32),
    idleTimeoutMs: 10 * 60_000,
    // An invocation's output is kept up to what its stored log entry holds (`fare logs NAME`), less room for START/END/REPORT.
    instanceOptions: {
      logTailBytes: LOG_TEXT_MAX_BYTES - 1024,
      ...(opts.cpuset !== undefined ? { sharedGroups: [opts.cpuset] } : {}),
      ...(opts.platformEnv !== undefined ? { platformEnv: opts.platformEnv } : {}),
      onRefused,
    },
    onStart: (requestId, instance) => {
      // Kernel priorities as an assist to the machine scheduler (only where classes matter on the machine).
      if (!opts.classAware) return;
      const cls = classOf.get(requestId);
      if (cls === undefined) return;
      // An instance whose last invocation ended while waiting on I/O is still at the lowered priority.
      applyKernelPriority(instance, kernelPriority(cls, opts.prices.classes.length, priorityOpts), loweredInstances.delete(instance));
    },
  });
  late.pool = pool;
  const exec: Executor = {
    run: async (req) => {
      classOf.set(req.requestId, req.cls);
      try {
        return await pool.invoke(req);
      } finally {
        // Ended while waiting on I/O: its instance gets its class's priority back for whoever it serves next.
        // (Unless its instance serves another already, which set its own.)
        const inst = lowered.get(req.requestId);
        lowered.delete(req.requestId);
        if (inst !== undefined && loweredInstances.delete(inst)) applyKernelPriority(inst, kernelPriority(req.cls, opts.prices.classes.length, priorityOpts), true);
        classOf.delete(req.requestId);
      }
    },
    pause: (id) => pool.pause(id),
    resume: (id) => pool.resume(id),
    // A started instance has used some CPU: 0 is a reading that failed (its cgroup just went), not a measure.
    cpuMs: (id) => {
      const ms = pool.instanceFor(id)?.cpuTimeMs() ?? 0;
      return ms > 0 ? ms : undefined;
    },
    sleepsOnIo: (id) => pool.instanceFor(id)?.sleepsOnIo(),
    // While it waits on I/O its class's kernel priority drops (core/kernel-priority.ts), and comes back when it has a core again.
    ioWait: (id, waiting) => {
      const cls = classOf.get(id);
      const inst = pool.instanceFor(id);
      if (!opts.classAware || cls === undefined || inst === null) return;
      const own = kernelPriority(cls, opts.prices.classes.length, priorityOpts);
      const low = waitingKernelPriority(cls, opts.prices.classes.length, priorityOpts);
      if (low.kind === own.kind) return; // the top class, the lowest (SCHED_IDLE already), or no way back
      if (waiting) {
        lowered.set(id, inst);
        loweredInstances.add(inst);
      } else {
        if (!lowered.delete(id)) return;
        loweredInstances.delete(inst);
      }
      applyKernelPriority(inst, waiting ? low : own, !waiting);
    },
  };
  if (pager !== undefined) {
    // One paging at a time per invocation, in the order decided (a swap-in after its swap-out).
    const chains = new Map<string, Promise<void>>();
    const page = (dir: 'out' | 'in', id: string): void => {
      const prev = chains.get(id) ?? Promise.resolve();
      // Measured (and billed) by its processes' resident memory while out: see Instance.probe.
      const inst = pool.instanceFor(id);
      if (inst !== null) inst.swappedOut = dir === 'out';
      // Counted as leaving from the decision on: the machine's next reading must not count it again.
      const mb = dir === 'out' ? pool.residentMB(id) : 0;
      leavingMB += mb;
      const next = prev.then(async () => {
        const pids = pool.processesOf(id);
        if (pids.length === 0) return;
        const r = dir === 'out' ? await pager.pageOut(pids) : await pager.pageIn(pids);
        opts.onSwap?.(dir, id, r);
      }).finally(() => {
        leavingMB -= mb;
      }).catch((e: unknown) => opts.warn(`fare: paging ${dir} the instance of ${id} failed: ${(e as Error).message}`)).finally(() => {
        if (chains.get(id) === next) chains.delete(id);
      });
      chains.set(id, next);
    };
    exec.swapOut = (id) => page('out', id);
    exec.swapIn = (id) => page('in', id);
  }
  /**
   * Under pressure, idle instances go to swap first (core: idleToSwapOut): returns the memory (MB)
   * that started leaving, for the reading that asked to count as gone.
   */
  const relieveIdle = (usedMB: number, targetMB: number): number => {
    if (pager === undefined || usedMB <= targetMB) return 0;
    const idle = pool.idleInstances();
    const classIndex = new Map(opts.prices.classes.map((c, i) => [c.name, i]));
    const cands = idle.map((x, id) => ({ id, cls: classIndex.get(x.fn.cls) ?? opts.prices.classes.length - 1, mb: x.instance.memoryBytes() / 2 ** 20, idleSince: x.idleSince }));
    let mb = 0;
    for (const id of idleToSwapOut(cands, usedMB, targetMB)) {
      const x = idle[id];
      const c = cands[id];
      if (x === undefined || c === undefined) continue;
      pool.markSwappedOut(x.instance);
      mb += c.mb;
      void pageIdle('out', x.instance, `${x.fn.tenant}/${x.fn.name} (class ${x.fn.cls})`, c.mb);
    }
    return mb;
  };
  return { pool, exec, leaving: () => leavingMB, relieveIdle, stems, stemLine };
}

/**
 * Sets an instance's kernel priority (best-effort, as Instance.setPriority). `fromIdle`: it may be
 * SCHED_IDLE now (an I/O wait), which a nice value alone would keep; SCHED_OTHER is set first.
 */
function applyKernelPriority(instance: Instance, p: KernelPriority, fromIdle: boolean): void {
  switch (p.kind) {
    case 'fifo':
      void instance.setPriority('fifo', p.priority);
      break;
    case 'idle':
      void instance.setPriority('idle');
      break;
    case 'nice':
      if (fromIdle) void instance.setPriority('normal').then(() => instance.setPriority('nice', p.nice));
      else void instance.setPriority('nice', p.nice);
      break;
    case 'none':
      if (fromIdle) void instance.setPriority('normal');
      break;
  }
}
