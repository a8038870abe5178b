// Kernel priorities by price class: how the operating system's scheduler is asked to favour an
// instance serving class `cls`, as an assist to the machine scheduler (which decides who runs; the
// kernel only arbitrates between what it lets run). Pure: the driver says whether strict priorities
// were asked for and whether it may raise a process's priority, and carries out the answer.
//
// - strict: SCHED_FIFO for every class, 10 per class above the lowest (the lowest gets 10, the top
//   10 × the number of classes), never below 1;
// - otherwise the lowest class runs SCHED_IDLE (it gets a core only when nothing else wants it);
// - the others get nice values from −5 (top class) rising to 0 just above the lowest, when the
//   driver may lower a nice value (root or CAP_SYS_NICE); else they are left as they are;
// - while a job waits on I/O (it gave its core up), every class but the top runs SCHED_IDLE, so that
//   when it wakes it takes no CPU from the job on its core before the machine hears it computes again
//   (the top class keeps its priority: it would preempt that job anyway). Only where the driver may
//   raise a priority again afterwards.
// - Fare's own parts (gateway, shard, worker, and the NATS server between them), where an operator
//   asks for it (`--realtime`): SCHED_RR one step above the highest priority any instance can have,
//   so a message between the parts is handled as soon as it comes, whatever the functions compute.

import type { ClassIndex } from './types.ts';

export type KernelPriority =
  /** SCHED_FIFO at `priority` (1…99 on Linux). */
  | { readonly kind: 'fifo'; readonly priority: number }
  /** SCHED_IDLE. */
  | { readonly kind: 'idle' }
  /** SCHED_OTHER at nice value `nice`. */
  | { readonly kind: 'nice'; readonly nice: number }
  /** Leave it as it is. */
  | { readonly kind: 'none' };

export interface KernelPriorityOptions {
  /** SCHED_FIFO by class instead of SCHED_IDLE for the lowest class and nice values for the others. */
  readonly strict: boolean;
  /** The driver may give a process a lower nice value than its own (root or CAP_SYS_NICE). */
  readonly canRaise: boolean;
}

/** Nice value of class `cls` above the lowest class `lowest`: −5 for the top class, rising to 0 just above the lowest. */
function classNice(cls: ClassIndex, lowest: ClassIndex): number {
  if (lowest <= 1) return -5;
  const n = Math.round((5 * (lowest - 1 - cls)) / (lowest - 1));
  return n === 0 ? 0 : -n;
}

/** The kernel priority of an instance serving class `cls` of `classes` (0 = the most expensive). */
export function kernelPriority(cls: ClassIndex, classes: number, opts: Readonly<KernelPriorityOptions>): KernelPriority {
  if (opts.strict) return { kind: 'fifo', priority: Math.max(1, 10 * (classes - cls)) };
  const lowest = classes - 1;
  if (cls === lowest) return { kind: 'idle' };
  if (opts.canRaise) return { kind: 'nice', nice: classNice(cls, lowest) };
  return { kind: 'none' };
}

/**
 * The kernel priority of an instance serving class `cls` while its job waits on I/O: SCHED_IDLE for
 * every class but the top, which keeps `kernelPriority`'s; unchanged where the driver could not give
 * the class's priority back (neither strict nor allowed to raise).
 */
export function waitingKernelPriority(cls: ClassIndex, classes: number, opts: Readonly<KernelPriorityOptions>): KernelPriority {
  if (cls === 0 || (!opts.strict && !opts.canRaise)) return kernelPriority(cls, classes, opts);
  return { kind: 'idle' };
}

/** The highest real-time priority Linux gives (SCHED_FIFO and SCHED_RR: 1…99). */
const MAX_RT_PRIORITY = 99;

/**
 * The kernel priority of Fare's own parts when they run real-time (`--realtime`): SCHED_RR, 10 above
 * the top class's SCHED_FIFO priority under strict priorities (so above every instance in every
 * mode), at most 99. Round robin, not FIFO: parts of one priority on one machine must take turns (a
 * busy part under SCHED_FIFO keeps its core from the others until it blocks).
 */
export function partPriority(classes: number): { readonly kind: 'rr'; readonly priority: number } {
  return { kind: 'rr', priority: Math.min(MAX_RT_PRIORITY, 10 * classes + 10) };
}
