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
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';

/**
 * `idle`: SCHED_IDLE; `fifo`: SCHED_FIFO at `prio` (1…99); `normal`: SCHED_OTHER; `nice`:
 * SCHED_OTHER's nice value `prio` (−20…19), on every thread.
 */
export type PriorityKind = 'normal' | 'idle' | 'fifo' | 'nice';

export interface PriorityResult {
  ok: boolean;
  detail: string;
}

/** Sets one thread's scheduling policy (at `prio` for SCHED_FIFO); returns '' when done, else why not. */
export type SchedSetter = (tid: number, kind: 'normal' | 'idle' | 'fifo', prio: number) => string;

/** The processes a priority is set on. */
export interface PriorityTarget {
  /** Path of `chrt` (null: the machine has none): used where `sched` is not given. */
  readonly chrt: string | null;
  /** Sets a policy without a child process (`schedSetter()`); without it, `chrt` does. */
  readonly sched?: SchedSetter | null;
  /** Every process of the instance now, or null when it has no running process. */
  processes(): readonly number[] | null;
}

const SCHED = { normal: 0, fifo: 1, idle: 5 } as const; // SCHED_OTHER, SCHED_FIFO, SCHED_IDLE (linux/sched.h)
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
      if (call(tid, SCHED[kind], { sched_priority: kind === 'fifo' ? prio : 0 }) === 0) return '';
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
