// Kernel scheduling priority of an instance's processes — mechanism only: which class gets which
// priority is the core's rule (`core/kernel-priority.ts`), carried out by the live driver. SCHED_IDLE,
// SCHED_FIFO and SCHED_OTHER are set on every thread of every process of the instance: by
// sched_setscheduler(2) called in this process through koffi where it loads (`schedSetter`), else by
// `chrt -a -p` per process. Not `chrt` first: a child process is a fork of this one, and a fork of a
// process of ~150 MB stops its event loop for ~25 ms on the test machine (every invocation waits).
// A nice value goes through setpriority(2) on every thread (on Linux a nice value is per thread).
// Best-effort: a failure is reported, never thrown. The policy last set is remembered, so a warm
// instance asked again for the same one costs nothing.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { statFields } from './proc.ts';

/**
 * `idle`: SCHED_IDLE; `fifo`: SCHED_FIFO at `prio` (1…99); `normal`: SCHED_OTHER; `nice`:
 * SCHED_OTHER's nice value `prio` (−20…19), on every thread.
 */
export type PriorityKind = 'normal' | 'idle' | 'fifo' | 'nice';

export interface PriorityResult {
  ok: boolean;
  detail: string;
}

/**
 * Sets one thread's scheduling policy (at `prio` for SCHED_FIFO and SCHED_RR; `rr-reset`: SCHED_RR
 * with SCHED_RESET_ON_FORK); returns '' when done, else why not.
 */
export type SchedSetter = (tid: number, kind: 'normal' | 'idle' | 'fifo' | 'rr' | 'rr-reset', prio: number) => string;

/** The processes a priority is set on. */
export interface PriorityTarget {
  /** Path of `chrt` (null: the machine has none): used where `sched` is not given. */
  readonly chrt: string | null;
  /** Sets a policy without a child process (`schedSetter()`); without it, `chrt` does. */
  readonly sched?: SchedSetter | null;
  /** Every process of the instance now, or null when it has no running process. */
  processes(): readonly number[] | null;
}

const SCHED = { normal: 0, fifo: 1, rr: 2, idle: 5 } as const; // SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_IDLE (linux/sched.h)
/** A process or thread created by one with this flag starts under SCHED_OTHER at nice ≥ 0 (linux/sched.h). */
const SCHED_RESET_ON_FORK = 0x40000000;
const ESRCH = 3;

let setter: SchedSetter | null | undefined;
/** Why `setter` is null ('' when it is not). */
let setterWhy = '';

/**
 * sched_setscheduler(2) of this process's libc through koffi (loaded once), or null where koffi does
 * not load (it is an optional dependency) or the system is not Linux.
 */
export function schedSetter(): SchedSetter | null {
  if (setter !== undefined) return setter;
  setter = null;
  if (process.platform !== 'linux') {
    setterWhy = 'not Linux';
    return null;
  }
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const c = koffi.load(null); // this process: node links libc
    koffi.struct('fare_sched_param', { sched_priority: 'int' });
    const call = c.func('int sched_setscheduler(int pid, int policy, const fare_sched_param *param)') as (pid: number, policy: number, p: { sched_priority: number }) => number;
    setter = (tid, kind, prio) => {
      const policy = kind === 'rr-reset' ? SCHED.rr | SCHED_RESET_ON_FORK : SCHED[kind];
      if (call(tid, policy, { sched_priority: kind === 'fifo' || kind === 'rr' || kind === 'rr-reset' ? prio : 0 }) === 0) return '';
      const errno = koffi.errno();
      // A thread that ended meanwhile needs no priority.
      return errno === ESRCH ? '' : `errno ${errno}`;
    };
  } catch (e) {
    setter = null;
    setterWhy = `koffi did not load or bind it: ${(e as Error).message.split('\n')[0] ?? ''}`;
  }
  return setter;
}

