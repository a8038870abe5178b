// What /proc and the file system say about processes and executables: the fallbacks used when no
// cgroup is writable (CPU time of a process group, resident memory of a process), and the search for
// interpreters that the unprivileged user can actually run.

import { accessSync, constants, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** Whether a process exists (also one we may not signal). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A user to run function code as. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

interface StatFields {
  readonly pgrp: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function parseStat(text: string): StatFields | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // After ") ": state(3) ppid(4) pgrp(5) session(6) tty(7) tpgid(8) flags(9) minflt(10) cminflt(11)
  // majflt(12) cmajflt(13) utime(14) stime(15) cutime(16) cstime(17)
  const f = text.slice(close + 2).split(' ');
  const n = (i: number): number => Number(f[i - 3] ?? 'NaN');
  const ticks = n(14) + n(15) + n(16) + n(17);
  const pgrp = n(5);
  return Number.isFinite(ticks) && Number.isFinite(pgrp) ? { pgrp, ticks } : null;
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Pids whose process group is `pgid` (the instance's process tree, unless a process left it). */
export function processGroupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const s = readOr(`/proc/${name}/stat`);
    const f = s === null ? null : parseStat(s);
    if (f && f.pgrp === pgid) out.push(Number(name));
  }
  return out;
}

/** State letter (R, S, D, T, Z, …) of a process and its pid in its own pid namespace, or null once it is gone. */
export function processState(pid: number): { readonly state: string; readonly nsPid: number } | null {
  const s = readOr(`/proc/${pid}/status`);
  if (s === null) return null;
  const state = /^State:\s+(\S)/m.exec(s)?.[1] ?? '?';
  const ns = /^NSpid:\s+([\d\s]+)$/m.exec(s)?.[1]?.trim().split(/\s+/) ?? [];
  return { state, nsPid: Number(ns.at(-1) ?? pid) };
}

/**
 * Whether every process in `pids` sleeps interruptibly (its main thread in state S or I: waiting on
 * a socket, a timer, a child), so that none computes (R), waits for a core (R) or for memory or the
 * disk (D: a page fault on swap, a reclaim). Undefined when none of them could be read.
 */
export function allSleeping(pids: readonly number[]): boolean | undefined {
  let seen = false;
  for (const pid of pids) {
    const state = statFields(pid)?.[0];
    if (state === undefined) continue;
    if (state === 'Z' || state === 'X') continue;
    seen = true;
    if (state !== 'S' && state !== 'I') return false;
  }
  return seen ? true : undefined;
}

/** CPU time (ns) of every process in a process group, including its waited-for children. */
export function processGroupCpuNs(pgid: number, clockTicks: number): number {
  let ticks = 0;
  for (const pid of processGroupPids(pgid)) {
    const s = readOr(`/proc/${pid}/stat`);
    const f = s === null ? null : parseStat(s);
    if (f) ticks += f.ticks;
  }
  return (ticks * 1e9) / clockTicks;
}

/** Resident memory of every process in a process group (bytes): the instance's tree, sandbox helper included. */
export function processGroupResidentBytes(pgid: number): number {
  let sum = 0;
  for (const pid of processGroupPids(pgid)) sum += residentBytes(pid);
  return sum;
}

/** Resident set size of one process in bytes (0 once it is gone). */
export function residentBytes(pid: number): number {
  const s = readOr(`/proc/${pid}/status`);
  if (s === null) return 0;
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
  return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
}

/**
 * The fields of /proc/PID/stat (a thread's too) from field 3 (state) on — field N is at index N − 3 —
 * read after the command, which may hold spaces and parentheses; null once the process is gone.
 */
export function statFields(pid: number): string[] | null {
  const s = readOr(`/proc/${pid}/stat`);
  const close = s === null ? -1 : s.lastIndexOf(')');
  return s === null || close < 0 ? null : s.slice(close + 2).split(' ');
}

/** Scheduling policy number of a thread (0 OTHER, 1 FIFO, 2 RR, 3 BATCH, 5 IDLE), or null. */
export function schedPolicy(pid: number): number | null {
  const f = statFields(pid);
  const v = Number(f?.[41 - 3]);
  return f !== null && Number.isFinite(v) ? v : null;
}

/** Whether `who` may search (x) a directory or execute a file, judged from its mode bits. */
function permits(path: string, who: RunAs): boolean {
  const st = statSync(path);
  if (who.uid === 0) return (st.mode & 0o111) !== 0 || st.isDirectory();
  if (st.uid === who.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === who.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * Whether `who` can run the executable at `path`: the file and every directory above it (after
 * resolving links) must allow it. `null` means "as this process".
 */
export function executableBy(path: string, who: RunAs | null): boolean {
  try {
    if (who === null) {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    }
    const real = realpathSync(path);
    if (!statSync(real).isFile() || !permits(real, who)) return false;
    for (let d = dirname(real); ; d = dirname(d)) {
      if (!permits(d, who)) return false;
      if (d === '/') return true;
    }
  } catch {
    return false;
  }
}

/**
 * The first `name` on PATH (then in `extra` directories) that `who` can execute, resolved to a real
 * path so that a shim in a private directory is not chosen for another user.
 */
export function findExecutable(name: string, who: RunAs | null, extra: readonly string[] = ['/usr/local/bin', '/usr/bin', '/bin']): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...extra];
  for (const d of dirs) {
    const p = join(d, name);
    if (executableBy(p, who)) return who === null ? p : realpathSync(p);
  }
  return null;
}
