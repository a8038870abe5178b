// Scheduling receipts: what happened to one invocation, told by the parts it passed through — the
// gateway that accepted it (its class and why, its price and cost), the shard that queued it, and the
// machine that ran it (when it started, every stretch it waited on the machine and which classes the
// machine's cores ran meanwhile, every preemption with its length and the class that caused it, every
// swap). `checkReceipt` is the tenant's check, from the receipt alone: no job of a lower class held a
// core of the machine while this one waited there, and no lower class preempted it.
//
// What a receipt can prove and what it cannot (docs/receipts.md): it reports the machine scheduler's
// decisions as its driver carried them out, in the machine's own clock; it is not signed by a party the
// tenant trusts more than Fare, it does not show the kernel's CPU time of other tenants' processes, and a
// stopped process takes a moment (microseconds for SIGSTOP, up to a few ms for the cgroup freezer) to
// leave the CPU after the decision.
//
// Pure data and a pure check: no I/O, no clock.

import type { Placement } from './protocol.ts';

export const RECEIPT_VERSION = 1;

/** Core-milliseconds a machine gave one class (a class index of the price table). */
export interface ClassTime {
  readonly cls: number;
  readonly coreMs: number;
}

/** A stretch of time the job was on the machine without a core (it was placed, preempted or unblocked, and waited for a core). */
export interface WaitStretch {
  /** Since the job was placed on the machine (ms, the machine's clock). */
  readonly fromMs: number;
  readonly toMs: number;
  /** What began it: the job was placed here, preempted, or ended a wait (a call it made, or I/O: `unblocked`) and found no core. */
  readonly after: 'placed' | 'preempted' | 'unblocked';
  /** The machine's cores meanwhile: core-ms per class that ran (classes with none are left out), highest class first. */
  readonly ran: readonly ClassTime[];
}

export interface Preemption {
  /** Since placement (ms). */
  readonly atMs: number;
  /** How long until it ran again (ms; to its end if it never did). */
  readonly forMs: number;
  /** The highest class among the jobs the same decision ran (null: none ran, e.g. memory pressure). */
  readonly byClass: number | null;
}

export interface SwapEvent {
  readonly atMs: number;
  readonly dir: 'out' | 'in';
  readonly mb: number;
}

/** The machine's part, built by the machine's driver as it carries out the machine scheduler's decisions. */
export interface MachineReceipt {
  readonly machine: number;
  readonly cores: number;
  /** The shard that placed it, how, and how long the job had waited in its multi-queue (ms, the shard's clock). */
  readonly shard: number;
  readonly placement: Placement | null;
  readonly shardWaitMs: number;
  /** Placement on the machine, ms since the epoch (the machine's wall clock). */
  readonly placedAt: number;
  /** Since placement (ms); null if it never started. */
  readonly startedMs: number | null;
  readonly answeredMs: number | null;
  readonly doneMs: number;
  readonly waits: readonly WaitStretch[];
  readonly preemptions: readonly Preemption[];
  readonly swaps: readonly SwapEvent[];
  /** Swaps past the receipt's limit, counted only (its waits and preemptions past the limit are merged into the last kept). */
  readonly swapsLeftOut: number;
  /** Time it held no core because it waited for synchronous calls it made (ms). */
  readonly blockedMs: number;
  /** Time it held no core because it waited on I/O (a database, a service, a timer; ms). Absent: a receipt from before Fare saw I/O waits. */
  readonly ioWaitMs?: number;
}

/** Why an invocation ran at its class. */
export type ClassReason = 'own' | 'inherited' | 'degraded';

export interface ReceiptClass {
  /** The class it ran and was charged at (index in the price table, and name). */
  readonly index: number;
  readonly name: string;
  /** Its function's own class. */
  readonly ownIndex: number;
  readonly ownName: string;
  /**
   * `own`: its function's; `inherited`: raised to its caller's (a synchronous call within one tenant
   * with the caller's context); `degraded`: lowered to the cheapest by its owner's budget.
   */
  readonly why: ClassReason;
  /** The invocation whose context it inherited from. */
  readonly caller?: string;
}

/** The whole receipt of one execution (a sync invocation, or one attempt of an async one). */
export interface Receipt {
  readonly v: typeof RECEIPT_VERSION;
  readonly requestId: string;
  readonly attempt: number;
  readonly type: 'sync' | 'async';
  readonly tenant: string;
  readonly function: string;
  readonly functionVersion: number;
  readonly status: 'ok' | 'error';
  readonly class: ReceiptClass;
  /** The price table's class names, by index (the `cls` of waits and preemptions). */
  readonly classes: readonly string[];
  /** The gateway that sent it into the system; when the invocation was accepted, and when this execution was sent to its shard (ms since the epoch, the gateway's clock; an Event's attempt is sent when claimed). */
  readonly gateway: number;
  readonly acceptedAt: number;
  readonly sentAt: number;
  /** Seen by that gateway, since it sent the job (ms): started, answered, done (null: not heard). */
  readonly startedMs: number | null;
  readonly answeredMs: number | null;
  readonly doneMs: number;
  /** The machine's part (absent when the machine's report was lost; see docs/receipts.md). */
  readonly machine: MachineReceipt | null;
  /** µ¢ per CPU-second of its class, µ¢ per GB-second. */
  readonly price: { readonly cpuPerSecond: number; readonly memoryPerGBSecond: number };
  readonly cpuMs: number;
  readonly memGBs: number;
  readonly maxMemMB: number;
  readonly coldStart: boolean;
  readonly costMicroCents: number;
}