/** Why `schedSetter()` is null, or '' when it is not. */
export function schedSetterUnavailable(): string {
  return schedSetter() === null ? setterWhy || 'unknown' : '';
}

const NO_PROCESS: PriorityResult = { ok: false, detail: 'the instance has no running process' };

/** One instance's kernel priority: sets it, and remembers what it last set. */
export class InstancePriority {
  readonly #target: PriorityTarget;
  /** Policy last set on every process of the instance (`kind/prio`), or null. */
  #current: string | null = null;

  constructor(target: PriorityTarget) {
    this.#target = target;
  }

  /** Sets `kind` (at `prio`) on every process of the instance, unless it is already so. */
  async set(kind: PriorityKind, prio = 1): Promise<PriorityResult> {
    // Already so: skip the chrt processes (a warm instance keeps its policy between invocations).
    const want = `${kind}/${prio}`;
    if (this.#current === want) return { ok: true, detail: 'unchanged' };
    const result = await this.#apply(kind, prio);
    this.#current = result.ok ? want : null;
    return result;
  }

  async #apply(kind: PriorityKind, prio: number): Promise<PriorityResult> {
    if (kind === 'nice') return niceAll(this.#target, prio);
    const sched = this.#target.sched;
    if (sched !== undefined && sched !== null) return schedAll(this.#target, sched, kind, prio);
    const chrt = this.#target.chrt;
    if (chrt === null) return { ok: false, detail: 'chrt not found' };
    const targets = this.#target.processes();
    if (targets === null) return { ...NO_PROCESS };
    const policy = kind === 'idle' ? ['--idle', '-a', '-p', '0'] : kind === 'fifo' ? ['--fifo', '-a', '-p', String(prio)] : ['--other', '-a', '-p', '0'];
    const failures: string[] = [];
    await Promise.all(
      targets.map(
        (p) =>
          new Promise<void>((resolve) => {
            execFile(chrt, [...policy, String(p)], { timeout: 2000 }, (err, _out, stderr) => {
              if (err) failures.push(`${p}: ${stderr.trim() || err.message}`);
              resolve();
            });
          }),
      ),
    );
    const what = policyName(kind, prio);
    return failures.length === 0
      ? { ok: true, detail: `${what} on ${targets.length} process(es)` }
      : { ok: false, detail: `${what} failed on ${failures.length}/${targets.length}: ${failures.join('; ')}` };
  }
}

/** The threads of process `p` (itself, if /proc cannot tell). */
function threadsOf(p: number): number[] {
  try {
    return readdirSync(`/proc/${p}/task`).map(Number);
  } catch {
    return [p];
  }
}

const policyName = (kind: 'normal' | 'idle' | 'fifo', prio: number): string => (kind === 'idle' ? 'SCHED_IDLE' : kind === 'fifo' ? `SCHED_FIFO ${prio}` : 'SCHED_OTHER');

/** A scheduling policy on every thread of every process of the instance, in this process. */
function schedAll(target: PriorityTarget, sched: SchedSetter, kind: 'normal' | 'idle' | 'fifo', prio: number): PriorityResult {
  const targets = target.processes();
  if (targets === null) return { ...NO_PROCESS };
  const failures: string[] = [];
  for (const p of targets) {
    const failed = threadsOf(p).map((t) => [t, sched(t, kind, prio)] as const).filter(([, why]) => why !== '');
    if (failed.length > 0) failures.push(`${p}: ${failed.map(([t, why]) => `thread ${t} ${why}`).join(', ')}`);
  }
  const what = policyName(kind, prio);
  return failures.length === 0
    ? { ok: true, detail: `${what} on ${targets.length} process(es)` }
    : { ok: false, detail: `${what} failed on ${failures.length}/${targets.length}: ${failures.join('; ')}` };
}

/** Nice value of every thread of every process of the instance (setpriority is per thread on Linux). */
function niceAll(target: PriorityTarget, nice: number): PriorityResult {
  const targets = target.processes();
  if (targets === null) return { ...NO_PROCESS };
  let threads = 0;
  const failures: string[] = [];
  for (const p of targets) {
    for (const t of threadsOf(p)) {
      try {
        setPriority(t, nice);
        threads++;
      } catch (e) {
        failures.push(`${t}: ${(e as Error).message}`);
      }
    }
  }
  return failures.length === 0
    ? { ok: true, detail: `nice ${nice} on ${threads} thread(s)` }
    : { ok: false, detail: `nice ${nice} failed on ${failures.length} thread(s): ${failures.slice(0, 3).join('; ')}` };
}

/**
 * Runs every thread of process `pid` (one of Fare's parts, or the NATS server it started) under
 * SCHED_RR at `priority`. With `resetOnFork` (SCHED_RESET_ON_FORK), a process it starts (a function's
 * instance, a runtime) begins under SCHED_OTHER, never real-time — and so does a thread it makes
 * later (the flag resets every clone): the ones that carry messages exist by then. Through koffi
 * where it loads, else `chrt`. Needs root or CAP_SYS_NICE; says why not, never throws.
 */
export async function runRealtime(pid: number, priority: number, chrt: string | null, resetOnFork = true): Promise<PriorityResult> {
  const what = `SCHED_RR ${priority}`;
  const sched = schedSetter();
  let tids: number[];
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return { ok: false, detail: `process ${pid} is not running` };
  }
  if (sched !== null) {
    const failed = tids.map((t) => [t, sched(t, resetOnFork ? 'rr-reset' : 'rr', priority)] as const).filter(([, why]) => why !== '');
    return failed.length === 0
      ? { ok: true, detail: `${what} on ${tids.length} thread(s)` }
      : { ok: false, detail: `${what} failed on ${failed.length}/${tids.length} thread(s): ${failed.slice(0, 3).map(([t, why]) => `thread ${t} ${why === 'errno 1' ? 'not permitted (needs root or CAP_SYS_NICE)' : why}`).join(', ')}` };
  }
  if (chrt === null) return { ok: false, detail: `neither koffi (${schedSetterUnavailable()}) nor chrt is available to set ${what}` };
  return new Promise((resolve) => {
    execFile(chrt, ['--rr', ...(resetOnFork ? ['--reset-on-fork'] : []), '-a', '-p', String(priority), String(pid)], { timeout: 2000 }, (err, _out, stderr) => {
      resolve(err ? { ok: false, detail: `${what} failed: ${stderr.trim() || err.message}` } : { ok: true, detail: `${what} (chrt)` });
    });
  });
}

/**
 * The scheduling of thread (or process) `tid`, from /proc/TID/stat: `policy` 0 SCHED_OTHER, 1
 * SCHED_FIFO, 2 SCHED_RR, 5 SCHED_IDLE (-1: unknown) and its real-time priority (0 when none).
 */
export function threadScheduling(tid: number): { policy: number; rtPriority: number } {
  // rt_priority is field 40, policy 41.
  const f = statFields(tid);
  return f === null ? { policy: -1, rtPriority: 0 } : { policy: Number(f[41 - 3]), rtPriority: Number(f[40 - 3]) };
}

/** What the kernel leaves to other work while real-time threads are busy, for an operator to read. */
export function realtimeLimit(): string {
  try {
    const runtime = Number(readFileSync('/proc/sys/kernel/sched_rt_runtime_us', 'utf8'));
    const period = Number(readFileSync('/proc/sys/kernel/sched_rt_period_us', 'utf8'));
    if (runtime < 0) return 'the kernel does not limit real-time threads (sched_rt_runtime_us -1): a busy part can keep its CPUs from everything else';
    return `the kernel leaves ${Math.round((1 - runtime / period) * 100)} % of each CPU to other work (sched_rt_runtime_us)`;
  } catch {
    return 'the kernel\'s limit on real-time threads is unknown';
  }
}
