// How a worker manages its machine's memory (the paper's third challenge), set up once at start:
// how much memory the machine scheduler manages, how it measures what is used (the machine, from
// /proc/meminfo) and what each instance holds (its cgroup, else its processes' resident memory),
// and whether it can swap out the lowest classes (the pager, and swap to page to). The policy — when
// to swap and whom — is the core's (Machine, swapper.ts); this is its mechanism and its report.

import type { InstancePool } from '../runtime/pool.ts';
import { openPager, swapTotalBytes, type PageResult, type Pager } from '../runtime/pager.ts';
import type { MemoryProbe } from './machine-driver.ts';
import { readMachineMemory } from './meminfo.ts';
import { watchMemoryStalls } from './psi.ts';

/** Swap out when less than this fraction of the managed memory is free (the low mark)… */
export const LOW_MARK = 0.1;
/** …until resident memory is at most this fraction of the low mark's level (hysteresis). */
export const SWAP_TARGET = 0.95;
/** The machine's memory is read at most this often (ms): the driver asks after every step. */
const READ_EVERY_MS = 50;
/** An instance's memory read this recently is not read again for a placed job's report. */
const RECENT_MS = 10;

export interface MemoryPlan {
  /** The memory the machine scheduler manages (MB), or Infinity (not managed). */
  readonly managedMB: number;
  /** The level over which the core swaps out (MB): managedMB × (1 − LOW_MARK). */
  readonly capacityMB: number;
  readonly probe: MemoryProbe | undefined;
  /** The pager, where swapping is possible. */
  readonly pager: Pager | undefined;
  readonly swap: boolean;
  /** Lines for the start-up report. */
  readonly report: readonly string[];
}

export interface MemoryOptions {
  /**
   * Manage this much memory (MB) instead of the machine's own: what Fare's instances (and anything
   * started after Fare) use counts against it. For tests and for machines shared with other work.
   */
  readonly memoryMB?: number;
  /** Swap out the lowest classes under pressure (default true where possible). */
  readonly swapping?: boolean;
  /** The pool whose instances are measured (given once it exists). */
  readonly pool: () => InstancePool;
  /** Memory being paged out now (MB): not counted as used (it is leaving; see localExecutor). */
  readonly leaving?: () => number;
  /** Over the level: swaps out idle instances down to `targetMB` first; returns the MB that started leaving (localExecutor). */
  readonly relieveIdle?: (usedMB: number, targetMB: number) => number;
  /** How instances' memory is accounted (the capabilities' line). */
  readonly accounting: string;
}

