// The CPUs functions run on. With `--cores N` on a machine of more CPUs, every instance runs on the
// last N CPUs Fare may use, through a cgroup v1 cpuset of this Fare's own that each instance joins at
// launch (so a function cannot move itself elsewhere); the rest are left to Fare's own gateway, shard
// and runtime API. The pager pages from these CPUs too: reclaiming an instance's memory ends in TLB
// flushes sent to every CPU that instance ran on, and sent from another CPU to one running the top
// class they stop it (on a virtual machine, for milliseconds each); sent from the same CPUs they are
// local. Where there is no writable cpuset, instances run wherever the kernel puts them (said at start).

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from './proc.ts';

/** Parses a kernel CPU list ("0-3,6,8-9") into CPU numbers, ascending. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`not a CPU list: ${JSON.stringify(text)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let c = a; c <= b; c++) out.push(c);
  }
  return [...new Set(out)].sort((x, y) => x - y);
}

/** Formats CPU numbers as a kernel CPU list ("0-3,6"). */
export function formatCpuList(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && (s[j + 1] as number) === (s[j] as number) + 1) j++;
    parts.push(i === j ? String(s[i]) : `${String(s[i])}-${String(s[j])}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The CPUs this process may run on (its affinity, from /proc/self/status); null where unknown. */
export function allowedCpus(): number[] | null {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] !== undefined ? parseCpuList(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The CPUs for functions when `cores` of the `allowed` ones go to them: the last `cores`, or null
 * (no pinning) when they get them all.
 */
export function functionCpus(cores: number, allowed: readonly number[]): number[] | null {
  if (cores >= allowed.length) return null;
  return allowed.slice(allowed.length - cores);
}

/** Where the v1 cpuset controller is mounted (its root), or null. */
function cpusetRoot(): string | null {
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      // … mount-point … - cgroup cgroup rw,cpuset
      const f = line.split(' ');
      const dash = f.indexOf('-');
      if (dash < 0 || f[dash + 1] !== 'cgroup') continue;
      if (!(f[dash + 3] ?? '').split(',').includes('cpuset')) continue;
      const at = f[4];
      if (at !== undefined && f[3] === '/') return at;
    }
  } catch {
    // not Linux
  }
  return null;
}

const PARENT = 'fare';
const GROUP = /^functions-p(\d+)$/;

/** This Fare's cpuset for its functions: the `cgroup.procs` file each instance joins, and its CPUs. */
export interface FunctionCpuset {
  readonly cpus: readonly number[];
  readonly procsFile: string;
  /** Removes the group (once its instances are gone). */
  close(): void;
}

/**
 * Makes this process's cpuset for functions on `cpus` (`<cpuset>/fare/functions-p<pid>`), after
 * removing the empty ones of Fares that died. Returns why not where it cannot.
 */
export function openFunctionCpuset(cpus: readonly number[], root: string | null = cpusetRoot()): { ok: true; set: FunctionCpuset } | { ok: false; why: string } {
  if (root === null) return { ok: false, why: 'no cgroup v1 cpuset controller is mounted' };
  const parent = join(root, PARENT);
  try {
    const mems = readFileSync(join(root, 'cpuset.mems'), 'utf8').trim();
    if (!existsSync(parent)) {
      mkdirSync(parent);
      // A v1 cpuset starts empty: it must be given CPUs and memory nodes before anything joins it.
      writeFileSync(join(parent, 'cpuset.cpus'), readFileSync(join(root, 'cpuset.cpus'), 'utf8').trim());
      writeFileSync(join(parent, 'cpuset.mems'), mems);
    }
    for (const name of readdirSync(parent)) {
      const m = GROUP.exec(name);
      if (m === null || alive(Number(m[1]))) continue;
      try {
        rmdirSync(join(parent, name));
      } catch {
        // still has processes (they are killed with their instance groups)
      }
    }
    const dir = join(parent, `functions-p${process.pid}`);
    if (!existsSync(dir)) mkdirSync(dir);
    writeFileSync(join(dir, 'cpuset.cpus'), formatCpuList(cpus));
    writeFileSync(join(dir, 'cpuset.mems'), mems);
    return {
      ok: true,
      set: {
        cpus: [...cpus],
        procsFile: join(dir, 'cgroup.procs'),
        close: () => {
          try {
            rmdirSync(dir);
          } catch {
            // processes still in it: the next Fare removes it
          }
        },
      },
    };
  } catch (e) {
    return { ok: false, why: `the cpuset ${parent} cannot be set up (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; needs root)` };
  }
}
