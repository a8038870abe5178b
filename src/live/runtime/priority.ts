// Kernel scheduling priority of an instance's processes — mechanism only: which class gets which
// priority is the core's rule (`core/kernel-priority.ts`), carried out by the live driver. SCHED_IDLE, SCHED_FIFO
// and SCHED_OTHER go through `chrt -a -p` on every process of the instance (all its threads); a nice
// value through setpriority(2) on every thread of every process (on Linux a nice value is per
// thread). Best-effort: a failure is reported, never thrown. The policy last set is remembered, so
// a warm instance asked again for the same one costs no processes.

import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
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

/** The processes a priority is set on. */
export interface PriorityTarget {
  /** Path of `chrt` (null: the machine has none, and only nice values can be set). */
  readonly chrt: string | null;
  /** Every process of the instance now, or null when it has no running process. */
  processes(): readonly number[] | null;
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
    const what = kind === 'idle' ? 'SCHED_IDLE' : kind === 'fifo' ? `SCHED_FIFO ${prio}` : 'SCHED_OTHER';
    return failures.length === 0
      ? { ok: true, detail: `${what} on ${targets.length} process(es)` }
      : { ok: false, detail: `${what} failed on ${failures.length}/${targets.length}: ${failures.join('; ')}` };
  }
}

/** Nice value of every thread of every process of the instance (setpriority is per thread on Linux). */
function niceAll(target: PriorityTarget, nice: number): PriorityResult {
  const targets = target.processes();
  if (targets === null) return { ...NO_PROCESS };
  let threads = 0;
  const failures: string[] = [];
  for (const p of targets) {
    let tids: number[];
    try {
      tids = readdirSync(`/proc/${p}/task`).map(Number);
    } catch {
      tids = [p];
    }
    for (const t of tids) {
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
