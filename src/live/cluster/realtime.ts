// `--realtime`: a part of the cluster (gateway, shard, worker) or the NATS server it talks through
// runs under SCHED_RR above every function instance (the core's rule, `partPriority`), so that a
// message between the parts is handled the moment it comes instead of waiting for a CPU behind
// whatever else runs. On this 2-core machine it halves the tail of a job's way from gateway to
// worker (bench/cluster.ts, `schedulingRealtime`). The price: a part's own work, however much of it
// comes, goes before the functions on its host (the kernel keeps a share of each CPU for others).
// Fare's parts take SCHED_RESET_ON_FORK with it: an instance a worker starts is never real-time.

import { partPriority } from '../../core/kernel-priority.ts';
import { realtimeLimit, runRealtime } from '../runtime/priority.ts';
import { findExecutable } from '../runtime/proc.ts';

export interface RealtimeResult {
  readonly ok: boolean;
  /** For the operator: what was set and what the kernel leaves to others, or why nothing was. */
  readonly line: string;
}

/**
 * Puts process `pid` (this one, by default) under the parts' real-time priority for a price table
 * of `classes` classes. `resetOnFork` false only for a process that starts no others and makes its
 * threads as it goes (the NATS server: its new threads must stay real-time).
 */
export async function goRealtime(classes: number, pid: number = process.pid, resetOnFork = true): Promise<RealtimeResult> {
  const { priority } = partPriority(classes);
  const r = await runRealtime(pid, priority, findExecutable('chrt', null), resetOnFork);
  if (!r.ok) return { ok: false, line: `--realtime: could not run under SCHED_RR ${priority}: ${r.detail}; it runs at normal priority` };
  return { ok: true, line: `Scheduling: ${r.detail}, above every function instance${resetOnFork ? ' (the processes it starts begin under SCHED_OTHER)' : ''}; ${realtimeLimit()}` };
}
