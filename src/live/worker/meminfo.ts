// The machine's memory as the kernel reports it in /proc/meminfo: its total and what is available
// to new work without swapping (MemAvailable, and the swap cache: see parseMeminfo). The cluster's worker joins and leaves its shards'
// idle lists by it. Measuring each instance's memory (cgroups) is for the memory issue.

import { readFileSync } from 'node:fs';

export interface MachineMemory {
  readonly totalMB: number;
  readonly availableMB: number;
}

/** Parses /proc/meminfo's text (values in kB). */
export function parseMeminfo(text: string): MachineMemory | undefined {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const total = kb('MemTotal'), available = kb('MemAvailable');
  if (total === undefined || available === undefined) return undefined;
  // Pages written to swap stay in the swap cache until memory is short, and MemAvailable does not
  // count them; they are freed without any I/O, so they are available too.
  return { totalMB: total / 1024, availableMB: Math.min(total, available + (kb('SwapCached') ?? 0)) / 1024 };
}

/** This machine's memory now, or undefined where /proc/meminfo cannot be read. */
export function readMachineMemory(path = '/proc/meminfo'): MachineMemory | undefined {
  try {
    return parseMeminfo(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}
