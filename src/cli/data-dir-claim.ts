// One Fare process per data directory. Two `fare up`s on one directory would run side by side,
// unknowingly sharing its database and files; two `fare cluster up`s would run two NATS servers on
// one JetStream store. The second is refused, saying which process holds the directory. (Pids are
// this PID namespace's: processes in other containers sharing the directory are not seen.)
//
// The claim is `<dir>/fare.pid`: the holder's pid, its start time as the kernel counts it (field 22
// of /proc/PID/stat) and its command, made atomically (a hard link, which fails if the name exists).
// A process killed with kill -9 leaves it behind: a claim whose process is gone, or whose pid now
// belongs to another process (another start time), is taken over. Released at exit.

import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { statFields } from '../live/runtime/proc.ts';

const CLAIM = 'fare.pid';

interface Holder {
  readonly pid: number;
  readonly started: string;
  readonly command: string;
  readonly since: string;
}

/** The kernel's start time of process `pid` (field 22, clock ticks since boot), or undefined if it is gone (a zombie too). */
function startTime(pid: number): string | undefined {
  const f = statFields(pid);
  return f === null || f[0] === 'Z' || f[0] === 'X' ? undefined : f[22 - 3];
}

function holderOf(file: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.started === 'string' ? { pid: h.pid, started: h.started, command: String(h.command ?? 'fare'), since: String(h.since ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claims `dir` (created if missing) for this process running `command` (e.g. `fare up`), or throws
 * FARE_E_DATA_DIR_IN_USE naming the process that holds it. Claiming a directory this process holds
 * already succeeds (in-process restarts).
 */
export function claimDataDir(dir: string, command: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, CLAIM);
  const me: Holder = { pid: process.pid, started: startTime(process.pid) ?? '', command, since: new Date().toISOString() };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(me)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, file);
        process.once('exit', () => release(file));
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const h = holderOf(file);
      if (h !== undefined && h.pid === process.pid && h.started === me.started) return;
      if (h !== undefined && startTime(h.pid) === h.started) {
        throw Object.assign(new Error(`the data directory ${dir} is in use by another ${h.command} (pid ${h.pid}${h.since !== '' ? `, since ${h.since}` : ''}): stop it, or give another --data-dir (FARE_E_DATA_DIR_IN_USE)`), { code: 'FARE_E_DATA_DIR_IN_USE' });
      }
      // Left by a process that is gone (or unreadable, half-written by one killed meanwhile): taken over.
      try {
        unlinkSync(file);
      } catch {
        // another start took it over first: the next attempt reads its claim
      }
    }
    throw Object.assign(new Error(`the data directory ${dir} could not be claimed (${file} keeps changing): is another Fare starting there? (FARE_E_DATA_DIR_IN_USE)`), { code: 'FARE_E_DATA_DIR_IN_USE' });
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // gone already
    }
  }
}

/** Removes the claim if it is still this process's. */
function release(file: string): void {
  const h = holderOf(file);
  if (h?.pid === process.pid && existsSync(file)) {
    try {
      unlinkSync(file);
    } catch {
      // gone already
    }
  }
}