export async function planMemory(o: MemoryOptions): Promise<MemoryPlan> {
  const mem = readMachineMemory();
  if (mem === undefined) {
    return { managedMB: Infinity, capacityMB: Infinity, probe: undefined, pager: undefined, swap: false, report: ['memory: not managed (/proc/meminfo cannot be read): no swapping, instances measured for billing only'] };
  }
  const given = o.memoryMB !== undefined;
  const managedMB = o.memoryMB ?? mem.totalMB;
  // With --memory-mb, what was in use when Fare started is not counted (it is not Fare's).
  const baseline = given ? mem.totalMB - mem.availableMB : 0;
  let last = mem, lastAt = performance.now();
  // FARE_TRACE_MEMORY=1: each reading that moved by over 20 MB, on stderr.
  const trace = process.env.FARE_TRACE_MEMORY === '1';
  let traced = -Infinity;
  const capacityMB = managedMB * (1 - LOW_MARK);
  const probe: MemoryProbe = {
    relieve: (used) => o.relieveIdle?.(used, capacityMB * SWAP_TARGET) ?? 0,
    placed: () => 0,
    // A reading of the last 10 ms will do (the invocation meter's, as the function answered: it samples every 10 ms).
    resident: (id) => o.pool().residentMB(id, RECENT_MS),
    used: () => {
      const t = performance.now();
      if (t - lastAt > READ_EVERY_MS) {
        last = readMachineMemory() ?? last;
        lastAt = t;
      }
      const used = Math.max(0, last.totalMB - last.availableMB - baseline - (o.leaving?.() ?? 0));
      if (trace && Math.abs(used - traced) > 20) {
        traced = used;
        process.stderr.write(`memory: used ${Math.round(used)} MB (machine ${Math.round(last.totalMB - last.availableMB)} MB, baseline ${Math.round(baseline)} MB, leaving ${Math.round(o.leaving?.() ?? 0)} MB)\n`);
      }
      return used;
    },
  };
  const report = [`memory: manages ${Math.round(managedMB)} MB (${given ? '--memory-mb' : 'MemTotal'}; used = MemTotal − MemAvailable${given ? ' since start' : ''}, read every ${READ_EVERY_MS} ms); instances measured by ${o.accounting}`];
  let pager: Pager | undefined;
  let why: string | undefined;
  if (o.swapping === false) why = 'turned off (--no-swapping)';
  else if (swapTotalBytes() === 0) why = 'no swap on this machine (add a swap file or partition: swapon)';
  else {
    const p = await openPager();
    if (p.ok) pager = p.pager;
    else why = p.why;
  }
  report.push(pager !== undefined
    ? `swapping: idle instances, then the lowest classes' preempted ones, when over ${Math.round(capacityMB)} MB (under ${LOW_MARK * 100} % free), down to ${Math.round(capacityMB * SWAP_TARGET)} MB, by ${pager.how}; swap ${Math.round(swapTotalBytes() / 2 ** 20)} MB`
    : `swapping: off — ${why ?? 'unavailable'}`);
  return { managedMB, capacityMB, probe, pager, swap: pager !== undefined, report };
}

/** The operator's line for each paging an instance went through (it is worth knowing: memory ran short). */
export function swapLine(say: (line: string) => void): (dir: 'out' | 'in', requestId: string, r: PageResult) => void {
  const mb = (b: number): number => Math.round(b / 2 ** 20);
  return (dir, requestId, r) => {
    say(dir === 'out'
      ? `fare: memory pressure: swapped out the instance of invocation ${requestId}: ${mb(r.swapAfter - r.swapBefore)} MB to swap (resident ${mb(r.rssBefore)} → ${mb(r.rssAfter)} MB) in ${Math.round(r.ms)} ms`
      : `fare: swapped in the instance of invocation ${requestId} before it runs: ${mb(r.swapBefore)} MB read back ahead in ${Math.round(r.ms)} ms`);
  };
}

/** The operator's line for each paging of an idle instance (swapped out under pressure, read back before it serves again). */
export function idleSwapLine(say: (line: string) => void): (dir: 'out' | 'in', what: string, r: PageResult) => void {
  const mb = (b: number): number => Math.round(b / 2 ** 20);
  return (dir, what, r) => {
    say(dir === 'out'
      ? `fare: memory pressure: swapped out an idle instance of ${what}: ${mb(r.swapAfter - r.swapBefore)} MB to swap (resident ${mb(r.rssBefore)} → ${mb(r.rssAfter)} MB) in ${Math.round(r.ms)} ms`
      : `fare: swapped in an idle instance of ${what} before it serves again: ${mb(r.swapBefore)} MB read back ahead in ${Math.round(r.ms)} ms`);
  };
}

/**
 * Reads the machine's memory between the scheduler's steps: at once when the kernel says tasks stall
 * on memory (a PSI trigger, where there is one), and every `slowMs` besides; every `fastMs` where
 * there is no trigger. Returns the report line and how to stop.
 */
export async function followMemory(read: () => void, fastMs: number, slowMs: number): Promise<{ readonly line: string; stop(): void }> {
  const stalls = await watchMemoryStalls(read);
  const every = 'stop' in stalls ? slowMs : fastMs;
  const timer = setInterval(read, every);
  timer.unref();
  return {
    line: 'stop' in stalls
      ? `memory pressure: read at once on ${stalls.how}, and every ${every} ms besides`
      : `memory pressure: read every ${every} ms (no PSI trigger: ${stalls.why})`,
    stop: () => {
      clearInterval(timer);
      if ('stop' in stalls) stalls.stop();
    },
  };
}