/**
 * Time the job held a core of its machine (ms): from its start to its answer (or its end), less the
 * stretches it waited after starting (preempted, or after a wait) and the time it gave its core up
 * for its own calls or for I/O. Undefined if it never started. The job's size as the machine scheduler
 * saw it: what a replay in the simulator runs it for.
 */
export function heldCoreMs(m: MachineReceipt): number | undefined {
  if (m.startedMs === null) return undefined;
  const end = m.answeredMs ?? m.doneMs;
  let off = m.blockedMs + (m.ioWaitMs ?? 0);
  for (const w of m.waits) if (w.after !== 'placed') off += Math.max(0, Math.min(w.toMs, end) - Math.max(w.fromMs, m.startedMs));
  return Math.max(0, end - m.startedMs - off);
}

/** One finding of `checkReceipt`. */
export interface ReceiptFinding {
  readonly kind: 'lower-class-ran' | 'preempted-by-lower-class' | 'inconsistent' | 'no-machine-report';
  readonly message: string;
}

export interface ReceiptVerdict {
  /** No lower class held a core of the machine while this job waited there, and none preempted it. */
  readonly ok: boolean;
  /** Time waited on the machine (ms) and core-ms the machine gave classes below this one meanwhile. */
  readonly waitedOnMachineMs: number;
  readonly lowerClassCoreMs: number;
  readonly findings: readonly ReceiptFinding[];
}

/** Tolerance for floating-point sums (core-ms). */
const EPS = 1e-6;

/**
 * The tenant's check of one receipt: while the job waited on its machine, did any class below its
 * own (a larger index) hold a core, and did one preempt it? Also checks the receipt against itself
 * (a stretch's core-ms cannot pass the machine's cores × its length).
 */
export function checkReceipt(r: Receipt): ReceiptVerdict {
  const findings: ReceiptFinding[] = [];
  const m = r.machine;
  if (m === null) {
    return { ok: false, waitedOnMachineMs: 0, lowerClassCoreMs: 0, findings: [{ kind: 'no-machine-report', message: 'the machine\'s part of this receipt was not received: nothing can be checked' }] };
  }
  const own = r.class.index;
  let waited = 0;
  let lower = 0;
  for (const w of m.waits) {
    const len = w.toMs - w.fromMs;
    waited += len;
    let total = 0;
    for (const t of w.ran) {
      total += t.coreMs;
      if (t.cls > own && t.coreMs > EPS) {
        lower += t.coreMs;
        findings.push({ kind: 'lower-class-ran', message: `class ${t.cls} ran ${t.coreMs.toFixed(3)} core-ms on machine ${m.machine} while this job (class ${own}) waited there, from ${w.fromMs.toFixed(3)} to ${w.toMs.toFixed(3)} ms after its placement` });
      }
    }
    if (len < -EPS || total > m.cores * len + EPS * (1 + m.cores * len)) {
      findings.push({ kind: 'inconsistent', message: `a wait from ${w.fromMs.toFixed(3)} to ${w.toMs.toFixed(3)} ms reports ${total.toFixed(3)} core-ms, more than machine ${m.machine}'s ${m.cores} cores can give in it` });
    }
  }
  for (const p of m.preemptions) {
    if (p.byClass !== null && p.byClass > own) {
      findings.push({ kind: 'preempted-by-lower-class', message: `preempted at ${p.atMs.toFixed(3)} ms by class ${p.byClass}, below its own class ${own}` });
    }
  }
  return { ok: findings.length === 0, waitedOnMachineMs: waited, lowerClassCoreMs: lower, findings };
}

/**
 * Per-class core time on one machine, integrated as jobs take and give up cores: the ledger the
 * machine's driver keeps to fill receipts. A waiting job notes `snapshot()` when it begins to wait
 * and `since(snapshot)` when it runs again: what each class was given meanwhile, in O(classes).
 */
export class CoreLedger {
  private readonly running: Int32Array;
  private readonly acc: Float64Array;
  private last = 0;

  constructor(readonly classes: number) {
    this.running = new Int32Array(classes);
    this.acc = new Float64Array(classes);
  }

  /** Brings the integrals to `now` (call before any change at `now`; an earlier `now` changes nothing). */
  advance(now: number): void {
    const dt = now - this.last;
    if (!(dt > 0)) return;
    const r = this.running, a = this.acc;
    for (let c = 0; c < r.length; c++) if (r[c] !== 0) a[c] = (a[c] as number) + (r[c] as number) * dt;
    this.last = now;
  }

  /** A job of class `cls` took a core (`+1`) or gave it up (`-1`). */
  change(cls: number, by: 1 | -1): void {
    if (cls < 0 || cls >= this.running.length) return;
    this.running[cls] = (this.running[cls] as number) + by;
  }

  /** Jobs of class `cls` on a core now. */
  onCores(cls: number): number {
    return this.running[cls] ?? 0;
  }

  snapshot(): Float64Array {
    return this.acc.slice();
  }

  /** Core-ms per class since `snap` (classes with none left out), highest class first. */
  since(snap: Float64Array): ClassTime[] {
    const out: ClassTime[] = [];
    for (let c = 0; c < this.acc.length; c++) {
      const d = (this.acc[c] as number) - (snap[c] as number);
      if (d > 0) out.push({ cls: c, coreMs: d });
    }
    return out;
  }
}
